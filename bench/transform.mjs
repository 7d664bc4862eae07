// bench/transform: events per second through a trivial user transformation (lowercase the email,
// add a property, delete the IP, drop 2% of events) run in the isolated-vm sandbox, next to the
// same module called in-process, on ~730-byte track events given as JSON text (as the queue
// stores them). Two contracts are measured, each against its in-process equivalent:
//   objects: JSON text in, parsed objects out      (sandbox.run default)
//   json:    JSON text in, JSON text out           (sandbox.run output: 'json')
// Each round measures both paths in alternating slices; the ratio printed is the median of the
// rounds' own ratios (each round's two figures come from the same minutes of the machine), with
// the lowest and highest beside it. The default batch is the processor's chunk (2000 events: one
// sandbox.run per transformation per chunk at full load); --batch 500 shows a smaller run, where
// filling and draining the isolate's queue counts for more.
// Prints figures; never passes or fails.
//   npm run build && node --no-node-snapshot bench/transform.mjs [--batch 2000] [--events 200000]
import { parseArgs } from 'node:util';
import pino from 'pino';
import { TransformationSandbox } from '../dist/src/sandbox/transformation-sandbox.js';
import { fmt, sampleEvent } from './lib.mjs';

const { values } = parseArgs({
  options: {
    batch: { type: 'string', default: '2000' },
    events: { type: 'string', default: '200000' },
    rounds: { type: 'string', default: '5' },
    // isolated-vm sizes an isolate's young generation from its memory limit (2 MB at 128 MB,
    // 4 MB at 256 MB), which shows in JSON-heavy work.
    memory: { type: 'string', default: '128' },
  },
});
const BATCH = Number(values.batch);
const EVENTS = Math.ceil(Number(values.events) / BATCH) * BATCH;
const ROUNDS = Number(values.rounds);

const SOURCE = `
export function transformEvent(event) {
  // Drop one product in 50 (2% of events).
  if (Number(event.properties.product_id.slice(4)) % 50 === 0) return null;
  event.properties.email = event.properties.email.toLowerCase();
  event.properties.enriched = true;
  delete event.context.ip;
  return event;
}
`;

/** sampleEvent with an email and an IP, trimmed to about 730 bytes. */
function benchEvent(i) {
  const event = sampleEvent(i);
  delete event.anonymousId;
  event.properties.email = `Shopper.${String(i % 10_000).padStart(5, '0')}@Example-Store.COM`;
  event.context.ip = `203.0.113.${i % 250}`;
  return event;
}

const POOL = 20_000;
const texts = Array.from({ length: POOL }, (_, i) => JSON.stringify(benchEvent(i)));
const metadata = texts.map((_, i) => ({
  sourceId: 'web',
  sourceName: 'Website',
  destinationId: 'amp',
  destinationName: 'Amplitude',
  destinationType: 'AMPLITUDE',
  messageId: `bench-${i}`,
  receivedAt: '2024-05-01T10:00:00.000Z',
}));
const batches = [];
for (let start = 0; start + BATCH <= POOL; start += BATCH) {
  batches.push({
    texts: texts.slice(start, start + BATCH),
    metadata: metadata.slice(start, start + BATCH),
  });
}

const { transformEvent } = await import(`data:text/javascript,${encodeURIComponent(SOURCE)}`);

/** The same work without a sandbox: parse, transform, (stringify), collect per-event results. */
function inProcess(batch, output) {
  const results = new Array(batch.texts.length);
  for (let i = 0; i < batch.texts.length; i++) {
    const out = transformEvent(JSON.parse(batch.texts[i]), batch.metadata[i]);
    if (out == null) results[i] = { events: [] };
    else results[i] = { events: [output === 'json' ? JSON.stringify(out) : out] };
  }
  return results;
}

const sandbox = new TransformationSandbox({
  limits: {
    memoryLimitMb: Number(values.memory),
    timeoutMs: 4000,
    fetchTimeoutMs: 2000,
    fetchAllowList: [],
    maxOutputsPerEvent: 1000,
  },
  logger: pino({ level: 'silent' }),
});
const code = { id: 'bench', name: 'bench.js', source: SOURCE, libraries: [] };

/**
 * Events/s of each path over EVENTS events, run in alternating slices of SLICE events so that
 * both see the same machine: on a shared 2-core machine the speed of either drifts by ±20% from
 * minute to minute, which separate runs would read as a difference between the paths.
 */
const SLICE = 10 * BATCH;
async function compare(paths) {
  const seconds = paths.map(() => 0);
  const kept = paths.map(() => 0);
  for (let done = 0; done < EVENTS; done += SLICE) {
    for (let p = 0; p < paths.length; p++) {
      const started = performance.now();
      for (let b = 0; b < SLICE; b += BATCH) {
        const results = await paths[p](batches[((done + b) / BATCH) % batches.length]);
        for (const result of results) kept[p] += result.events.length;
      }
      seconds[p] += (performance.now() - started) / 1000;
    }
  }
  if (kept.some((count) => count !== kept[0])) throw new Error('the paths disagree');
  return seconds.map((s) => EVENTS / s);
}

const figures = { objects: { sandbox: [], inProcess: [] }, json: { sandbox: [], inProcess: [] } };
await compare([async (batch) => (await sandbox.run(code, batch.texts, batch.metadata)).results]);
for (let round = 0; round < ROUNDS; round++) {
  for (const output of ['objects', 'json']) {
    const [viaSandbox, direct] = await compare([
      async (batch) => (await sandbox.run(code, batch.texts, batch.metadata, { output })).results,
      async (batch) => inProcess(batch, output),
    ]);
    figures[output].sandbox.push(viaSandbox);
    figures[output].inProcess.push(direct);
  }
}
sandbox.dispose();

const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];
console.log(
  `bench/transform  (${fmt(EVENTS)} events per measurement, batches of ${BATCH}, events of ` +
    `~${Buffer.byteLength(texts[0])} B, ${values.memory} MB isolate, ${ROUNDS} rounds)`,
);
for (const output of ['objects', 'json']) {
  const { sandbox: viaSandbox, inProcess: direct } = figures[output];
  const ratios = viaSandbox.map((rate, round) => (100 * rate) / direct[round]);
  console.log(
    `  ${output.padEnd(8)} sandbox ${fmt(median(viaSandbox)).padStart(9)} events/s   in-process ` +
      `${fmt(median(direct)).padStart(9)} events/s   ratio ${fmt(median(ratios))}% ` +
      `(rounds ${fmt(Math.min(...ratios))}–${fmt(Math.max(...ratios))}%)`,
  );
}
