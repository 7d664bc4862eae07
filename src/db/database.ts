/**
 * The connection pool and the Kysely instance built on it. The composition root creates one
 * shared by the stages of a process, and the router its own (with its own session settings, see
 * cli/sluice-app.ts); each stage receives its pool from there.
 */
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Tables } from './tables';

// Return int8 (bigint ids, counts) as strings is pg's default; parse them as numbers where they
// fit, since ids stay far below 2^53 and strings would leak into every caller.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => {
  const parsed = Number(value);
  return Number.isSafeInteger(parsed) ? parsed : value;
});

export interface Database {
  readonly pool: pg.Pool;
  readonly db: Kysely<Tables>;
  close(): Promise<void>;
}

export function createDatabase(
  connectionString: string,
  options: {
    poolSize: number;
    logger: Logger;
    applicationName?: string;
    /** Settings every connection of the pool starts with (SET name = value). */
    sessionSettings?: Record<string, string>;
  },
): Database {
  const pool = new pg.Pool({
    connectionString,
    max: options.poolSize,
    application_name: options.applicationName ?? 'sluice',
    connectionTimeoutMillis: 5000,
    options: Object.entries(options.sessionSettings ?? {})
      .map(([name, value]) => `-c ${name}=${value}`)
      .join(' '),
    idleTimeoutMillis: 30_000,
  });
  let closed = false;
  // An idle client losing its connection (database restart) must not crash the process.
  pool.on('error', (error) => {
    if (!closed) options.logger.warn({ err: error }, 'idle database connection failed');
  });
  const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) });
  return {
    pool,
    db,
    async close() {
      if (closed) return;
      closed = true;
      // Not db.destroy(): Kysely only ends a pool it has used, and this one it shares.
      await pool.end();
    },
  };
}
