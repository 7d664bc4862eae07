// bench/deliver: end to end on this machine — SDK-style batches into the gateway, through the
// processor and the router, to a local webhook sink. Prints the sustained delivery rate and the
// delivery lag (gateway receipt to sink receipt), p50 and p99.
//   npm run build && node bench/deliver.mjs [--seconds 20] [--rate 12000] [--workers 2]
// --rate offers that many events/s (open loop); without it, 8 clients send as fast as they can.
import http from 'node:http';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import {
  benchDatabase,
  eventTexts,
  fmt,
  percentile,
  sleep,
  startSluice,
  WRITE_KEY,
} from './lib.mjs';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    rate: { type: 'string' },
    workers: { type: 'string', default: String(os.availableParallelism()) },
    'batch-size': { type: 'string', default: '100' },
    transformation: { type: 'boolean', default: false },
  },
});
const seconds = Number(values.seconds);
const BATCH = 100;

// The sink: a webhook receiving JSON arrays of events; records each event's delivery lag.
const lags = [];
let delivered = 0;
let firstDelivery = 0;
let lastDelivery = 0;
const sink = http.createServer((request, response) => {
  const chunks = [];
  request.on('data', (chunk) => chunks.push(chunk));
  request.on('end', () => {
    const now = Date.now();
    const events = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    for (const event of Array.isArray(events) ? events : [events]) {
      lags.push(now - Date.parse(event.receivedAt));
      delivered++;
    }
    firstDelivery ||= now;
    lastDelivery = now;
    response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
});
await new Promise((resolve) => sink.listen(0, '127.0.0.1', resolve));
const sinkUrl = `http://127.0.0.1:${sink.address().port}/events`;

const workspace = `
sources:
  - { id: bench, writeKey: ${WRITE_KEY} }
destinations:
  - id: sink
    type: webhook
    config: { url: "${sinkUrl}", batchSize: ${Number(values['batch-size'])} }
    delivery: { maxConcurrency: 16 }
${values.transformation ? `transformations:\n  - { id: tag, file: ${new URL('./tag-transformation.js', import.meta.url).pathname} }\n` : ''}connections:
  - { source: bench, destination: sink${values.transformation ? ', transformations: [tag]' : ''} }
`;

const database = await benchDatabase();
try {
  const sluice = await startSluice(database.url, {
    workspace,
    env: { SLUICE_WORKERS: values.workers },
  });
  const client = new Pool(sluice.url, { connections: 8 });
  const auth = `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}`;
  const nextEvent = eventTexts();
  let sent = 0;
  const send = async () => {
    const body = `{"batch":[${Array.from({ length: BATCH }, nextEvent).join(',')}],"sentAt":"${new Date().toISOString()}"}`;
    const response = await client.request({
      path: '/v1/batch',
      method: 'POST',
      headers: { authorization: auth },
      body,
    });
    await response.body.dump();
    if (response.statusCode === 200) sent += BATCH;
  };
  const started = Date.now();
  const deadline = started + seconds * 1000;
  if (values.rate) {
    // Open loop: a batch every 100/rate seconds, however long answers take.
    const interval = (BATCH / Number(values.rate)) * 1000;
    const inFlight = new Set();
    for (let next = started; next < deadline; next += interval) {
      await sleep(Math.max(0, next - Date.now()));
      const request = send().finally(() => inFlight.delete(request));
      inFlight.add(request);
    }
    await Promise.all(inFlight);
  } else {
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (Date.now() < deadline) await send();
      }),
    );
  }
  const sendSeconds = (Date.now() - started) / 1000;
  // Wait for the pipeline to drain (or give up after a minute of no progress).
  let seen = -1;
  let stalledSince = Date.now();
  while (delivered < sent && Date.now() - stalledSince < 60_000) {
    if (delivered !== seen) [seen, stalledSince] = [delivered, Date.now()];
    await sleep(100);
  }
  await client.close();
  await sluice.stop();

  lags.sort((a, b) => a - b);
  const span = (lastDelivery - started) / 1000;
  console.log(
    `bench/deliver  (${values.workers} Sluice worker(s), ${values.rate ? `offered ${fmt(Number(values.rate))} events/s` : '8 clients at full speed'}` +
      `, batches of ${BATCH}, webhook batchSize ${values['batch-size']}${values.transformation ? ', one transformation' : ''})`,
  );
  console.log(
    `  ingested   ${fmt(sent)} events in ${fmt(sendSeconds, 1)} s = ${fmt(sent / sendSeconds)} events/s`,
  );
  console.log(
    `  delivered  ${fmt(delivered)} events; end to end ${fmt(delivered / span)} events/s sustained (first send to last delivery)`,
  );
  console.log(
    `  delivery lag  p50 ${fmt(percentile(lags, 0.5))} ms  p99 ${fmt(percentile(lags, 0.99))} ms  max ${fmt(lags[lags.length - 1] ?? NaN)} ms`,
  );
  if (delivered < sent) console.log(`  NOT DELIVERED: ${fmt(sent - delivered)} events`);
  if (firstDelivery === 0) console.log('  nothing was delivered');
} finally {
  sink.close();
  await database.drop();
}
