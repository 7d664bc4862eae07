/**
 * The BigQuery warehouse loading batches with the real @google-cloud/bigquery client into a fake
 * BigQuery on this machine (test/support/fake-bigquery.ts says what it checks and what not): the
 * dataset and tables it creates, their schemas and partitioning, the load jobs' rows, the MERGE
 * and what it leaves in the tables, schema changes, discards, and loading a batch again.
 */
jest.mock('teeny-request', () => jest.requireActual('../support/native-teeny-request'));
import type { TableField } from '@google-cloud/bigquery';
import { DEDUP_WINDOW_DAYS } from '../../destinations/bigquery/merge-statement';
import { DISCARDS_TABLE } from '../../src/warehouse/warehouse';
import type { FakeRequest } from '../support/fake-bigquery';
import { FakeError } from '../support/fake-bigquery';
import { identify, segmentEvent, track } from './support';
import {
  DATASET,
  PROJECT,
  rowsOf,
  startTestbed,
  watchConnections,
  type Testbed,
} from './bigquery-testbed';

let bed: Testbed;
beforeEach(async () => {
  bed = await startTestbed();
});
afterEach(async () => {
  expect(bed.fake.unhandled).toEqual([]);
  await bed.close();
});

const load = (rows: ReturnType<typeof rowsOf>) => bed.warehouse.load({ schema: DATASET, rows });

const order = (messageId: string, properties: Record<string, unknown>, receivedAt?: string) =>
  track('Order Completed', properties, {
    messageId,
    ...(receivedAt !== undefined && { receivedAt }),
  });

/** The rows of a table of the dataset, as the fake keeps them. */
const rowsIn = (table: string) => bed.fake.table(DATASET, table)?.rows ?? [];
const sorted = (table: string, column: string) =>
  rowsIn(table)
    .map((row) => row[column])
    .sort();

const fieldsOf = (table: string): Record<string, TableField> =>
  Object.fromEntries((bed.fake.table(DATASET, table)?.fields ?? []).map((f) => [f.name, f]));

/** The load job uploads: their job config and rows, by the table they went to. */
function uploads(): Array<{ table: string; load: Record<string, unknown>; lines: string[] }> {
  return bed.fake.requests
    .filter((request) => request.path.endsWith('/jobs') && request.path.startsWith('/upload/'))
    .map((request) => {
      const boundary = /boundary=(.+)$/.exec(request.headers['content-type']!)![1];
      const [metadata, data] = request.body
        .split(`--${boundary}`)
        .slice(1, 3)
        .map((part) => part.slice(part.indexOf('\r\n\r\n') + 4).replace(/\r\n$/, ''));
      const load = JSON.parse(metadata).configuration.load;
      return { table: load.destinationTable.tableId, load, lines: data.split('\n') };
    });
}

/** The SQL of every query job, in order. */
const queries = () => bed.fake.jobs.filter((job) => job.kind === 'query').map(sqlOf);
const sqlOf = (job: { configuration: Record<string, unknown> }) =>
  (job.configuration.query as { query: string }).query;

const isPatch = (request: FakeRequest) => request.method === 'PATCH';

