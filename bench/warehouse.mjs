// bench/warehouse: the PostgreSQL warehouse loader.
//   load:      rows/s loaded from staged events (30 properties, 5 event names; each track makes a
//              `tracks` row and an event-table row) into a fresh warehouse database, and in the
//              same run plain COPY of the same rows into tables of the same shape.
//   freshness: a running Sluice (every role) offered --rate events/s for --seconds; the time from
//              an event's acceptance (received_at) to its being queryable in the warehouse, p50
//              and p99, against syncIntervalSeconds (--sync). Rows are seen by polling the
//              warehouse every 200 ms for rows of transactions it has not seen (xmin), so each
//              figure is late by up to 200 ms.
// Prints figures; never passes or fails.
//   npm run build && node bench/warehouse.mjs [--events 100000] [--rate 5000] [--seconds 60] [--sync 10]
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { Pool } from 'undici';
import { postgres } from '../dist/destinations/postgres/index.js';
import { createMetrics } from '../dist/src/metrics.js';
import { createLogger } from '../dist/src/log.js';
import { migrate } from '../dist/src/db/migrate.js';
import { WarehouseLoader } from '../dist/src/warehouse/warehouse-loader.js';
import { benchDatabase, fmt, percentile, sleep, startSluice, WRITE_KEY } from './lib.mjs';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '100000' },
    rate: { type: 'string', default: '5000' },
    seconds: { type: 'string', default: '60' },
    sync: { type: 'string', default: '10' },
    only: { type: 'string' },
  },
});

const EVENT_NAMES = [
  'Product Viewed',
  'Product Added',
  'Checkout Started',
  'Order Completed',
  'Signed Up',
];

/** A track event with 30 properties of every type. */
function realisticEvent(i) {
  const properties = {};
  for (let p = 0; p < 30; p++) {
    const kind = p % 5;
    properties[`property_${p}`] =
      kind === 0
        ? `value ${i % 97} of ${p}`
        : kind === 1
          ? i * p
          : kind === 2
            ? (i % 1000) / 7
            : kind === 3
              ? i % 2 === 0
              : new Date(1_700_000_000_000 + i * 1000).toISOString();
  }
  const now = new Date().toISOString();
  return {
    type: 'track',
    event: EVENT_NAMES[i % EVENT_NAMES.length],
    messageId: randomUUID(),
    userId: `user-${i % 10_000}`,
    anonymousId: randomUUID(),
    receivedAt: now,
    sentAt: now,
    timestamp: now,
    originalTimestamp: now,
    properties,
    context: {
      library: { name: 'analytics.js', version: 'next-1.84.3' },
      page: { path: '/checkout', url: 'https://shop.example/checkout', title: 'Shop' },
      userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0',
      locale: 'en-US',
    },
  };
}

function adminUrl() {
  return process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
}

