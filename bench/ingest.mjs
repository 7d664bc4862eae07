// bench/ingest: durable ingest through the gateway over loopback, batched and single-event, next
// to plain COPY of the same events into a table on the same database.
//   npm run build && node bench/ingest.mjs [--seconds 10]
import os from 'node:os';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { benchDatabase, drive, eventTexts, fmt, sampleEvent, startSluice } from './lib.mjs';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    phase: { type: 'string', default: 'all' },
    // One gateway process per core, as `sluice start --workers` runs them.
    workers: { type: 'string', default: String(os.availableParallelism()) },
  },
});
const seconds = Number(values.seconds);
const BATCH = 100;
const BATCH_CLIENTS = Number(process.env.BENCH_BATCH_CLIENTS ?? 16);

const database = await benchDatabase();
try {
  // COPY is measured before and after the gateway phases: this machine's speed drifts.
  const copyBefore = await measureCopy(database.url, 200_000);
  // The gateway role alone, as a gateway deployment runs it (bench/deliver measures the rest).
  const sluice = await startSluice(database.url, {
    env: { SLUICE_WORKERS: values.workers, SLUICE_ROLES: 'gateway' },
  });
  const nextEvent = eventTexts();
  const skip = { eventsPerSecond: NaN, requestsPerSecond: NaN, p50: NaN, p99: NaN, failures: 0 };
  const batched =
    values.phase === 'single'
      ? skip
      : await drive({
          url: sluice.url,
          path: '/v1/batch',
          concurrency: BATCH_CLIENTS,
          seconds,
          eventsPerRequest: BATCH,
          makeBody: () =>
            `{"batch":[${Array.from({ length: BATCH }, nextEvent).join(',')}],"sentAt":"${new Date().toISOString()}"}`,
        });
  const single =
    values.phase === 'batch'
      ? skip
      : await drive({
          url: sluice.url,
          path: '/v1/t',
          concurrency: 64,
          seconds,
          eventsPerRequest: 1,
          makeBody: nextEvent,
        });
  const writes = await groupCommitFigures(sluice.url);
  await sluice.stop();
  const copyAfter = await measureCopy(database.url, 200_000);
  const copyRate = (copyBefore + copyAfter) / 2;
  const stored = await countStored(database.url);

  const eventBytes = Buffer.byteLength(JSON.stringify(sampleEvent(0)));
  console.log(
    `bench/ingest  (${seconds} s per phase, ${values.workers} gateway process(es), events of ~${eventBytes} B, ` +
      `${stored.toLocaleString('en-US')} events stored)`,
  );
  console.log(
    `  COPY of the same events into a table          ${fmt(copyRate)} events/s (${fmt(copyBefore)} before, ${fmt(copyAfter)} after)`,
  );
  console.log(
    `  gateway, batches of ${BATCH} (${BATCH_CLIENTS} clients)            ${fmt(batched.eventsPerSecond)} events/s  ` +
      `(${fmt((100 * batched.eventsPerSecond) / copyRate)}% of COPY)  p50 ${fmt(batched.p50, 1)} ms  p99 ${fmt(batched.p99, 1)} ms`,
  );
  console.log(
    `  gateway, single events (64 clients)            ${fmt(single.requestsPerSecond)} requests/s  ` +
      `p50 ${fmt(single.p50, 1)} ms  p99 ${fmt(single.p99, 1)} ms`,
  );
  console.log(
    `  group commit (one worker's figures): ${fmt(writes.rowsPerWrite)} rows and ${fmt(writes.msPerWrite, 1)} ms per write on average`,
  );
  if (batched.failures || single.failures)
    console.log(`  non-200 answers: ${batched.failures + single.failures}`);
} finally {
  await database.drop();
}

/** COPY rate (rows/s) of the events as the queue stores them: ids, time and the JSON text. */
async function measureCopy(url, rows) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(
    'CREATE TABLE copy_baseline (source_id text, message_id text, received_at timestamptz, payload text)',
  );
  const lines = Array.from({ length: 10_000 }, (_, n) => {
    const event = sampleEvent(n);
    const text = JSON.stringify(event).replace(/\\/g, '\\\\');
    return `bench\t${event.messageId}\t${new Date().toISOString()}\t${text}\n`;
  });
  const started = performance.now();
  for (let done = 0; done < rows; done += lines.length) {
    await pipeline(Readable.from(lines), client.query(copyFrom('COPY copy_baseline FROM STDIN')));
  }
  const rate = rows / ((performance.now() - started) / 1000);
  await client.query('DROP TABLE copy_baseline');
  await client.end();
  return rate;
}

async function countStored(url) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const { rows } = await client.query('SELECT count(*)::int AS n FROM ingest_jobs');
  await client.end();
  return rows[0].n;
}

/** Averages of the gateway's group-commit histograms, from its /metrics. */
async function groupCommitFigures(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name) => Number(new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text)?.[1] ?? NaN);
  const writes = value('sluice_ingest_write_rows_count');
  return {
    writes,
    rowsPerWrite: value('sluice_ingest_write_rows_sum') / writes,
    msPerWrite: (1000 * value('sluice_ingest_write_seconds_sum')) / writes,
  };
}