test('the first load creates the dataset in its location, and each table partitioned by day on received_at with NULLABLE typed columns', async () => {
  const summary = await load(
    rowsOf([
      order('order-1', {
        order_id: 'o-1',
        revenue: 30.5,
        quantity: 3,
        gift: true,
        shipped_at: '2024-05-02T09:00:00+02:00',
        tags: ['mug', 'tea'],
      }),
      identify({ email: 'ada@example.com', plan: 'pro' }, { messageId: 'identify-1' }),
    ]),
  );

  expect(summary).toEqual({
    rows: 4,
    tables: ['tracks', 'order_completed', 'identifies', 'users'],
    discards: 0,
  });
  const created = bed.fake.requests.find(
    (r) => r.method === 'POST' && r.path.endsWith('/datasets'),
  );
  expect(JSON.parse(created!.body)).toMatchObject({
    datasetReference: { datasetId: DATASET },
    location: 'EU',
  });
  expect([...bed.fake.datasets.get(DATASET)!.tables.keys()].sort()).toEqual([
    'identifies',
    'order_completed',
    'tracks',
    'users',
  ]);
  for (const table of ['tracks', 'order_completed', 'identifies', 'users']) {
    expect(bed.fake.table(DATASET, table)!.timePartitioning).toEqual({
      type: 'DAY',
      field: 'received_at',
    });
    expect(bed.fake.table(DATASET, table)!.expirationTime).toBeUndefined();
    for (const field of bed.fake.table(DATASET, table)!.fields) {
      expect(field.mode).toBe('NULLABLE');
    }
  }
  const types = (table: string) =>
    Object.fromEntries(Object.entries(fieldsOf(table)).map(([name, field]) => [name, field.type]));
  expect(types('order_completed')).toMatchObject({
    id: 'STRING',
    received_at: 'TIMESTAMP',
    sent_at: 'TIMESTAMP',
    timestamp: 'TIMESTAMP',
    original_timestamp: 'TIMESTAMP',
    uuid_ts: 'TIMESTAMP',
    loaded_at: 'TIMESTAMP',
    event: 'STRING',
    event_text: 'STRING',
    context_page_url: 'STRING',
    order_id: 'STRING',
    revenue: 'FLOAT64',
    quantity: 'INT64',
    gift: 'BOOL',
    shipped_at: 'TIMESTAMP',
    tags: 'STRING',
  });
  expect(types('users')).toEqual({
    id: 'STRING',
    received_at: 'TIMESTAMP',
    uuid_ts: 'TIMESTAMP',
    email: 'STRING',
    plan: 'STRING',
    loaded_at: 'TIMESTAMP',
  });
});

test('rows go through a load job of newline-delimited JSON into a staging table that expires, dropped afterwards', async () => {
  const before = Date.now();
  await load(
    rowsOf([
      order('order-1', { revenue: 30.5, note: null, shipped_at: '2024-05-02 09:00:00+0200' }),
    ]),
  );

  const sent = uploads().find((upload) => upload.table.endsWith('_order_completed'))!;
  expect(sent.table).toMatch(/^_sluice_load_[0-9a-f]{16}_order_completed$/);
  expect(sent.load).toMatchObject({
    sourceFormat: 'NEWLINE_DELIMITED_JSON',
    createDisposition: 'CREATE_NEVER',
    writeDisposition: 'WRITE_TRUNCATE',
  });
  expect(sent.lines.at(-1)).toBe('');
  const [row, ...rest] = sent.lines.slice(0, -1).map((line) => JSON.parse(line));
  expect(rest).toEqual([]);
  expect(row).toMatchObject({
    id: 'order-1',
    event: 'order_completed',
    event_text: 'Order Completed',
    revenue: 30.5,
    // Every timestamp in UTC, with microseconds, however it came.
    received_at: '2024-05-01T12:00:00.500000Z',
    original_timestamp: '2024-05-01T11:59:58.500000Z',
    shipped_at: '2024-05-02T07:00:00.000000Z',
    uuid_ts: '2024-05-01T12:01:00.000000Z',
  });
  expect(row).not.toHaveProperty('note');
  expect(Date.parse(row.loaded_at)).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);

  const stagingCreated = bed.fake.requests
    .filter((r) => r.method === 'POST' && r.path.endsWith('/tables'))
    .map((r) => JSON.parse(r.body))
    .find((body) => body.tableReference.tableId === sent.table);
  expect(Number(stagingCreated.expirationTime)).toBeGreaterThanOrEqual(before + 23 * 3600_000);
  expect(Number(stagingCreated.expirationTime)).toBeLessThanOrEqual(Date.now() + 25 * 3600_000);
  expect(stagingCreated.timePartitioning).toBeUndefined();
  const deleted = bed.fake.requests.filter((r) => r.method === 'DELETE').map((r) => r.path);
  expect(deleted).toContain(
    `/bigquery/v2/projects/${PROJECT}/datasets/${DATASET}/tables/${sent.table}`,
  );
  expect(
    [...bed.fake.datasets.get(DATASET)!.tables.keys()].filter((t) => t.startsWith('_sluice')),
  ).toEqual([]);
  expect(rowsIn('order_completed')).toEqual([
    expect.objectContaining({ id: 'order-1', revenue: 30.5 }),
  ]);
});