async function withDatabase(name, work) {
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  try {
    return await work(url.toString());
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

async function benchLoad() {
  const events = Number(values.events);
  const sluiceDb = await benchDatabase();
  try {
    return await withDatabase(`sluice_bench_wh_${process.pid}`, async (warehouseUrl) => {
      const pool = new pg.Pool({ connectionString: sluiceDb.url, max: 4 });
      await migrate(pool);
      // Stage the events as the processor does (in slices, as chunks would be).
      for (let start = 0; start < events; start += 5000) {
        const slice = Array.from({ length: Math.min(5000, events - start) }, (_, i) =>
          realisticEvent(start + i),
        );
        await pool.query(
          `INSERT INTO warehouse_staging (destination_id, source_id, message_id, user_key, received_at, payload)
           SELECT 'dwh', 'bench', m, u, now(), p FROM unnest($1::text[], $2::text[], $3::text[]) AS t(m, u, p)`,
          [
            slice.map((e) => e.messageId),
            slice.map((e) => e.userId),
            slice.map((e) => JSON.stringify(e)),
          ],
        );
      }
      const loader = new WarehouseLoader(
        {
          pool,
          logger: createLogger('silent'),
          metrics: createMetrics(),
          sources: () => [{ id: 'bench', name: 'bench' }],
        },
        'dwh',
        postgres,
        postgres.configSchema.parse({ connectionString: warehouseUrl, schema: 'bench' }),
      );
      const started = performance.now();
      const report = await loader.sync();
      const loadSeconds = (performance.now() - started) / 1000;
      await loader.close();
      await pool.end();

      // Plain COPY of the same rows into tables of the same shape (no key, no upsert).
      const warehouse = new pg.Client({ connectionString: warehouseUrl });
      await warehouse.connect();
      const { rows: tables } = await warehouse.query(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'bench' AND table_name <> 'sluice_discards'`,
      );
      const dumps = [];
      for (const { table_name: table } of tables) {
        const { rows } = await warehouse.query(`SELECT * FROM bench."${table}"`);
        const columns = Object.keys(rows[0]);
        const text = rows
          .map((row) =>
            columns
              .map((c) =>
                row[c] === null
                  ? '\\N'
                  : row[c] instanceof Date
                    ? row[c].toISOString()
                    : String(row[c]).replace(
                        /[\\\t\n\r]/g,
                        (ch) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[ch],
                      ),
              )
              .join('\t'),
          )
          .join('\n');
        await warehouse.query(`CREATE TABLE bench."copy_${table}" (LIKE bench."${table}")`);
        dumps.push({ table, columns, text: `${text}\n`, rows: rows.length });
      }
      const copyStarted = performance.now();
      for (const dump of dumps) {
        await pipeline(
          Readable.from([dump.text]),
          warehouse.query(
            copyStreams.from(
              `COPY bench."copy_${dump.table}" (${dump.columns.map((c) => `"${c}"`).join(', ')}) FROM STDIN`,
            ),
          ),
        );
      }
      const copySeconds = (performance.now() - copyStarted) / 1000;
      await warehouse.end();
      const loaderRate = report.rows / loadSeconds;
      const copyRate = report.rows / copySeconds;
      console.log(
        `bench/warehouse load  (${fmt(events)} staged track events, 30 properties, 5 event names)`,
      );
      console.log(
        `  loader  ${fmt(report.rows)} rows (${fmt(report.events)} events, ${report.tables.length} tables) in ${fmt(loadSeconds, 2)} s = ${fmt(loaderRate)} rows/s (${fmt(report.events / loadSeconds)} events/s)`,
      );
      console.log(`  COPY    the same rows in ${fmt(copySeconds, 2)} s = ${fmt(copyRate)} rows/s`);
      console.log(`  ratio   ${fmt((loaderRate / copyRate) * 100)}% of plain COPY`);
    });
  } finally {
    await sluiceDb.drop();
  }
}

async function benchFreshness() {
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);
  const sync = Number(values.sync);
  const sluiceDb = await benchDatabase();
  try {
    await withDatabase(`sluice_bench_fresh_${process.pid}`, async (warehouseUrl) => {
      // The table the poller reads, made beforehand with an index on received_at so that a poll
      // costs little; the loader adds every other column.
      const warehouse = new pg.Client({ connectionString: warehouseUrl });
      await warehouse.connect();
      await warehouse.query(`CREATE SCHEMA shop;
        CREATE TABLE shop.tracks (id text PRIMARY KEY, received_at timestamptz);
        CREATE INDEX ON shop.tracks (received_at)`);
      const sluice = await startSluice(sluiceDb.url, {
        workspace: `sources:\n  - { id: bench, writeKey: ${WRITE_KEY} }\ndestinations:\n  - id: dwh\n    type: postgres\n    config: { connectionString: "${warehouseUrl}", schema: shop, syncIntervalSeconds: ${sync} }\nconnections:\n  - { source: bench, destination: dwh }\n`,
      });
      const client = new Pool(sluice.url, { connections: 8 });
      const auth = `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}`;
      let sent = 0;
      let counter = 0;
      const send = async () => {
        const batch = Array.from({ length: 100 }, () => {
          const event = realisticEvent(counter++);
          delete event.receivedAt;
          return JSON.stringify(event);
        });
        const response = await client.request({
          path: '/v1/batch',
          method: 'POST',
          headers: { authorization: auth },
          body: `{"batch":[${batch.join(',')}]}`,
        });
        await response.body.dump();
        if (response.statusCode === 200) sent += 100;
      };
      const lags = [];
      let lastXmin = 0n;
      let polling = true;
      const poller = (async () => {
        while (polling || lags.length < sent) {
          const polledAt = Date.now();
          const { rows } = await warehouse.query(
            `SELECT xmin::text AS x, received_at FROM shop.tracks
             WHERE received_at > now() - make_interval(secs => $1) AND xmin::text::bigint > $2`,
            [sync * 4 + 60, lastXmin.toString()],
          );
          for (const row of rows) {
            lags.push(polledAt - row.received_at.getTime());
            if (BigInt(row.x) > lastXmin) lastXmin = BigInt(row.x);
          }
          if (!polling && rows.length === 0 && Date.now() - polledAt > sync * 3000) break;
          await sleep(200);
        }
      })();
      const started = Date.now();
      const interval = (100 / rate) * 1000;
      const inFlight = new Set();
      for (let next = started; next < started + seconds * 1000; next += interval) {
        await sleep(Math.max(0, next - Date.now()));
        const request = send().finally(() => inFlight.delete(request));
        inFlight.add(request);
      }
      await Promise.all(inFlight);
      const deadline = Date.now() + sync * 4000 + 60_000;
      while (lags.length < sent && Date.now() < deadline) await sleep(200);
      polling = false;
      await poller.catch(() => undefined);
      await client.close();
      await sluice.stop();
      await warehouse.end();
      lags.sort((a, b) => a - b);
      console.log(
        `bench/warehouse freshness  (${fmt(rate)} events/s offered for ${seconds} s, syncIntervalSeconds ${sync})`,
      );
      console.log(`  accepted ${fmt(sent)} events; queryable ${fmt(lags.length)}`);
      console.log(
        `  acceptance → queryable  p50 ${fmt(percentile(lags, 0.5) / 1000, 1)} s  p99 ${fmt(percentile(lags, 0.99) / 1000, 1)} s  max ${fmt((lags[lags.length - 1] ?? NaN) / 1000, 1)} s  (target p99 ≤ ${2 * sync} s)`,
      );
    });
  } finally {
    await sluiceDb.drop();
  }
}

if (values.only !== 'freshness') await benchLoad();
if (values.only !== 'load') await benchFreshness();
