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
import { partitionOf } from '../../src/queue/partition';
import type { TransformationSandbox } from '../../src/sandbox/transformation-sandbox';
import { testHook, testWarehouse } from '../support/deliveries';
import { deliveryRows, stagedRows, ingestEvents, type TestEvent } from '../support/ingest-events';
import { listFailedEvents, replayFailedEvents } from '../../src/processor/replay-failed-events';
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

const warehouse = testWarehouse();
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
  // The hand-off's COMMIT fails once, as if the connection died at that moment: a deferred
  // trigger raises a connection failure at commit time (a sequence, untouched by the rollback,
  // makes it fire only once).
  await database.pool.query(`
    CREATE SEQUENCE crash_once;
    CREATE FUNCTION crash_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF nextval('crash_once') = 1 THEN
        RAISE EXCEPTION 'simulated crash at commit' USING ERRCODE = 'connection_failure';
      END IF;
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

describe('no event stalls its partition', () => {
  // Users spread over partitions, and two that share a partition with each bad event's user.
  const spread = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7', 'u8'];
  let neighbours: string[] = spread;

  function samePartitionAs(userKey: string): string[] {
    const found: string[] = [];
    for (let i = 0; found.length < 2; i++) {
      if (partitionOf(`n${i}`) === partitionOf(userKey)) found.push(`n${i}`);
    }
    return found;
  }

  async function ingestAround(bad: TestEvent[]): Promise<void> {
    neighbours = [...spread, ...bad.flatMap((event) => samePartitionAs(event.userId!))];
    await ingestEvents(
      database.pool,
      'web',
      neighbours.map((userId) => ({ userId, event: 'Before' })),
    );
    await ingestEvents(database.pool, 'web', bad);
    await ingestEvents(
      database.pool,
      'web',
      neighbours.map((userId) => ({ userId, event: 'After' })),
    );
  }

  function eventsPerUser(rows: Array<{ user_key: string; event: { event?: string } }>) {
    const perUser: Record<string, string[]> = {};
    for (const row of rows) (perUser[row.user_key] ??= []).push(row.event.event!);
    return perUser;
  }

  test('an id PostgreSQL cannot store (queued by an older gateway) is recorded as failed; the rest is handed on in order', async () => {
    await ingestAround([{ userId: 'nul\u0000user', event: 'Poison' }]);
    await processor(workspace(BASE)).processAvailable();

    const perUser = eventsPerUser(await deliveryRows(database.pool, 'hook-a'));
    for (const user of neighbours) expect(perUser[user]).toEqual(['Before', 'After']);
    expect(perUser['nul\ufffduser']).toBeUndefined();
    const failed = await listFailedEvents(database.pool, {});
    expect(failed.map((row) => row.destinationId).sort()).toEqual(['hook-a', 'hook-b']);
    for (const row of failed) {
      expect(row).toMatchObject({
        transformationId: null,
        userKey: 'nul\ufffduser',
        error: expect.stringMatching(/^The processor could not hand this event on: .*0x00/),
      });
      // The event itself is kept exactly, the NUL as the JSON escape it arrived as.
      expect(row.event).toMatchObject({ userId: 'nul\u0000user', event: 'Poison' });
    }
    const { rows } = await database.pool.query(
      `SELECT count(*)::int AS behind FROM ingest_jobs j JOIN ingest_cursors c USING (partition)
       WHERE (j.txid, j.id) > (c.txid, c.id)`,
    );
    expect(rows[0].behind).toBe(0);
  });

  test('an event the hand-off refuses for any reason but a lost database is isolated, split by split', async () => {
    // A trigger that refuses one event's delivery row: the chunk fails as a whole at first.
    await database.pool.query(`
      CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.payload LIKE '%"event":"Poison"%' THEN RAISE EXCEPTION 'poison refused'; END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER refuse_poison BEFORE INSERT ON delivery_jobs
        FOR EACH ROW EXECUTE FUNCTION refuse_poison();`);
    try {
      await ingestAround([{ userId: 'u4', event: 'Poison' }]);
      await processor(workspace(BASE)).processAvailable();
    } finally {
      await database.pool.query('DROP TRIGGER refuse_poison ON delivery_jobs');
      await database.pool.query('DROP FUNCTION refuse_poison');
    }
    const perUser = eventsPerUser(await deliveryRows(database.pool, 'hook-a'));
    for (const user of neighbours) expect(perUser[user]).toEqual(['Before', 'After']);
    const failed = await listFailedEvents(database.pool, {});
    expect(failed.map((row) => [row.destinationId, row.userKey, row.error]).sort()).toEqual([
      ['hook-a', 'u4', 'The processor could not hand this event on: poison refused'],
      ['hook-b', 'u4', 'The processor could not hand this event on: poison refused'],
    ]);
  });

  test('a lost database is not the event’s fault: the whole chunk is retried, nothing recorded as failed', async () => {
    // The first hand-off meets a transient error (as when the server restarts under it).
    await database.pool.query(`
      CREATE SEQUENCE transient_once;
      CREATE FUNCTION fail_transiently() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF nextval('transient_once') = 1 THEN
          RAISE EXCEPTION 'terminating connection' USING ERRCODE = 'admin_shutdown';
        END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER fail_transiently BEFORE INSERT ON delivery_jobs
        FOR EACH ROW EXECUTE FUNCTION fail_transiently();`);
    try {
      await ingestAround([]);
      const worker = processor(workspace(BASE));
      await expect(worker.processOnce()).rejects.toThrow('terminating connection');
      await worker.processAvailable();
    } finally {
      await database.pool.query('DROP TRIGGER fail_transiently ON delivery_jobs');
      await database.pool.query('DROP FUNCTION fail_transiently; DROP SEQUENCE transient_once');
    }
    const perUser = eventsPerUser(await deliveryRows(database.pool, 'hook-a'));
    for (const user of neighbours) expect(perUser[user]).toEqual(['Before', 'After']);
    expect(await listFailedEvents(database.pool, {})).toEqual([]);
  });

  test('a failed event of the processor is replayable once the cause is gone', async () => {
    await ingestAround([{ userId: 'nul\u0000user', event: 'Poison' }]);
    await processor(workspace(BASE)).processAvailable();
    const result = await replayFailedEvents(
      {
        pool: database.pool,
        workspace: workspace(BASE),
        destinations: (type) => REGISTRY.get(type),
        sandbox: {} as TransformationSandbox,
      },
      { destinationId: 'hook-a' },
    );
    expect(result).toEqual({ replayed: 1, failedAgain: 0, skipped: 0 });
    const replayed = (await deliveryRows(database.pool, 'hook-a')).filter(
      (row) => row.event.event === 'Poison',
    );
    expect(replayed).toEqual([
      expect.objectContaining({
        user_key: 'nul\ufffduser',
        event: expect.objectContaining({ userId: 'nul\u0000user' }),
      }),
    ]);
  });
});