test('the MERGE runs in one transaction, keyed on id, inserts the ids not there and reads only the days a copy can be in', async () => {
  await load(rowsOf([order('order-1', { revenue: 30 })]));

  const [script] = queries();
  const statements = script.split('\n');
  expect(statements[0]).toBe('BEGIN TRANSACTION;');
  expect(statements.at(-1)).toBe('COMMIT TRANSACTION;');
  const staging = uploads().find((u) => u.table.endsWith('_order_completed'))!.table;
  const merge = script.slice(script.indexOf('MERGE `acme-analytics.shop.order_completed`'));
  const lines = merge.slice(0, merge.indexOf(';') + 1).split('\n');
  expect(lines.slice(0, 3)).toEqual([
    'MERGE `acme-analytics.shop.order_completed` AS t',
    `USING \`acme-analytics.shop.${staging}\` AS s`,
    // received_at 2024-05-01, less the dedup window, from the start of that day.
    "ON t.`id` = s.`id` AND t.`received_at` >= TIMESTAMP '2024-04-24 00:00:00+00'",
  ]);
  expect(DEDUP_WINDOW_DAYS).toBe(7);
  // An id is one event: a row already there is left as it is.
  expect(lines[3]).toMatch(/^WHEN NOT MATCHED THEN INSERT \(`id`, .*\) VALUES \(s\.`id`, .*\);$/);
  expect(lines).toHaveLength(4);
});

test('loading the same batch again leaves each id once', async () => {
  const rows = rowsOf([
    order('order-1', { revenue: 30 }),
    order('order-2', { revenue: 12 }),
    identify({ plan: 'pro' }, { messageId: 'identify-1' }),
  ]);
  await load(rows);
  const firstLoadedAt = rowsIn('order_completed')[0].loaded_at as string;
  await load(rows);

  expect(sorted('order_completed', 'id')).toEqual(['order-1', 'order-2']);
  expect(sorted('tracks', 'id')).toEqual(['order-1', 'order-2']);
  expect(rowsIn('identifies').map((row) => row.id)).toEqual(['identify-1']);
  expect(rowsIn('users').map((row) => row.id)).toEqual(['user-4711']);
  expect(rowsIn('order_completed')[0].loaded_at! >= firstLoadedAt).toBe(true);
  // Both runs merged by id; neither appended.
  expect(queries()).toHaveLength(2);
  for (const script of queries()) expect(script).not.toMatch(/INSERT INTO/);
});

test('an event sent again days later is still one row; after the dedup window it is a second one', async () => {
  await load(rowsOf([order('order-1', { revenue: 30 }, '2024-05-01T12:00:00.000Z')]));
  await load(rowsOf([order('order-1', { revenue: 30 }, '2024-05-04T08:00:00.000Z')]));
  // The row first loaded stays: an id is one event.
  expect(rowsIn('order_completed')).toEqual([
    expect.objectContaining({ id: 'order-1', received_at: '2024-05-01T12:00:00.000000Z' }),
  ]);

  // The MERGE reads the week before the load's rows, not the whole table (its cost bound).
  await load(rowsOf([order('order-1', { revenue: 30 }, '2024-05-12T08:00:00.000Z')]));
  expect(sorted('order_completed', 'received_at')).toEqual([
    '2024-05-01T12:00:00.000000Z',
    '2024-05-12T08:00:00.000000Z',
  ]);
});

