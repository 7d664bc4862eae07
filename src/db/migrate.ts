/**
 * Applies the numbered SQL files in migrations/ that the database has not seen, all in one
 * transaction under an advisory lock, so replicas starting together migrate exactly once.
 * Migrations are forward-only and frozen once released: fix mistakes with a new file.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { MIGRATIONS_DIR } from '../paths';
import { withTransaction } from './transaction';

const MIGRATION_FILE = /^(\d{6})_[a-z0-9_]+\.sql$/;
const MIGRATION_LOCK = 7_264_551_001;

export interface Migration {
  id: number;
  name: string;
  sql: string;
}

export function readMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((name) => MIGRATION_FILE.test(name))
    .sort()
    .map((name) => ({
      id: Number(MIGRATION_FILE.exec(name)![1]),
      name,
      sql: readFileSync(path.join(dir, name), 'utf8'),
    }));
}

/** Runs pending migrations; returns the names of those applied. */
export async function migrate(pool: pg.Pool, migrations = readMigrations()): Promise<string[]> {
  return withTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS sluice_migrations (
      id integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await client.query<{ id: number }>('SELECT id FROM sluice_migrations');
    const applied = new Set(rows.map((row) => row.id));
    const pending = migrations.filter((migration) => !applied.has(migration.id));
    for (const migration of pending) {
      try {
        await client.query(migration.sql);
      } catch (error) {
        throw new Error(`migration ${migration.name} failed: ${(error as Error).message}`, {
          cause: error,
        });
      }
      await client.query('INSERT INTO sluice_migrations (id, name) VALUES ($1, $2)', [
        migration.id,
        migration.name,
      ]);
    }
    return pending.map((migration) => migration.name);
  });
}
