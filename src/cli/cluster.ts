/**
 * `sluice start --workers N`: one process per core on a single machine. The primary owns the
 * embedded PostgreSQL (when there is no DATABASE_URL) and the migrations, then forks N workers
 * that share the listening socket; each worker is an ordinary Sluice process, coordinating with
 * the others through the database exactly as replicas on separate machines do. A worker that
 * dies is replaced; SIGTERM is passed on and waited for.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Settings } from '../config/settings';
import { createDatabase } from '../db/database';
import { startEmbeddedPostgres, type EmbeddedServer } from '../db/embedded-postgres';
import { migrate } from '../db/migrate';
import type { Logger } from '../log';

/** Runs the primary until SIGTERM/SIGINT and every worker has exited, then exits. */
export async function runClusterPrimary(settings: Settings, logger: Logger): Promise<never> {
  let embedded: EmbeddedServer | undefined;
  let databaseUrl = settings.databaseUrl;
  if (!databaseUrl) {
    embedded = await startEmbeddedPostgres(settings.dataDir, logger);
    databaseUrl = embedded.url;
  }
  // Workers migrate too (under the advisory lock); this run fails fast on an unreachable database
  // or a failing migration, where workers would die and be replaced in a loop.
  const database = createDatabase(databaseUrl, { poolSize: 1, logger });
  try {
    await migrate(database.pool);
  } finally {
    await database.close();
  }

  let stopping = false;
  const env = { DATABASE_URL: databaseUrl };
  const fork = (): Worker => cluster.fork(env);
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    logger.error({ pid: worker.process.pid, code, signal }, 'worker died; starting another');
    fork();
  });
  for (let i = 0; i < settings.workers; i++) fork();
  logger.info({ workers: settings.workers }, 'cluster started');

  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'signal received; stopping workers');
      process.off('SIGTERM', onSignal).off('SIGINT', onSignal);
      resolve();
    };
    process.on('SIGTERM', onSignal).on('SIGINT', onSignal);
  });
  stopping = true;
  const running = Object.values(cluster.workers ?? {}).filter(
    (worker): worker is Worker => !!worker,
  );
  await Promise.all(
    running.map(
      (worker) =>
        new Promise<void>((resolve) => {
          worker.once('exit', () => resolve());
          worker.process.kill('SIGTERM');
        }),
    ),
  );
  await embedded?.stop();
  logger.info('cluster stopped');
  // The primary's share of the listening socket can outlive the workers; nothing is left to do.
  process.exit(0);
}