test('users keep one row per user: later traits win, traits left out stay, and a late older identify fills gaps only', async () => {
  const user = (messageId: string, traits: Record<string, unknown>, receivedAt: string) =>
    identify(traits, { messageId, receivedAt });
  await load(
    rowsOf([user('i-1', { email: 'ada@example.com', plan: 'free' }, '2024-05-01T10:00:00Z')]),
  );
  await load(rowsOf([user('i-2', { plan: 'pro', seats: 5 }, '2024-05-02T10:00:00Z')]));
  expect(rowsIn('users')).toEqual([
    expect.objectContaining({
      id: 'user-4711',
      email: 'ada@example.com',
      plan: 'pro',
      seats: 5,
      received_at: '2024-05-02T10:00:00.000000Z',
    }),
  ]);

  // An identify from before, loaded after (a retry that waited): newer values stay.
  await load(rowsOf([user('i-0', { plan: 'trial', company: 'Acme' }, '2024-04-30T10:00:00Z')]));
  expect(rowsIn('users')).toEqual([
    expect.objectContaining({
      email: 'ada@example.com',
      plan: 'pro',
      seats: 5,
      company: 'Acme',
      received_at: '2024-05-02T10:00:00.000000Z',
    }),
  ]);
  expect(rowsIn('identifies')).toHaveLength(3);

  const merge = queries()[0].slice(queries()[0].indexOf('MERGE `acme-analytics.shop.users`'));
  const lines = merge.slice(0, merge.indexOf(';') + 1).split('\n');
  // Users are found however old: no partition bound.
  expect(lines[2]).toBe('ON t.`id` = s.`id`');
  expect(lines[3]).toMatch(
    /^WHEN MATCHED AND \(t\.`received_at` IS NULL OR s\.`received_at` >= t\.`received_at`\) THEN UPDATE SET .*`email` = COALESCE\(s\.`email`, t\.`email`\)/,
  );
  expect(lines[4]).toMatch(
    /^WHEN MATCHED THEN UPDATE SET .*`email` = COALESCE\(t\.`email`, s\.`email`\)/,
  );
});

test('new properties add columns with one patch per table, sent with the etag read; nothing else changes', async () => {
  await load(rowsOf([order('order-1', { revenue: 30 })]));
  const before = fieldsOf('order_completed');
  const etag = `etag-${bed.fake.table(DATASET, 'order_completed')!.etag}`;
  await load(rowsOf([order('order-2', { revenue: 12, coupon: 'SPRING', discount: 2.5 })]));

  const patches = bed.fake.requests.filter(isPatch);
  expect(patches.map((p) => p.path)).toEqual([
    `/bigquery/v2/projects/${PROJECT}/datasets/${DATASET}/tables/order_completed`,
  ]);
  expect(patches[0].headers['if-match']).toBe(etag);
  const fields: TableField[] = JSON.parse(patches[0].body).schema.fields;
  expect(fields.slice(0, Object.keys(before).length)).toEqual(Object.values(before));
  expect(fields.slice(Object.keys(before).length)).toEqual([
    { name: 'coupon', type: 'STRING', mode: 'NULLABLE' },
    { name: 'discount', type: 'FLOAT64', mode: 'NULLABLE' },
  ]);
  expect(rowsIn('order_completed')).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ id: 'order-1', revenue: 30 }),
      expect.objectContaining({ id: 'order-2', revenue: 12, coupon: 'SPRING', discount: 2.5 }),
    ]),
  );
});

