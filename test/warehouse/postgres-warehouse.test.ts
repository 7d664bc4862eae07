/**
 * The warehouse loader with the `postgres` warehouse, against real PostgreSQL: Sluice's database
 * (where events are staged) and a second database playing the user's warehouse.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { postgres, type PostgresConfig } from '../../destinations/postgres';
import type { Source } from '../../src/config/workspace';
import { withTransaction } from '../../src/db/transaction';
import type { SegmentEvent } from '../../src/event';
import { createLogger } from '../../src/log';
import { createMetrics } from '../../src/metrics';
import { listFailedEvents } from '../../src/processor/replay-failed-events';
import { insertDeliveries } from '../../src/processor/write-output';
import { messageKey } from '../../src/queue/message-ids';
import { WarehouseLoader } from '../../src/warehouse/warehouse-loader';
import {
  createTestDatabase,
  createWarehouseDatabase,
  type TestDatabase,
} from '../support/test-database';

let database: TestDatabase;
let warehouse: { url: string; drop(): Promise<void> };
let dwh: pg.Pool;
const loaders: WarehouseLoader[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.drop();
});
beforeEach(async () => {
  warehouse = await createWarehouseDatabase();
  dwh = new pg.Pool({ connectionString: warehouse.url, max: 2 });
  await database.pool.query('TRUNCATE warehouse_staging, warehouse_loads, failed_events');
});
afterEach(async () => {
  await Promise.all(loaders.splice(0).map((loader) => loader.close()));
  await dwh.end();
  await warehouse.drop();
});

const SOURCES = [{ id: 'web', name: 'Website', enabled: true } as Source];

function loader(config: Partial<PostgresConfig> = {}) {
  const created = new WarehouseLoader(
    {
      pool: database.pool,
      logger: createLogger('silent'),
      metrics: createMetrics(),
      sources: () => SOURCES,
    },
    'dwh',
    postgres,
    postgres.configSchema.parse({ connectionString: warehouse.url, ...config }),
    { batchRows: 1000, minRetryMs: 10, maxRetryMs: 10 },
  );
  loaders.push(created);
  return created;
}

/** Events as the gateway stores them. */
function event(fields: Partial<SegmentEvent>): SegmentEvent {
  const now = new Date().toISOString();
  return {
    type: 'track',
    messageId: randomUUID(),
    userId: 'u-1',
    receivedAt: now,
    timestamp: now,
    originalTimestamp: now,
    context: { library: { name: 'analytics-node', version: '3.0.0' } },
    ...fields,
  } as SegmentEvent;
}

/** Stages events for the `dwh` destination as the processor does. */
async function stage(events: SegmentEvent[]): Promise<void> {
  await withTransaction(database.pool, (client) =>
    insertDeliveries(
      client,
      events.map((e) => ({
        eventKey: messageKey('web', e.messageId),
        destinationId: 'dwh',
        userKey: e.userId ?? e.anonymousId ?? e.messageId,
        sourceId: 'web',
        messageId: e.messageId,
        receivedAt: e.receivedAt,
        payload: JSON.stringify(e),
        warehouse: true,
      })),
    ),
  );
}

async function staged(): Promise<number> {
  const { rows } = await database.pool.query('SELECT count(*)::int AS n FROM warehouse_staging');
  return rows[0].n;
}

async function columnsOf(table: string): Promise<Record<string, string>> {
  const { rows } = await dwh.query(
    `SELECT column_name, data_type FROM information_schema.columns
     WHERE table_schema = 'website' AND table_name = $1`,
    [table],
  );
  return Object.fromEntries(rows.map((row) => [row.column_name, row.data_type]));
}

const orderCompleted = (revenue: number, extra: Record<string, unknown> = {}) =>
  event({ event: 'Order Completed', properties: { revenue, currency: 'EUR', ...extra } });

test('the first load creates the schema and Segment’s tables; the staged rows are gone', async () => {
  await stage([
    orderCompleted(10),
    orderCompleted(32.5),
    event({ type: 'identify', traits: { plan: 'pro', email: 'ada@example.com' } }),
    event({ type: 'page', name: 'Pricing', properties: { path: '/pricing' } }),
  ]);
  const report = await loader().sync();
  expect(report).toMatchObject({ busy: false, events: 4, refused: 0, discards: 0 });
  expect(report.tables).toEqual([
    'website.identifies',
    'website.order_completed',
    'website.pages',
    'website.tracks',
    'website.users',
  ]);
  expect(await staged()).toBe(0);
  const { rows } = await dwh.query('SELECT sum(revenue) AS revenue FROM website.order_completed');
  expect(rows[0].revenue).toBe(42.5);
  expect(await columnsOf('order_completed')).toMatchObject({
    id: 'text',
    received_at: 'timestamp with time zone',
    event: 'text',
    event_text: 'text',
    revenue: 'double precision',
    currency: 'text',
    context_library_name: 'text',
    uuid_ts: 'timestamp with time zone',
  });
  const users = await dwh.query('SELECT id, plan, email FROM website.users');
  expect(users.rows).toEqual([{ id: 'u-1', plan: 'pro', email: 'ada@example.com' }]);
  const status = await database.pool.query('SELECT * FROM warehouse_loads');
  expect(status.rows[0]).toMatchObject({ destination_id: 'dwh', last_load_rows: 7 });
});

