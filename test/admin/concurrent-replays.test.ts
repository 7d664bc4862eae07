/**
 * Two replays at once, one from the CLI and one from the admin API, hand each failed event and
 * each dead letter on once. A lock on the delivery queue holds both replays inside their
 * transactions until both have read the same rows, so they overlap on every machine.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { eventually } from '../support/eventually';
import { startTestSluice, type TestSluice } from '../support/sluice';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

const ADMIN_TOKEN = 'test-admin-token-0123456789';
const CLI = path.resolve(__dirname, '../../dist/src/cli/main.js');
let database: TestDatabase;
let sluice: TestSluice;

beforeAll(async () => {
  database = await createTestDatabase();
  // The gateway role only: no router takes the replayed rows off the queue while we count.
  sluice = await startTestSluice(database, {
    workspace: `
sources:
  - { id: web, writeKey: replay-write-key }
destinations:
  - { id: hook, type: webhook, config: { url: "http://127.0.0.1:9/events" } }
transformations:
  - { id: tag, file: tag.js }
connections:
  - { source: web, destination: hook, transformations: [tag] }
`,
    settings: { adminToken: ADMIN_TOKEN, roles: ['gateway'] },
  });
  writeFileSync(
    path.join(path.dirname(sluice.workspaceFile), 'tag.js'),
    'export function transformEvent(event) { return { ...event, event: `Fixed ${event.event}` }; }\n',
  );
});
afterAll(async () => {
  await sluice?.stop();
  await database?.drop();
});
beforeEach(async () => {
  await database.pool.query('TRUNCATE delivery_jobs, failed_events, dead_letters');
});

const MESSAGE_IDS = ['m1', 'm2', 'm3'];

test('failed events replayed by the CLI and the admin API at once are each queued once', async () => {
  for (const messageId of MESSAGE_IDS) {
    const event = { type: 'track', userId: 'u1', event: messageId, messageId };
    await database.pool.query(
      `INSERT INTO failed_events (source_id, destination_id, transformation_id, message_id, user_key,
                                  received_at, error, event)
       VALUES ('web', 'hook', 'tag', $1, 'u1', now(), 'boom', $2)`,
      [messageId, JSON.stringify(event)],
    );
  }
  const [cli, api] = await bothAtOnce('--failed-events', '/admin/failed-events/replay');
  expect(cli.replayed + api.replayed).toBe(MESSAGE_IDS.length);
  expect(await queuedMessageIds()).toEqual(MESSAGE_IDS);
  const { rows } = await database.pool.query('SELECT count(*)::int AS n FROM failed_events');
  expect(rows[0].n).toBe(0);
});

test('dead letters replayed by the CLI and the admin API at once are each queued once', async () => {
  for (const messageId of MESSAGE_IDS) {
    await database.pool.query(
      `INSERT INTO dead_letters (destination_id, user_key, source_id, message_id, received_at,
                                 payload, attempts, reason)
       VALUES ('hook', 'u1', 'web', $1, now(), '{"type":"track"}', 3, 'HTTP 400')`,
      [messageId],
    );
  }
  const [cli, api] = await bothAtOnce('--dead-letters', '/admin/dead-letters/replay');
  expect(cli.replayed + api.replayed).toBe(MESSAGE_IDS.length);
  expect(await queuedMessageIds()).toEqual(MESSAGE_IDS);
});

/**
 * Runs `sluice replay <flag>` and the admin API's replay together while the delivery queue is
 * locked, lets them go once both wait on a lock, and returns what each reports.
 */
async function bothAtOnce(flag: string, route: string): Promise<Array<{ replayed: number }>> {
  const blocker = await database.pool.connect();
  try {
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE delivery_jobs IN EXCLUSIVE MODE');
    const cli = runCli(['replay', flag, '--destination', 'hook']);
    const api = request(sluice.url)
      .post(route)
      .set('Authorization', `Bearer ${ADMIN_TOKEN}`)
      .send({ destinationId: 'hook' })
      .then((response) => response);
    // Each replay waits on the lock, or on the rows the other one took.
    await eventually(async () => expect(await waitingOnLocks()).toBe(2), 20_000);
    await blocker.query('COMMIT');
    const [cliResult, apiResponse] = await Promise.all([cli, api]);
    expect(cliResult.code).toBe(0);
    expect(apiResponse.status).toBe(200);
    return [JSON.parse(cliResult.stdout), apiResponse.body];
  } finally {
    blocker.release();
  }
}

function runCli(args: string[]): Promise<{ code: number | null; stdout: string }> {
  const child = spawn(process.execPath, ['--no-node-snapshot', CLI, ...args], {
    env: {
      ...process.env,
      DATABASE_URL: database.url,
      SLUICE_WORKSPACE: sluice.workspaceFile,
      SLUICE_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout })));
}

async function waitingOnLocks(): Promise<number> {
  const { rows } = await database.pool.query(
    `SELECT count(*)::int AS n FROM pg_stat_activity
     WHERE datname = current_database() AND wait_event_type = 'Lock'`,
  );
  return rows[0].n;
}

async function queuedMessageIds(): Promise<string[]> {
  const { rows } = await database.pool.query(
    'SELECT message_id FROM delivery_jobs ORDER BY message_id',
  );
  return rows.map((row) => row.message_id);
}