test('a patch refused because the table changed since it was read fails the load, and the next load succeeds', async () => {
  await load(rowsOf([order('order-1', { revenue: 30 })]));
  bed.fake.failRequest(
    isPatch,
    new FakeError(412, 'conditionNotMet', 'Precondition check failed.'),
  );
  const rows = rowsOf([order('order-2', { coupon: 'SPRING' })]);

  const failure = await load(rows).then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(failure).toBeInstanceOf(Error);
  expect(bed.warehouse.isDataError(failure)).toBe(false);
  expect(rowsIn('order_completed').map((row) => row.id)).toEqual(['order-1']);

  await load(rows);
  expect(sorted('order_completed', 'id')).toEqual(['order-1', 'order-2']);
});

test('a value of another type goes to sluice_discards, once however often the batch is loaded', async () => {
  await load(rowsOf([order('order-1', { quantity: 3 })]));
  const rows = rowsOf([order('order-2', { quantity: 'three' })]);
  const summary = await load(rows);
  await load(rows);

  expect(summary.discards).toBe(1);
  expect(rowsIn('order_completed')).toEqual(
    expect.arrayContaining([expect.objectContaining({ id: 'order-2', quantity: null })]),
  );
  expect(rowsIn(DISCARDS_TABLE)).toEqual([
    {
      table_name: 'order_completed',
      column_name: 'quantity',
      row_id: 'order-2',
      column_value: '"three"',
      received_at: '2024-05-01T12:00:00.500000Z',
      uuid_ts: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/),
      reason: 'a string in a int column',
    },
  ]);
  const discards = bed.fake.table(DATASET, DISCARDS_TABLE)!;
  expect(discards.timePartitioning).toEqual({ type: 'DAY', field: 'received_at' });
  expect(discards.fields.map((f) => [f.name, f.type])).toEqual([
    ['table_name', 'STRING'],
    ['column_name', 'STRING'],
    ['row_id', 'STRING'],
    ['column_value', 'STRING'],
    ['received_at', 'TIMESTAMP'],
    ['uuid_ts', 'TIMESTAMP'],
    ['reason', 'STRING'],
  ]);
  const merge = queries()[2].slice(
    queries()[2].indexOf(`MERGE \`acme-analytics.shop.${DISCARDS_TABLE}\``),
  );
  expect(merge.split('\n')[2]).toBe(
    "ON t.`table_name` = s.`table_name` AND t.`row_id` = s.`row_id` AND t.`column_name` = s.`column_name` AND t.`received_at` >= TIMESTAMP '2024-04-24 00:00:00+00'",
  );
});

test('values BigQuery cannot hold are discards, not a failed load: a lone surrogate, a time before year 1, a property named loaded_at', async () => {
  const summary = await load(
    rowsOf([
      order('order-1', {
        note: 'broken \ud800 text',
        nul: 'a\u0000b',
        shipped_at: '0001-01-01T00:30:00+01:00',
        loaded_at: 'yesterday',
      }),
    ]),
  );

  expect(summary.discards).toBe(3);
  const discards = Object.fromEntries(rowsIn(DISCARDS_TABLE).map((row) => [row.column_name, row]));
  expect(discards.note).toMatchObject({
    column_value: '"broken \\ud800 text"',
    reason: 'text the warehouse cannot store (a NUL or a lone surrogate)',
  });
  expect(discards.shipped_at).toMatchObject({
    column_value: '"0001-01-01T00:30:00+01:00"',
    reason: 'a timestamp outside the years BigQuery holds (1 to 9999, in UTC)',
  });
  expect(discards.loaded_at).toMatchObject({
    column_value: '"yesterday"',
    reason: '"loaded_at" is a column Sluice writes itself',
  });
  // NUL is a character like any other in a BigQuery STRING.
  expect(rowsIn('order_completed')).toEqual([
    expect.objectContaining({ nul: 'a\u0000b', note: null, shipped_at: null }),
  ]);
  expect(rowsIn('order_completed')[0].loaded_at).not.toBe('yesterday');
});