test('new properties add columns; a value of another type converts or goes to the discards', async () => {
  await stage([orderCompleted(10, { coupon: 'SPRING', items: 2 })]);
  await loader().sync();
  await stage([
    orderCompleted(12, {
      coupon: 5,
      items: 'two',
      gift_wrap: true,
      shipped_at: '2024-05-02T10:00:00Z',
    }),
  ]);
  const report = await loader().sync();
  expect(report.discards).toBe(1);
  expect(await columnsOf('order_completed')).toMatchObject({
    coupon: 'text',
    items: 'bigint',
    gift_wrap: 'boolean',
    shipped_at: 'timestamp with time zone',
  });
  const { rows } = await dwh.query(
    'SELECT coupon, items, gift_wrap FROM website.order_completed ORDER BY revenue',
  );
  expect(rows).toEqual([
    { coupon: 'SPRING', items: 2, gift_wrap: null },
    { coupon: '5', items: null, gift_wrap: true },
  ]);
  const discards = await dwh.query(
    'SELECT table_name, column_name, column_value, reason FROM website.sluice_discards',
  );
  expect(discards.rows).toEqual([
    {
      table_name: 'order_completed',
      column_name: 'items',
      column_value: '"two"',
      reason: 'a string in a int column',
    },
  ]);
});

test('the same event loaded twice (an SDK retry, a load run again) is one row', async () => {
  const retried = orderCompleted(10);
  await stage([retried]);
  await loader().sync();
  await stage([retried, retried]);
  await loader().sync();
  const { rows } = await dwh.query('SELECT count(*)::int AS n FROM website.order_completed');
  expect(rows[0].n).toBe(1);
});

test('a crash between the warehouse’s commit and the staging’s reloads without duplicates', async () => {
  await stage([orderCompleted(10), orderCompleted(20)]);
  // Recording the load fails once, after the warehouse committed: as if the process died there.
  await database.pool.query(`
    CREATE SEQUENCE record_once;
    CREATE FUNCTION fail_record() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF nextval('record_once') = 1 THEN RAISE EXCEPTION 'died before recording'; END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER fail_record BEFORE INSERT ON warehouse_loads
      FOR EACH ROW EXECUTE FUNCTION fail_record();`);
  try {
    await expect(loader().sync()).rejects.toThrow('died before recording');
    expect(await staged()).toBe(2);
    await loader().sync();
  } finally {
    await database.pool.query(
      'DROP TRIGGER fail_record ON warehouse_loads; DROP FUNCTION fail_record; DROP SEQUENCE record_once',
    );
  }
  expect(await staged()).toBe(0);
  const { rows } = await dwh.query('SELECT revenue FROM website.order_completed ORDER BY revenue');
  expect(rows).toEqual([{ revenue: 10 }, { revenue: 20 }]);
});

test('users keeps the latest traits, merged over every identify', async () => {
  await stage([event({ type: 'identify', traits: { plan: 'free', name: 'Ada' } })]);
  await loader().sync();
  await stage([
    event({ type: 'identify', traits: { plan: 'pro' } }),
    event({ type: 'identify', context: { traits: { company: 'Acme' } } }),
  ]);
  await loader().sync();
  const { rows } = await dwh.query('SELECT id, plan, name, company FROM website.users');
  expect(rows).toEqual([{ id: 'u-1', plan: 'pro', name: 'Ada', company: 'Acme' }]);
});

test('two loaders on one database load each row once', async () => {
  await stage(Array.from({ length: 500 }, (_, i) => orderCompleted(i)));
  const reports = await Promise.all([loader().sync(), loader().sync(), loader().sync()]);
  expect(reports.reduce((sum, report) => sum + report.events, 0)).toBe(500);
  const { rows } = await dwh.query(
    'SELECT count(*)::int AS n, count(DISTINCT id)::int AS ids FROM website.order_completed',
  );
  expect(rows[0]).toEqual({ n: 500, ids: 500 });
  expect(await staged()).toBe(0);
});

test('a warehouse that is down keeps everything staged, with the error recorded', async () => {
  await stage([orderCompleted(10)]);
  const down = loader({ connectionString: 'postgres://sluice@127.0.0.1:1/none' });
  await expect(down.sync()).rejects.toThrow(/ECONNREFUSED/);
  expect(await staged()).toBe(1);
  const status = await database.pool.query('SELECT last_error, failing_since FROM warehouse_loads');
  expect(status.rows[0].last_error).toMatch(/ECONNREFUSED/);
  expect(status.rows[0].failing_since).toBeInstanceOf(Date);
  await loader().sync();
  expect(await staged()).toBe(0);
  const after = await database.pool.query('SELECT failing_since FROM warehouse_loads');
  expect(after.rows[0].failing_since).toBeNull();
});

test('an event the warehouse refuses becomes a failed event; the others load', async () => {
  // A rule of the user's on their table: the warehouse refuses one event's row.
  await dwh.query(`CREATE SCHEMA website;
    CREATE TABLE website.tracks (id text PRIMARY KEY, event_text text CHECK (event_text <> 'Poison'))`);
  await stage([orderCompleted(1), event({ event: 'Poison' }), orderCompleted(2)]);
  const report = await loader().sync();
  expect(report).toMatchObject({ events: 3, refused: 1 });
  expect(await staged()).toBe(0);
  const { rows } = await dwh.query('SELECT event_text FROM website.tracks ORDER BY event_text');
  expect(rows.map((row) => row.event_text)).toEqual(['Order Completed', 'Order Completed']);
  const failed = await listFailedEvents(database.pool, { destinationId: 'dwh' });
  expect(failed).toEqual([
    expect.objectContaining({
      transformationId: null,
      error: expect.stringMatching(/^The warehouse refused this event: .*check constraint/),
      event: expect.objectContaining({ event: 'Poison' }),
    }),
  ]);
});
