/**
 * The processor against real PostgreSQL: routing by connection, the integrations object, event
 * filters, deduplication, two processors sharing one database, and a crash before the hand-off.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { defineDestination, type Destination } from '../../destinations/destination';
import { parseWorkspace, type Workspace } from '../../src/config/workspace';
import { createLogger } from '../../src/log';
import { createMetrics } from '../../src/metrics';
import { handOff } from '../../src/processor/hand-off';
import { Processor, type ProcessorOptions } from '../../src/processor/processor';
import { readIngestChunk } from '../../src/processor/read-ingest-chunk';
import type { TransformationSandbox } from '../../src/sandbox/transformation-sandbox';
import { testHook } from '../support/deliveries';
import { deliveryRows, stagedRows, ingestEvents } from '../support/ingest-events';
import { adminUrl, createTestDatabase, type TestDatabase } from '../support/test-database';
import pg from 'pg';

let database: TestDatabase;
const processors: Processor[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.drop();
});
beforeEach(async () => {
  await database.pool.query(
    `TRUNCATE ingest_jobs, delivery_jobs, warehouse_staging, failed_events, ingest_message_ids;
     UPDATE ingest_cursors SET txid = '0', id = 0;
     UPDATE processor_leases SET member = NULL, expires_at = '-infinity';
     DELETE FROM processor_members;`,
  );
});
afterEach(async () => {
  await Promise.all(processors.splice(0).map((processor) => processor.stop()));
});

const warehouse = defineDestination({
  ...testHook(),
  type: 'testwarehouse',
  kind: 'warehouse',
  integrationName: 'Test Warehouse',
});
const identifyOnly = defineDestination({
  ...testHook(),
  type: 'identifyonly',
  integrationName: 'Identify Only',
  supportedTypes: ['identify'],
  configSchema: z.object({ url: z.string() }),
});
const REGISTRY = new Map<string, Destination<unknown>>(
  [testHook(), warehouse, identifyOnly].map((d) => [d.type, d as Destination<unknown>]),
);

function workspace(yaml: string): Workspace {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'processor-'));
  writeFileSync(path.join(dir, 'sluice.yaml'), yaml);
  return parseWorkspace(yaml, path.join(dir, 'sluice.yaml'));
}

const BASE = `
sources:
  - { id: web, writeKey: web-write-key }
  - { id: app, writeKey: app-write-key }
destinations:
  - { id: hook-a, name: Hook A, type: testhook, config: { url: "http://a.invalid" } }
  - { id: hook-b, type: testhook, config: { url: "http://b.invalid" } }
  - { id: profiles, type: identifyonly, config: { url: "http://p.invalid" } }
  - { id: off, type: testhook, enabled: false, config: { url: "http://off.invalid" } }
connections:
  - { source: web, destination: hook-a }
  - { source: web, destination: hook-b, filter: { denyEvents: [Heartbeat], denyTypes: [page] } }
  - { source: web, destination: profiles }
  - { source: web, destination: off }
  - { source: app, destination: hook-b, enabled: false }
`;

function processor(ws: Workspace, options: Partial<ProcessorOptions> = {}) {
  const created = new Processor(
    {
      pool: database.pool,
      workspace: () => ws,
      destinations: (type) => REGISTRY.get(type),
      sandbox: {} as TransformationSandbox,
      logger: createLogger('silent'),
      metrics: createMetrics(),
    },
    { idleMs: 10, ...options },
  );
  processors.push(created);
  return created;
}

test('each event becomes one delivery row per admitting connection, in order', async () => {
  await ingestEvents(database.pool, 'web', [
    { userId: 'u1', event: 'Signed Up' },
    { type: 'identify', userId: 'u1', traits: { plan: 'pro' } },
    { userId: 'u1', event: 'Heartbeat' },
    { type: 'page', userId: 'u1', name: 'Home' },
  ]);
  await ingestEvents(database.pool, 'app', [{ userId: 'u9', event: 'Not routed' }]);
  expect(await processor(workspace(BASE)).processAvailable()).toBe(5);
  const rows = await deliveryRows(database.pool);
  const by = (id: string) =>
    rows.filter((r) => r.destination_id === id).map((r) => r.event.event ?? r.event.type);
  expect(by('hook-a')).toEqual(['Signed Up', 'identify', 'Heartbeat', 'page']);
  expect(by('hook-b')).toEqual(['Signed Up', 'identify']); // filter: no Heartbeat, no pages
  expect(by('profiles')).toEqual(['identify']); // supports identify only
  expect(by('off')).toEqual([]);
  expect(rows.every((r) => r.user_key === 'u1' && r.source_id === 'web')).toBe(true);
});

test('the integrations object: All, names, ids, object values, and warehouses', async () => {
  const yaml = `${BASE}  - { source: web, destination: wh }\n`.replace(
    'destinations:\n',
    'destinations:\n  - { id: wh, type: testwarehouse, config: { url: "http://w.invalid" } }\n',
  );
  const ws = workspace(yaml);
  await ingestEvents(database.pool, 'web', [
    { userId: 'u', event: 'all off', integrations: { All: false } },
    { userId: 'u', event: 'all off but A by name', integrations: { All: false, 'Hook A': true } },
    { userId: 'u', event: 'B off by id', integrations: { 'hook-b': false } },
    {
      userId: 'u',
      event: 'type name with options',
      integrations: { All: false, 'Test Hook': { some: 'option' } },
    },
    { userId: 'u', event: 'null disables', integrations: { 'Test Hook': null } },
  ]);
  await processor(ws).processAvailable();
  const rows = await deliveryRows(database.pool);
  const to = (event: string) =>
    rows
      .filter((r) => r.event.event === event)
      .map((r) => r.destination_id)
      .sort();
  expect(to('all off')).toEqual([]);
  expect(to('all off but A by name')).toEqual(['hook-a']);
  expect(to('B off by id')).toEqual(['hook-a']);
  expect(to('type name with options')).toEqual(['hook-a', 'hook-b']);
  expect(to('null disables')).toEqual([]);
  // The warehouse gets every event, All: false included (as in Segment), staged for its loader
  // rather than queued for the router.
  expect(rows.some((r) => r.destination_id === 'wh')).toBe(false);
  const staged = await stagedRows(database.pool, 'wh');
  expect(staged.map((r) => r.event.event)).toEqual([
    'all off',
    'all off but A by name',
    'B off by id',
    'type name with options',
    'null disables',
  ]);
  expect(staged.every((r) => r.user_key === 'u' && r.source_id === 'web')).toBe(true);
});

test('an SDK retry of an event already handed on is dropped, in a later chunk or the same one', async () => {
  const [first] = await ingestEvents(database.pool, 'web', [
    { userId: 'u1', event: 'Once', messageId: 'm-1' },
  ]);
  await processor(workspace(BASE)).processAvailable();
  await ingestEvents(database.pool, 'web', [
    { ...first, event: 'Once' },
    { userId: 'u1', event: 'Twice', messageId: 'm-2' },
    { userId: 'u1', event: 'Twice', messageId: 'm-2' },
  ]);
  await ingestEvents(database.pool, 'app', [
    { userId: 'u1', event: 'Other source', messageId: 'm-1' },
  ]);
  await processors[0].processAvailable();
  const events = (await deliveryRows(database.pool, 'hook-a')).map((r) => r.event.event);
  expect(events).toEqual(['Once', 'Twice']);
});

test('two processors on one database: every event handed on exactly once, order per user kept', async () => {
  const events = Array.from({ length: 3000 }, (_, i) => ({
    userId: `user-${i % 40}`,
    event: `${i}`,
  }));
  for (let i = 0; i < events.length; i += 500)
    await ingestEvents(database.pool, 'web', events.slice(i, i + 500));
  const ws = workspace(BASE);
  const a = processor(ws, { chunkSize: 200 });
  const b = processor(ws, { chunkSize: 300 });
  // Join, then rebalance: the first gives back half, the second takes it.
  for (const member of [a, b, a, b]) await member.leases.refresh();
  expect(a.leases.owned.length + b.leases.owned.length).toBe(64);
  expect(a.leases.owned.filter((p) => b.leases.owned.includes(p))).toEqual([]);
  a.start();
  b.start();
  const deadline = Date.now() + 20_000;
  while ((await deliveryRows(database.pool, 'hook-a')).length < 3000 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const rows = await deliveryRows(database.pool, 'hook-a');
  expect(rows).toHaveLength(3000);
  expect(new Set(rows.map((r) => r.event.event)).size).toBe(3000);
  for (let user = 0; user < 40; user++) {
    const sequence = rows
      .filter((r) => r.user_key === `user-${user}`)
      .map((r) => Number(r.event.event));
    expect(sequence).toEqual([...sequence].sort((x, y) => x - y));
  }
});

test('a chunk read before another processor handed it off is never handed off again', async () => {
  await ingestEvents(database.pool, 'web', [
    { userId: 'u1', event: 'A' },
    { userId: 'u1', event: 'B' },
  ]);
  const ws = workspace(BASE);
  // A stalled processor read the chunk (its lease then lapsed)...
  const stale = await readIngestChunk(
    database.pool,
    Array.from({ length: 64 }, (_, p) => p),
    100,
  );
  expect(stale.records).toHaveLength(2);
  // ...another processor took the partitions over and handed the chunk off...
  expect(await processor(ws).processAvailable()).toBe(2);
  // ...so the stalled one's hand-off finds the cursor moved and writes nothing.
  const last = stale.records[stale.records.length - 1];
  const result = await handOff(database.pool, {
    startCursors: stale.startCursors,
    endCursors: new Map([[last.partition, { txid: last.txid, id: last.id }]]),
    deliveries: [
      {
        eventKey: 'k',
        destinationId: 'hook-a',
        userKey: 'u1',
        sourceId: 'web',
        messageId: 'm',
        receivedAt: new Date().toISOString(),
        payload: '{}',
        warehouse: false,
      },
    ],
    failures: [],
  });
  expect(result).toEqual({ committed: false, reason: 'cursor moved' });
  expect((await deliveryRows(database.pool, 'hook-a')).map((r) => r.event.event)).toEqual([
    'A',
    'B',
  ]);
});

test('a crash before the hand-off commits loses nothing and duplicates nothing', async () => {
  await ingestEvents(database.pool, 'web', [
    { userId: 'u1', event: 'A' },
    { userId: 'u2', event: 'B' },
  ]);
  const ws = workspace(BASE);
  // The hand-off's COMMIT fails once, as if the process died at that moment: a deferred trigger
  // raises at commit time (a sequence, untouched by the rollback, makes it fire only once).
  await database.pool.query(`
    CREATE SEQUENCE crash_once;
    CREATE FUNCTION crash_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF nextval('crash_once') = 1 THEN RAISE EXCEPTION 'simulated crash at commit'; END IF;
      RETURN NULL;
    END $$;
    CREATE CONSTRAINT TRIGGER crash_at_commit AFTER UPDATE ON ingest_cursors
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION crash_at_commit();`);
  try {
    await expect(processor(ws).processOnce()).rejects.toThrow('simulated crash at commit');
  } finally {
    await database.pool.query('DROP TRIGGER crash_at_commit ON ingest_cursors');
  }
  expect(await deliveryRows(database.pool)).toEqual([]);
  // The crashed process's leases lapse; another processor takes over.
  await database.pool.query(`UPDATE processor_leases SET expires_at = now() - interval '1 second'`);
  await database.pool.query(
    `UPDATE processor_members SET heartbeat_at = now() - interval '1 hour'`,
  );
  await processor(ws).processAvailable();
  const events = (await deliveryRows(database.pool, 'hook-a')).map((r) => r.event.event).sort();
  expect(events).toEqual(['A', 'B']);
});

test('a write transaction open in another database does not hold processing back; one in this database does', async () => {
  const ws = workspace(BASE);
  const elsewhere = new pg.Client({ connectionString: adminUrl() });
  const here = new pg.Client({ connectionString: database.url });
  await Promise.all([elsewhere.connect(), here.connect()]);
  try {
    await elsewhere.query('BEGIN');
    await elsewhere.query('SELECT pg_current_xact_id()'); // now holds an xid, like a long write
    await ingestEvents(database.pool, 'web', [{ userId: 'u1', event: 'Not stalled' }]);
    expect(await processor(ws).processAvailable()).toBe(1);

    // A transaction of this database that is still open may yet commit rows ordered before
    // newer ones: those wait until it ends.
    await here.query('BEGIN');
    await here.query('SELECT pg_current_xact_id()');
    await ingestEvents(database.pool, 'web', [{ userId: 'u1', event: 'Waits' }]);
    expect(await processors[0].processAvailable()).toBe(0);
    await here.query('COMMIT');
    expect(await processors[0].processAvailable()).toBe(1);
  } finally {
    await elsewhere.query('ROLLBACK').catch(() => undefined);
    await Promise.all([elsewhere.end(), here.end()]);
  }
});

test('graceful stop gives the leases back for others to take', async () => {
  const ws = workspace(BASE);
  const first = processor(ws);
  await first.leases.refresh();
  expect(first.leases.owned).toHaveLength(64);
  await first.stop();
  const second = processor(ws);
  await second.leases.refresh();
  expect(second.leases.owned).toHaveLength(64);
});