test('the widest table BigQuery allows, 10,000 columns, and what does not fit discarded', async () => {
  const properties = Object.fromEntries(
    Array.from({ length: 10_000 }, (_, index) => [`p${index}`, index]),
  );
  const summary = await load(rowsOf([order('order-1', properties)]));

  expect(bed.fake.table(DATASET, 'order_completed')!.fields).toHaveLength(10_000);
  // Sluice's own columns come first; the properties fill the table to its limit, the rest are
  // discarded: as many as Sluice's columns took.
  const own = Object.keys(rowsIn('order_completed')[0]).filter((column) => !/^p\d+$/.test(column));
  expect(own).toEqual(
    expect.arrayContaining(['id', 'received_at', 'uuid_ts', 'loaded_at', 'event']),
  );
  expect(summary.discards).toBe(own.length);
  expect(rowsIn(DISCARDS_TABLE)).toHaveLength(own.length);
  for (const discard of rowsIn(DISCARDS_TABLE)) {
    expect(discard.reason).toBe('the table has the most columns allowed (10000)');
  }
});

test('names are BigQuery-safe: reserved words and prefixes get a `_`, long names are cut to 300 characters', async () => {
  await load(
    rowsOf([
      order('order-1', {
        select: 1,
        partition: 2,
        _table_suffix: 3,
        _PARTITIONTIME: 4,
        [`a${'b'.repeat(400)}`]: 5,
      }),
    ]),
  );

  const names = Object.keys(fieldsOf('order_completed'));
  expect(names).toEqual(
    expect.arrayContaining(['_select', '__partition', '__table_suffix', 'partitiontime']),
  );
  const long = names.find((name) => name.startsWith('abbb'))!;
  expect(long).toHaveLength(300);
  expect(long).toMatch(/_[0-9a-f]{8}$/);
});

test('an empty batch asks nothing of BigQuery', async () => {
  expect(await load([])).toEqual({ rows: 0, tables: [], discards: 0 });
  expect(bed.fake.requests).toEqual([]);
});

test('a failed MERGE changes no table and leaves no staging table', async () => {
  await load(rowsOf([order('order-1', { revenue: 30 })]));
  bed.fake.failJob(
    'query',
    'invalidQuery',
    'Could not serialize access to table due to concurrent update',
  );

  await expect(
    load(
      rowsOf([order('order-2', { revenue: 12 }), segmentEvent('page', { messageId: 'page-1' })]),
    ),
  ).rejects.toThrow(/BigQuery query job sluice_merge_.* failed: Could not serialize access/);
  expect(rowsIn('order_completed').map((row) => row.id)).toEqual(['order-1']);
  expect(rowsIn('pages')).toEqual([]);
  expect(
    [...bed.fake.datasets.get(DATASET)!.tables.keys()].filter((t) => t.startsWith('_sluice')),
  ).toEqual([]);
});

test('a dataset deleted by hand is made again', async () => {
  await load(rowsOf([order('order-1', { revenue: 30 })]));
  bed.fake.datasets.delete(DATASET);

  await expect(load(rowsOf([order('order-2', { revenue: 12 })]))).rejects.toThrow(
    /Not found: Dataset/,
  );
  await load(rowsOf([order('order-2', { revenue: 12 })]));
  expect(rowsIn('order_completed').map((row) => row.id)).toEqual(['order-2']);
});

test('every request goes to the configured server and is signed with the service account key, none to Google', async () => {
  const watch = watchConnections();
  try {
    await load(rowsOf([order('order-1', { revenue: 30 }), identify({ plan: 'pro' })]));
  } finally {
    watch.stop();
  }
  const { host } = new URL(bed.fake.url);
  expect(watch.connections.length).toBeGreaterThan(0);
  expect(new Set(watch.connections)).toEqual(new Set([host]));
  // The fake refuses a request without a JWT signed with the key (401), so all of these were.
  expect(bed.fake.requests.length).toBeGreaterThan(10);
});
