/**
 * Transformations in the processor, with the real sandbox and real PostgreSQL: output events
 * become deliveries, failures are recorded with the error and its line, replay after a fix, and
 * edited code takes effect without a restart.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Destination } from '../../destinations/destination';
import { loadWorkspace, type Workspace } from '../../src/config/workspace';
import { createLogger } from '../../src/log';
import { createMetrics } from '../../src/metrics';
import { Processor } from '../../src/processor/processor';
import { listFailedEvents, replayFailedEvents } from '../../src/processor/replay-failed-events';
import { TransformationSandbox } from '../../src/sandbox/transformation-sandbox';
import { testHook, testWarehouse } from '../support/deliveries';
import { deliveryRows, ingestEvents, stagedRows } from '../support/ingest-events';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

let database: TestDatabase;
let sandbox: TransformationSandbox;
let dir: string;
const warehouse = testWarehouse();
const REGISTRY = (type: string) =>
  ({ testhook: testHook(), testwarehouse: warehouse })[type] as Destination<unknown> | undefined;

const TRANSFORM = (version: string) => `
// Tags events with the code version; drops heartbeats; fails on purpose for "explode".
export function transformEvent(event, metadata) {
  if (event.event === 'Heartbeat') return null;
  if (event.properties?.explode) throw new Error('boom: ' + event.event);
  if (event.event === 'Fan Out') return [{ ...event, event: 'One' }, { ...event, event: 'Two', messageId: event.messageId + '-2' }];
  log('seen', event.messageId);
  return { ...event, properties: { ...event.properties, version: '${version}', destination: metadata.destinationId, source: metadata.sourceId } };
}
`;

beforeAll(async () => {
  database = await createTestDatabase();
  sandbox = new TransformationSandbox({
    limits: {
      memoryLimitMb: 64,
      timeoutMs: 2000,
      fetchTimeoutMs: 500,
      fetchAllowList: [],
      maxOutputsPerEvent: 1000,
    },
    logger: createLogger('silent'),
  });
});
afterAll(async () => {
  sandbox?.dispose();
  await database?.drop();
});

function workspace(code: string): Workspace {
  dir = mkdtempSync(path.join(os.tmpdir(), 'transform-'));
  writeFileSync(path.join(dir, 'tag.js'), code);
  writeFileSync(
    path.join(dir, 'sluice.yaml'),
    `sources:
  - { id: web, writeKey: web-write-key }
destinations:
  - { id: hook, type: testhook, config: { url: "http://hook.invalid" } }
  - { id: wh, type: testwarehouse, config: { url: "http://wh.invalid" } }
transformations:
  - { id: tag, file: tag.js }
connections:
  - { source: web, destination: hook, transformations: [tag] }
  - { source: web, destination: wh, transformations: [tag] }
`,
  );
  return loadWorkspace(path.join(dir, 'sluice.yaml'));
}

function processor(ws: Workspace) {
  return new Processor({
    pool: database.pool,
    workspace: () => ws,
    destinations: REGISTRY,
    sandbox,
    logger: createLogger('silent'),
    metrics: createMetrics(),
  });
}

test('outputs become deliveries, drops and fan-outs included; failures are recorded with the error and its line', async () => {
  const ws = workspace(TRANSFORM('v1'));
  await ingestEvents(database.pool, 'web', [
    { userId: 'u1', event: 'Signed Up' },
    { userId: 'u1', event: 'Heartbeat' },
    { userId: 'u2', event: 'Bad', properties: { explode: true } },
    { userId: 'u3', event: 'Fan Out' },
  ]);
  const worker = processor(ws);
  expect(await worker.processAvailable()).toBe(4);
  await worker.stop();

  const delivered = (await deliveryRows(database.pool, 'hook')).map((row) => row.event);
  // Order is kept per user (u3's fan-out in order); across users it is not defined.
  expect(delivered.filter((e) => e.userId === 'u3').map((e) => e.event)).toEqual(['One', 'Two']);
  expect(delivered.map((event) => event.event).sort()).toEqual(['One', 'Signed Up', 'Two']);
  const signedUp = delivered.find((e) => e.event === 'Signed Up')!;
  expect(signedUp.properties).toEqual({ version: 'v1', destination: 'hook', source: 'web' });
  const failed = await listFailedEvents(database.pool, { destinationId: 'hook' });
  expect(failed).toHaveLength(1);
  expect(failed[0]).toMatchObject({
    transformationId: 'tag',
    sourceId: 'web',
    userKey: 'u2',
    error: 'boom: Bad',
  });
  expect(failed[0].stack).toMatch(/tag\.js:5/);
  expect(failed[0].event).toMatchObject({ event: 'Bad', properties: { explode: true } });

  // The warehouse connection runs the same code; its outputs are staged for the loader.
  const staged = (await stagedRows(database.pool, 'wh')).map((row) => row.event);
  expect(staged.map((event) => event.event).sort()).toEqual(['One', 'Signed Up', 'Two']);
  expect(staged.find((e) => e.event === 'Signed Up')!.properties).toMatchObject({
    destination: 'wh',
  });
  expect(await listFailedEvents(database.pool, { destinationId: 'wh' })).toHaveLength(1);
});

test('after the code is fixed, replay sends the failed events on; edited code applies without a restart', async () => {
  // The "fix": the new version no longer throws.
  writeFileSync(
    path.join(dir, 'tag.js'),
    TRANSFORM('v2').replace(
      "throw new Error('boom: ' + event.event)",
      'event.properties.fixed = true',
    ),
  );
  const ws = loadWorkspace(path.join(dir, 'sluice.yaml'));
  const result = await replayFailedEvents(
    { pool: database.pool, workspace: ws, destinations: REGISTRY, sandbox },
    {},
  );
  expect(result).toEqual({ replayed: 2, failedAgain: 0, skipped: 0 });
  expect(await listFailedEvents(database.pool, {})).toEqual([]);
  const bad = (await deliveryRows(database.pool, 'hook'))
    .map((row) => row.event)
    .find((e) => e.event === 'Bad')!;
  expect(bad.properties).toMatchObject({ explode: true, fixed: true, version: 'v2' });
  const stagedBad = (await stagedRows(database.pool, 'wh'))
    .map((row) => row.event)
    .find((e) => e.event === 'Bad')!;
  expect(stagedBad.properties).toMatchObject({ fixed: true, destination: 'wh' });

  // New events through the same workspace object pick up the edited file.
  await ingestEvents(database.pool, 'web', [{ userId: 'u9', event: 'Later' }]);
  const worker = processor(ws);
  await worker.processAvailable();
  await worker.stop();
  const later = (await deliveryRows(database.pool, 'hook'))
    .map((row) => row.event)
    .find((e) => e.event === 'Later')!;
  expect(later.properties?.version).toBe('v2');
});

test('a transformation that loops forever fails its events and the next chunk still flows', async () => {
  const ws = workspace(
    `export function transformEvent(event) { if (event.event === 'Loop') { while (true) {} } return event; }`,
  );
  await ingestEvents(database.pool, 'web', [{ userId: 'u1', event: 'Loop' }]);
  const worker = processor(ws);
  await worker.processAvailable();
  await ingestEvents(database.pool, 'web', [{ userId: 'u1', event: 'After' }]);
  await worker.processAvailable();
  await worker.stop();
  const failed = await listFailedEvents(database.pool, {});
  expect(failed.map((f) => f.event.event)).toContain('Loop');
  expect(failed.find((f) => f.event.event === 'Loop')!.error).toMatch(/time|timed out|limit/i);
  expect((await deliveryRows(database.pool, 'hook')).map((row) => row.event.event)).toContain(
    'After',
  );
});

test('a chain hands text along; an output without a messageId goes on under its input’s', async () => {
  const chainDir = mkdtempSync(path.join(os.tmpdir(), 'chain-'));
  writeFileSync(
    path.join(chainDir, 'strip.js'),
    'export function transformEvent({ messageId, ...rest }) { return rest; }',
  );
  writeFileSync(
    path.join(chainDir, 'stamp.js'),
    'export function transformEvent(e, metadata) { return { ...e, seenAs: metadata.messageId }; }',
  );
  writeFileSync(
    path.join(chainDir, 'sluice.yaml'),
    `sources:
  - { id: web, writeKey: web-write-key }
destinations:
  - { id: chained, type: testhook, config: { url: "http://hook.invalid" } }
transformations:
  - { id: strip, file: strip.js }
  - { id: stamp, file: stamp.js }
connections:
  - { source: web, destination: chained, transformations: [strip, stamp] }
`,
  );
  const [sent] = await ingestEvents(database.pool, 'web', [{ userId: 'u1', event: 'Chained' }]);
  const worker = processor(loadWorkspace(path.join(chainDir, 'sluice.yaml')));
  await worker.processAvailable();
  await worker.stop();
  const [row] = await deliveryRows(database.pool, 'chained');
  expect(row.message_id).toBe(sent.messageId);
  expect(row.event).toMatchObject({ event: 'Chained', seenAs: sent.messageId });
  expect(row.event.messageId).toBeUndefined();
});

async function emptyQueues(): Promise<void> {
  await database.pool.query(
    'TRUNCATE ingest_jobs, delivery_jobs, warehouse_staging, failed_events, ingest_message_ids',
  );
}

test('what a transformation returns or throws can hold any character; nothing of it stalls the pipeline', async () => {
  await emptyQueues();
  const ws = workspace(`
    export function transformEvent(event) {
      switch (event.event) {
        case 'Nul Error': throw new Error('bad \\u0000 error \\ud800');
        case 'Nul Output': return { ...event, properties: { text: 'a\\u0000b\\ud800c' } };
        case 'Nul Id': return { ...event, messageId: 'bad\\u0000id' };
        default: return event;
      }
    }
  `);
  const events = await ingestEvents(database.pool, 'web', [
    { userId: 'u1', event: 'Nul Error' },
    { userId: 'u1', event: 'Nul Output' },
    { userId: 'u1', event: 'Nul Id' },
    { userId: 'u1', event: 'Plain' },
  ]);
  const worker = processor(ws);
  await worker.processAvailable();
  await worker.stop(); // gives its leases back for the next test's processor

  const delivered = (await deliveryRows(database.pool, 'hook')).map((row) => row.event);
  expect(delivered.map((event) => event.event)).toEqual(['Nul Output', 'Nul Id', 'Plain']);
  expect(delivered[0].properties).toEqual({ text: 'a\u0000b\ud800c' });
  expect(delivered[1].messageId).toBe('bad\u0000id');
  const failed = await listFailedEvents(database.pool, { destinationId: 'hook' });
  expect(failed.map((row) => [row.messageId, row.transformationId, row.error])).toEqual([
    [events[0].messageId, 'tag', 'bad \ufffd error \ufffd'],
  ]);
});

test('a chunk whose transformations fan out to 150,000 events is handed on whole', async () => {
  await emptyQueues();
  const ws = workspace(`
    export function transformEvent(event) {
      return Array.from({ length: 1000 }, (_, i) => ({ type: 'track', event: 'Part', userId: event.userId, messageId: event.messageId + '-' + i }));
    }
  `);
  await ingestEvents(
    database.pool,
    'web',
    Array.from({ length: 150 }, (_, i) => ({ userId: `u${i}`, event: 'Wide' })),
  );
  const worker = processor(ws);
  await worker.processAvailable();
  await worker.stop(); // gives its leases back for the next test's processor
  const { rows } = await database.pool.query(
    `SELECT destination_id, count(*)::int AS outputs FROM (
       SELECT destination_id FROM delivery_jobs UNION ALL SELECT destination_id FROM warehouse_staging
     ) o GROUP BY 1 ORDER BY 1`,
  );
  expect(rows).toEqual([
    { destination_id: 'hook', outputs: 150_000 },
    { destination_id: 'wh', outputs: 150_000 },
  ]);
  expect(await listFailedEvents(database.pool, {})).toEqual([]);
}, 180_000); // 300,000 rows written: generous for a busy machine

test('an output messageId a text column cannot hold goes on under its input’s; the processor flows on', async () => {
  const ws = workspace(
    'export function transformEvent(e) { return { ...e, messageId: e.messageId + "\\u0000" }; }',
  );
  const [sent] = await ingestEvents(database.pool, 'web', [{ userId: 'u-nul', event: 'Renamed' }]);
  const worker = processor(ws);
  await worker.processAvailable();
  await worker.stop();
  const row = (await deliveryRows(database.pool, 'hook')).find((r) => r.user_key === 'u-nul')!;
  expect(row.message_id).toBe(sent.messageId);
  // The event itself is delivered as the transformation made it.
  expect(row.event.messageId).toBe(`${sent.messageId}\u0000`);
});
