/**
 * The `sluice` command line:
 *   sluice start [--roles ...] [--workspace FILE] [--port N] [--workers N]
 *   sluice migrate
 *   sluice transform test FILE --events FILE [--json]
 *   sluice replay --dead-letters | --failed-events [--destination ID] [--ids 1,2]
 *   sluice warehouse sync [--destination ID]
 */
import cluster from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { loadSettings, parseRoles, type Settings } from '../config/settings';
import { createDatabase } from '../db/database';
import { startEmbeddedPostgres } from '../db/embedded-postgres';
import { migrate } from '../db/migrate';
import { SluiceError } from '../errors';
import { createLogger, type Logger } from '../log';
import { runClusterPrimary } from './cluster';
import { runReplay } from './replay-command';
import { runTransformTest } from './transform-command';
import { runWarehouseSync } from './warehouse-command';
import { startSluice } from './sluice-app';

const USAGE = `Usage:
  sluice start [--roles gateway,processor,router,warehouse] [--workspace FILE] [--port N] [--workers N]
  sluice migrate
  sluice transform test FILE --events EVENTS.json [--json] [--workspace FILE]
  sluice replay --dead-letters | --failed-events [--destination ID] [--ids 1,2,3]
  sluice warehouse sync [--destination ID]

Environment: DATABASE_URL (embedded PostgreSQL when unset), PORT, SLUICE_WORKSPACE,
SLUICE_LOG_LEVEL and the others listed in README.md.`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      roles: { type: 'string' },
      workspace: { type: 'string' },
      port: { type: 'string' },
      workers: { type: 'string' },
      events: { type: 'string' },
      json: { type: 'boolean' },
      'dead-letters': { type: 'boolean' },
      'failed-events': { type: 'boolean' },
      destination: { type: 'string' },
      ids: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (!command || values.help || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return command ? 0 : 2;
  }
  const settings = loadSettings(process.env, {
    roles:
      typeof values.roles === 'string'
        ? (parseRoles(values.roles) as Settings['roles'][number][])
        : undefined,
    workspaceFile: typeof values.workspace === 'string' ? values.workspace : undefined,
    port: typeof values.port === 'string' ? Number(values.port) : undefined,
    workers: typeof values.workers === 'string' ? Number(values.workers) : undefined,
  });
  const logger = createLogger(settings.logLevel);
  switch (command) {
    case 'start':
      return runStart(settings, logger);
    case 'migrate':
      return runMigrate(settings, logger);
    case 'transform': {
      const [subcommand, file] = positionals;
      if (subcommand !== 'test' || !file || !values.events)
        return usage('transform test needs FILE and --events');
      // The result says what failed and why; the sandbox's own log lines would only repeat it.
      return runTransformTest(
        { file, eventsFile: values.events, json: values.json === true },
        settings,
        createLogger('silent'),
      );
    }
    case 'replay': {
      if (values['dead-letters'] === values['failed-events']) {
        return usage('replay needs exactly one of --dead-letters and --failed-events');
      }
      const ids = values.ids?.split(',').map((id) => Number(id.trim()));
      if (ids?.some((id) => !Number.isInteger(id) || id <= 0))
        return usage('--ids takes numbers: 1,2,3');
      return runReplay(
        {
          what: values['dead-letters'] ? 'dead-letters' : 'failed-events',
          destinationId: values.destination,
          ids,
        },
        settings,
        logger,
      );
    }
    case 'warehouse': {
      if (positionals[0] !== 'sync') return usage('warehouse needs the subcommand sync');
      return runWarehouseSync({ destinationId: values.destination }, settings, logger);
    }
    default:
      process.stderr.write(`unknown command "${command}"\n${USAGE}\n`);
      return 2;
  }
}

/**
 * A local trial (the embedded database, no SLUICE_ADMIN_TOKEN) gets an admin token for this run,
 * so that the console opens at once, the way notebook servers print their URL with a token. With
 * DATABASE_URL set and no token, the console and admin API stay off. Set in the environment, so
 * that cluster workers share it.
 */
function trialToken(settings: Settings): string | undefined {
  if (settings.adminToken || settings.databaseUrl || cluster.isWorker) return undefined;
  const token = randomBytes(24).toString('base64url');
  process.env.SLUICE_ADMIN_TOKEN = token;
  return token;
}

/** Printed, not logged: the token is for the person who started Sluice, not for log storage. */
function printConsoleHint(url: string, token: string): void {
  process.stdout.write(
    `\nSluice console: ${url}/console#token=${token}\n` +
      '(a token for this run; set SLUICE_ADMIN_TOKEN to keep one)\n\n',
  );
}

function usage(problem: string): number {
  process.stderr.write(`sluice: ${problem}\n${USAGE}\n`);
  return 2;
}

async function runStart(given: Settings, logger: Logger): Promise<number> {
  const trial = trialToken(given);
  const settings = trial ? { ...given, adminToken: trial } : given;
  // Workers inherit --workers / SLUICE_WORKERS; only the primary forks.
  if (settings.workers > 1 && !cluster.isWorker) {
    if (trial) printConsoleHint(`http://localhost:${settings.port}`, trial);
    return runClusterPrimary(settings, logger);
  }
  const sluice = await startSluice(settings, logger);
  if (trial) printConsoleHint(sluice.url, trial);
  const source = sluice.workspace.current.sources.find((s) => s.enabled);
  if (source && (cluster.worker?.id ?? 1) === 1) {
    // The key itself stays out: logs are collected and kept where write keys do not belong.
    logger.info(
      `send a first event with source "${source.id}"'s write key: curl -u "$WRITE_KEY:" -d '{"userId":"user-1","event":"Hello Sluice"}' ${sluice.url}/v1/track`,
    );
  }
  await new Promise<void>((resolve) => {
    const onSignal = (signal: string) => {
      logger.info({ signal }, 'signal received');
      process.off('SIGTERM', onSignal).off('SIGINT', onSignal);
      resolve();
    };
    process.on('SIGTERM', onSignal).on('SIGINT', onSignal);
  });
  await sluice.stop();
  // A cluster worker's channel to the primary would keep it alive.
  cluster.worker?.disconnect();
  return 0;
}

async function runMigrate(settings: Settings, logger: Logger): Promise<number> {
  const embedded = settings.databaseUrl
    ? undefined
    : await startEmbeddedPostgres(settings.dataDir, logger);
  const database = createDatabase(settings.databaseUrl ?? embedded!.url, { poolSize: 2, logger });
  try {
    const applied = await migrate(database.pool);
    logger.info(
      { migrations: applied },
      applied.length ? 'database migrated' : 'database up to date',
    );
    return 0;
  } finally {
    await database.close();
    await embedded?.stop();
  }
}

/** Runs the command line and sets the exit code; the entry point of bin/sluice. */
export function run(argv: string[]): void {
  main(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      // One plain sentence for the person at the terminal; the stack only when asked for.
      const debug = process.env.SLUICE_LOG_LEVEL === 'debug';
      const message =
        error instanceof SluiceError || !debug
          ? ((error as Error)?.message ?? String(error))
          : ((error as Error)?.stack ?? String(error));
      process.stderr.write(`sluice: ${message}\n`);
      process.exitCode = 1;
    },
  );
}

if (require.main === module) run(process.argv.slice(2));
