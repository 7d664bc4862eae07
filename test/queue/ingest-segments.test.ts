/** The ingest queue stays small: segments rotate, and drop only once every row is consumed. */
import { insertIngestJobs, type IngestRow } from '../../src/queue/insert-ingest-jobs';
import { dropFinishedSegments, INGEST_QUEUE, rotateSegment } from '../../src/queue/segments';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.drop();
});

let sequence = 0;
function rows(count: number, partition = 3): IngestRow[] {
  return Array.from({ length: count }, () => ({
    partition,
    sourceId: 'web',
    messageId: `m-${sequence++}`,
    receivedAt: new Date().toISOString(),
    payload: JSON.stringify({ type: 'track', event: 'E' }),
  }));
}

async function segments(): Promise<number[]> {
  const { rows: found } = await database.pool.query(
    'SELECT segment FROM ingest_segments ORDER BY segment',
  );
  return found.map((row) => Number(row.segment));
}

/** Moves the cursor of a partition to its last row, as the processor does after a chunk. */
async function consumeAll(partition: number) {
  await database.pool.query(
    `UPDATE ingest_cursors c SET txid = j.txid, id = j.id
     FROM (SELECT txid, id FROM ingest_jobs WHERE partition = $1 ORDER BY txid DESC, id DESC LIMIT 1) j
     WHERE c.partition = $1`,
    [partition],
  );
}

test('an empty head is never rotated; a full or old one is', async () => {
  expect(
    await rotateSegment(database.pool, INGEST_QUEUE, { maxRows: 10, maxAgeMs: 0 }),
  ).toBeUndefined();
  await insertIngestJobs(database.pool, rows(5));
  expect(
    await rotateSegment(database.pool, INGEST_QUEUE, { maxRows: 10, maxAgeMs: 60_000 }),
  ).toBeUndefined();
  await insertIngestJobs(database.pool, rows(5));
  const next = await rotateSegment(database.pool, INGEST_QUEUE, { maxRows: 10, maxAgeMs: 60_000 });
  expect(next).toBe(2);
  await insertIngestJobs(database.pool, rows(1));
  expect(await rotateSegment(database.pool, INGEST_QUEUE, { maxRows: 1000, maxAgeMs: 0 })).toBe(3);
  expect(await segments()).toEqual([1, 2, 3]);
  const { rows: placed } = await database.pool.query(
    'SELECT segment, count(*)::int AS n FROM ingest_jobs GROUP BY segment ORDER BY segment',
  );
  expect(placed).toEqual([
    { segment: 1, n: 10 },
    { segment: 2, n: 1 },
  ]);
});

test('segments are dropped only when every partition has read past them, and never the head', async () => {
  await insertIngestJobs(database.pool, rows(3, 7));
  expect(await dropFinishedSegments(database.pool, INGEST_QUEUE)).toEqual([]);
  await consumeAll(3);
  // Segment 1 and 2 hold only partition 3, now consumed; segment 3 (the head) has partition 7.
  expect(await dropFinishedSegments(database.pool, INGEST_QUEUE)).toEqual([1, 2]);
  expect(await segments()).toEqual([3]);
  const { rows: left } = await database.pool.query('SELECT count(*)::int AS n FROM ingest_jobs');
  expect(left[0].n).toBe(3);
});

test('an unconsumed older segment blocks the drop of newer ones (drops go oldest first)', async () => {
  await rotateSegment(database.pool, INGEST_QUEUE, { maxRows: 1, maxAgeMs: 0 }); // head 4; segment 3 holds partition 7
  await insertIngestJobs(database.pool, rows(2, 9));
  await rotateSegment(database.pool, INGEST_QUEUE, { maxRows: 1, maxAgeMs: 0 }); // head 5
  await consumeAll(9);
  expect(await dropFinishedSegments(database.pool, INGEST_QUEUE)).toEqual([]);
  await consumeAll(7);
  expect(await dropFinishedSegments(database.pool, INGEST_QUEUE)).toEqual([3, 4]);
});

test('payload text survives byte for byte, including escapes PostgreSQL text cannot hold', async () => {
  const payload = JSON.stringify({
    type: 'track',
    event: 'E',
    properties: { nul: '\u0000', lone: '\ud800', emoji: '😀', quote: '"\\' },
  });
  const [row] = rows(1, 11);
  await insertIngestJobs(database.pool, [{ ...row, payload }]);
  const { rows: stored } = await database.pool.query(
    'SELECT payload FROM ingest_jobs WHERE partition = 11',
  );
  expect(stored[0].payload).toBe(payload);
  expect(JSON.parse(stored[0].payload).properties.nul).toBe('\u0000');
});
