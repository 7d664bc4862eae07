/** The `sluice` command line, run as a user runs it (the compiled CLI; `npm test` builds it first). */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eventually } from '../support/eventually';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

const CLI = path.resolve(__dirname, '../../dist/src/cli/main.js');
let dir: string;
let database: TestDatabase;

function sluice(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, ['--no-node-snapshot', CLI, ...args], {
    cwd: dir,
    env: { ...process.env, SLUICE_LOG_LEVEL: 'warn', ...env },
    encoding: 'utf8',
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

beforeAll(async () => {
  database = await createTestDatabase();
  dir = mkdtempSync(path.join(os.tmpdir(), 'cli-'));
  writeFileSync(
    path.join(dir, 'rename.js'),
    `import { prefix } from 'naming';
export function transformEvent(event) {
  if (event.event === 'Bad') throw new Error('bad event');
  log('renaming', event.event);
  return { ...event, event: prefix + event.event };
}
`,
  );
  writeFileSync(path.join(dir, 'naming.js'), `export const prefix = 'App: ';\n`);
  writeFileSync(
    path.join(dir, 'sluice.yaml'),
    `sources:\n  - { id: web, writeKey: cli-write-key }\nlibraries:\n  - { name: naming, file: naming.js }\n`,
  );
  writeFileSync(
    path.join(dir, 'good.json'),
    JSON.stringify([{ type: 'track', userId: 'u', event: 'Opened' }]),
  );
  writeFileSync(
    path.join(dir, 'mixed.json'),
    JSON.stringify([
      { type: 'track', userId: 'u', event: 'Opened' },
      { type: 'track', userId: 'u', event: 'Bad' },
    ]),
  );
});
afterAll(async () => {
  await database?.drop();
});

describe('sluice transform test', () => {
  test('prints the output events and logs, using the workspace libraries; exits 0', () => {
    const result = sluice(['transform', 'test', 'rename.js', '--events', 'good.json']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('1 event(s) out of 1 in');
    expect(result.stdout).toContain('"event": "App: Opened"');
    expect(result.stdout).toMatch(/\[event 0\] log: renaming Opened/);
  });

  test('--json prints one object and exits non-zero when an event failed', () => {
    const result = sluice(['transform', 'test', 'rename.js', '--events', 'mixed.json', '--json']);
    expect(result.code).toBe(1);
    const output = JSON.parse(result.stdout);
    expect(output.events.map((e: { event: string }) => e.event)).toEqual(['App: Opened']);
    expect(output.errors).toEqual([
      expect.objectContaining({ eventIndex: 1, message: 'bad event' }),
    ]);
    expect(output.errors[0].stack).toMatch(/rename\.js:3/);
    expect(output.logs).toEqual([
      expect.objectContaining({ message: 'renaming Opened', eventIndex: 0 }),
    ]);
  });

  test('a missing events file or bad JSON is a clear error', () => {
    const missing = sluice(['transform', 'test', 'rename.js', '--events', 'nope.json']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/nope\.json/);
    writeFileSync(path.join(dir, 'broken.json'), '[{');
    const broken = sluice(['transform', 'test', 'rename.js', '--events', 'broken.json']);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/broken\.json/);
  });
});

describe('sluice replay and migrate', () => {
  test('migrate applies the schema (idempotently)', () => {
    const result = sluice(['migrate'], { DATABASE_URL: database.url, SLUICE_LOG_LEVEL: 'info' });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/database up to date|database migrated/);
  });

  test('replay --dead-letters moves matching letters back into the delivery queue', async () => {
    await database.pool.query(
      `INSERT INTO dead_letters (destination_id, user_key, source_id, message_id, received_at, payload, attempts, reason)
       VALUES ('hook', 'u1', 'web', 'm1', now(), '{"type":"track"}', 3, 'HTTP 400'),
              ('other', 'u1', 'web', 'm2', now(), '{"type":"track"}', 3, 'HTTP 400')`,
    );
    const result = sluice(['replay', '--dead-letters', '--destination', 'hook'], {
      DATABASE_URL: database.url,
    });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ replayed: 1 });
    const { rows } = await database.pool.query('SELECT destination_id FROM delivery_jobs');
    expect(rows).toEqual([{ destination_id: 'hook' }]);
  });
});

describe('sluice start', () => {
  test('logs at the default level carry no write key; the first-event hint names the source', async () => {
    const child = spawn(process.execPath, ['--no-node-snapshot', CLI, 'start', '--port', '0'], {
      cwd: dir,
      env: { ...process.env, DATABASE_URL: database.url, HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (chunk) => (output += chunk));
    child.stderr!.on('data', (chunk) => (output += chunk));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      await eventually(() => expect(output).toContain('send a first event'), 20_000);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(output).not.toContain('cli-write-key');
    expect(output).toContain('source \\"web\\"');
    expect(output).toContain('"level":"info"');
  });
});

describe('usage', () => {
  test('no command prints usage and exits 2; a bad option is named', () => {
    const none = sluice([]);
    expect(none.code).toBe(2);
    expect(none.stdout).toMatch(/Usage:/);
    const bad = sluice(['start', '--colour', 'blue']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--colour/);
    const replay = sluice(['replay']);
    expect(replay.code).toBe(2);
    expect(replay.stderr).toMatch(/exactly one of --dead-letters and --failed-events/);
  });

  test('an invalid workspace stops start with the file and field named', () => {
    writeFileSync(path.join(dir, 'broken.yaml'), 'sources:\n  - { id: web }\n');
    const result = sluice(['start', '--workspace', 'broken.yaml', '--port', '0'], {
      DATABASE_URL: database.url,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/broken\.yaml: sources\[0\]\.writeKey/);
  });
});
