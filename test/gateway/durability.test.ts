/**
 * No acknowledged event is lost: across a graceful restart, a SIGKILL of the real `sluice`
 * process under load, and a database outage (503, then recovery).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { eventually } from '../support/eventually';
import { storedJobs } from '../support/ingest';
import { BASIC_WORKSPACE, startTestSluice, WRITE_KEY } from '../support/sluice';
import { adminUrl, createTestDatabase, type TestDatabase } from '../support/test-database';
import pg from 'pg';

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.drop();
});
beforeEach(async () => {
  await database.pool.query('TRUNCATE ingest_jobs, ingest_message_ids');
});

/** Sends batches from `concurrency` loops until stopped; records the messageIds acknowledged. */
function load(url: () => string, concurrency = 8, batchSize = 10) {
  const acknowledged = new Set<string>();
  let running = true;
  let sequence = 0;
  const loops = Array.from({ length: concurrency }, async (_, worker) => {
    while (running) {
      const batch = Array.from({ length: batchSize }, () => ({
        type: 'track',
        userId: `user-${worker}`,
        event: 'Load',
        messageId: `m-${sequence++}`,
      }));
      try {
        const response = await fetch(`${url()}/v1/batch`, {
          method: 'POST',
          headers: { authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}` },
          body: JSON.stringify({ batch }),
        });
        if (response.status === 200) for (const event of batch) acknowledged.add(event.messageId);
        await response.arrayBuffer();
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
  });
  return {
    acknowledged,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

async function expectAllStored(acknowledged: Set<string>) {
  const stored = new Set((await storedJobs(database.pool)).map((job) => job.messageId));
  const missing = [...acknowledged].filter((id) => !stored.has(id));
  expect(missing).toEqual([]);
}

test('a graceful stop under load answers or finishes every request; a restart serves again', async () => {
  let sluice = await startTestSluice(database);
  const url = sluice.url;
  const traffic = load(() => url);
  await eventually(() => expect(traffic.acknowledged.size).toBeGreaterThan(200));
  await sluice.stop();
  await traffic.stop();
  await expectAllStored(traffic.acknowledged);

  sluice = await startTestSluice(database);
  await request(sluice.url)
    .post('/v1/track')
    .auth(WRITE_KEY, '')
    .send({ userId: 'u', event: 'After restart' })
    .expect(200);
  await sluice.stop();
  const jobs = await storedJobs(database.pool);
  expect(jobs.at(-1)?.event.event).toBe('After restart');
  expect(jobs.length).toBeGreaterThanOrEqual(traffic.acknowledged.size + 1);
});

describe('the sluice process', () => {
  let child: ChildProcess | undefined;
  afterEach(() => child?.kill('SIGKILL'));

  test('killed with SIGKILL under load loses nothing it acknowledged', async () => {
    const workspaceFile = path.join(os.tmpdir(), `sluice-crash-${process.pid}.yaml`);
    writeFileSync(workspaceFile, BASIC_WORKSPACE);
    const start = async () => {
      const started = startProcess({ DATABASE_URL: database.url, SLUICE_WORKSPACE: workspaceFile });
      child = started.child;
      return await started.url;
    };
    let url = await start();
    const traffic = load(() => url);
    await eventually(() => expect(traffic.acknowledged.size).toBeGreaterThan(500));
    child!.kill('SIGKILL');
    await new Promise((resolve) => child!.once('exit', resolve));
    await expectAllStored(traffic.acknowledged);
    const before = traffic.acknowledged.size;

    url = await start();
    await eventually(() => expect(traffic.acknowledged.size).toBeGreaterThan(before + 100));
    await traffic.stop();
    child!.kill('SIGTERM');
    const code = await new Promise((resolve) => child!.once('exit', resolve));
    expect(code).toBe(0);
    await expectAllStored(traffic.acknowledged);
  }, 60_000);
});

test('with the database down the gateway answers 503 with Retry-After, and recovers', async () => {
  const sluice = await startTestSluice(database);
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  const send = () =>
    request(sluice.url).post('/v1/track').auth(WRITE_KEY, '').send({ userId: 'u', event: 'E' });
  try {
    await admin.query(`ALTER DATABASE ${database.name} ALLOW_CONNECTIONS false`);
    await admin.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
      [database.name],
    );
    const response = await send();
    expect(response.status).toBe(503);
    expect(response.body.code).toBe('SLUICE_E_DATABASE_UNAVAILABLE');
    expect(response.headers['retry-after']).toBe('5');
    await request(sluice.url).get('/ready').expect(503);
    await request(sluice.url).get('/health').expect(200);
  } finally {
    await admin.query(`ALTER DATABASE ${database.name} ALLOW_CONNECTIONS true`);
    await admin.end();
  }
  await eventually(async () => expect((await send()).status).toBe(200));
  await request(sluice.url).get('/ready').expect(200);
  await sluice.stop();
  // The pool of the test's own helper was cut off too; a fresh query proves the rows are there.
  database.pool.on('error', () => undefined);
  expect((await storedJobs(database.pool)).length).toBeGreaterThanOrEqual(1);
});

/** Starts the compiled CLI (`npm test` builds it first) and resolves its URL once it listens. */
function startProcess(env: Record<string, string>): { child: ChildProcess; url: Promise<string> } {
  const child = spawn(
    process.execPath,
    ['--no-node-snapshot', path.resolve(__dirname, '../../dist/src/cli/main.js'), 'start'],
    {
      env: { ...process.env, ...env, PORT: '0', HOST: '127.0.0.1', SLUICE_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const url = new Promise<string>((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk;
      const match = /"url":"(http:\/\/[^"]+)"/.exec(output);
      if (match) resolve(match[1]);
    });
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk));
    child.once('exit', (code) => reject(new Error(`sluice exited with ${code}: ${output}`)));
  });
  return { child, url };
}
