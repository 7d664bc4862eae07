/**
 * The fuzz battery: events whose ids, names, keys and values hold every control character, lone
 * surrogates, invalid escapes, huge numbers and deep nesting, sent through every ingest route,
 * and a transformation that returns and throws such values; then good events from users in every
 * partition. The pipeline must neither stall nor lose anything: every good event is delivered, in
 * order per user, to both destinations; every hostile event is either refused at the gateway or,
 * once accepted, delivered exactly as sent or listed as failed.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { partitionOf } from '../../src/queue/partition';
import { eventually } from '../support/eventually';
import { startTestSluice, type TestSluice } from '../support/sluice';
import { createTestDatabase, type TestDatabase } from '../support/test-database';
import { startVendor, type VendorServer } from '../support/vendor-server';

const WRITE_KEY = 'fuzz-write-key';
const ADMIN_TOKEN = 'fuzz-admin-token-0123456789';
const AUTH = `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}`;

/** Every control character, lone and reversed surrogates, and other oddities of Unicode. */
const ODD_CHARACTERS = [
  ...Array.from({ length: 32 }, (_, code) => String.fromCharCode(code)),
  '\u007f',
  '\ud800',
  '\udfff',
  '\udc00\ud800',
  '\ufffe',
  '\ufeff',
  '\u2028',
  '\u0085',
];
const ALL_ODD = ODD_CHARACTERS.join('');

// The transformation on one of the two connections returns and throws such values.
const TRANSFORMATION = `
const ODD = ${JSON.stringify(ALL_ODD)};
export function transformEvent(event) {
  switch (event.properties?.mode) {
    case 'return-odd':
      return { ...event, properties: { ...event.properties, odd: ODD, [ODD]: ODD }, context: { ...event.context, [ODD]: [ODD] } };
    case 'return-odd-id': return { ...event, messageId: 'id' + ODD };
    case 'return-huge': return { ...event, properties: { ...event.properties, big: 1e308 * 10, small: -Number.MAX_VALUE, nan: NaN } };
    case 'return-bigint': return { ...event, properties: { ...event.properties, big: 2n ** 64n } };
    case 'throw-odd': throw new Error('boom ' + ODD);
    case 'throw-value': throw { message: ODD, [ODD]: ODD };
    case 'fan-out': return Array.from({ length: 5000 }, (_, i) => ({ ...event, messageId: event.messageId + i }));
    case 'deep-output': {
      let deep = {};
      for (let i = 0; i < 5000; i++) deep = { deep };
      return { ...event, properties: { ...event.properties, deep } };
    }
    default: return event;
  }
}
`;

let database: TestDatabase;
let vendor: VendorServer;
let sluice: TestSluice;

beforeAll(async () => {
  database = await createTestDatabase();
  vendor = await startVendor();
  sluice = await startTestSluice(database, {
    workspace: `
sources:
  - { id: api, writeKey: ${WRITE_KEY} }
destinations:
  - { id: plain, type: webhook, config: { url: "${vendor.url}/plain", batchSize: 50 } }
  - { id: shaped, type: webhook, config: { url: "${vendor.url}/shaped", batchSize: 50 } }
transformations:
  - { id: odd, file: odd.js }
connections:
  - { source: api, destination: plain }
  - { source: api, destination: shaped, transformations: [odd] }
`,
    settings: { adminToken: ADMIN_TOKEN },
  });
  writeFileSync(path.join(path.dirname(sluice.workspaceFile), 'odd.js'), TRANSFORMATION);
});
afterAll(async () => {
  await sluice?.stop();
  await vendor?.close();
  await database?.drop();
});

type Event = Record<string, unknown> & { type: string; properties: { fuzz: string } };

/** Hostile events, each marked with its case name in properties.fuzz. */
function hostileEvents(): Event[] {
  const events: Event[] = [];
  const add = (name: string, fields: Record<string, unknown>) =>
    events.push({
      type: 'track',
      userId: 'fuzzer',
      event: 'Fuzz',
      ...fields,
      properties: { ...(fields.properties as object), fuzz: name },
    } as Event);
  ODD_CHARACTERS.forEach((odd, i) => {
    const text = `a${odd}b`;
    add(`userId ${i}`, { userId: text });
    add(`anonymousId ${i}`, { userId: undefined, anonymousId: text });
    add(`messageId ${i}`, { messageId: `m-${i}-${text}` });
    add(`event ${i}`, { event: text });
    add(`value ${i}`, { properties: { value: text } });
    add(`key ${i}`, { properties: { [text]: 1 } });
    add(`context ${i}`, { context: { [text]: text, ip: text, page: { url: text } } });
    add(`traits ${i}`, { type: 'identify', event: undefined, traits: { [text]: text } });
    add(`integrations ${i}`, { integrations: { [text]: true, All: true } });
    add(`groupId ${i}`, { type: 'group', event: undefined, groupId: text });
    add(`previousId ${i}`, { type: 'alias', event: undefined, previousId: text });
    add(`name ${i}`, { type: 'page', event: undefined, name: text });
    add(`screen ${i}`, { type: 'screen', event: undefined, name: text });
  });
  add('all odd', { event: ALL_ODD, properties: { [ALL_ODD]: ALL_ODD, list: [ALL_ODD] } });
  add('numbers', {
    properties: { max: Number.MAX_VALUE, min: Number.MIN_VALUE, unsafe: 2 ** 60, negative: -0 },
  });
  add('proto', { context: JSON.parse('{"__proto__": {"ip": "6.6.6.6"}, "constructor": 1}') });
  for (const depth of [30, 60, 62, 63, 64, 65, 200]) {
    let deep: unknown = 'bottom';
    for (let i = 0; i < depth; i++) deep = { deep };
    add(`depth ${depth}`, { properties: { deep } });
  }
  return events;
}

/** What the transformation is asked to return or throw (see TRANSFORMATION). */
const MODES = [
  'return-odd',
  'return-odd-id',
  'return-huge',
  'return-bigint',
  'throw-odd',
  'throw-value',
  'fan-out',
  'deep-output',
];

/** Bodies that are not valid JSON or UTF-8, each with a marker that must never be delivered. */
function invalidBodies(): Array<{ name: string; body: Buffer }> {
  const track = (inner: string) => `{"userId":"u","event":"E","properties":{"fuzz":"${inner}"`;
  return [
    { name: 'raw control', body: Buffer.from(`${track('raw control\u0001')}}}`) },
    { name: 'raw nul', body: Buffer.from(`${track('raw nul\u0000')}}}`) },
    { name: 'escape x', body: Buffer.from(`${track('escape x\\x41')}}}`) },
    { name: 'short u', body: Buffer.from(`${track('short u\\u12')}}}`) },
    { name: 'truncated', body: Buffer.from(track('truncated')) },
    {
      name: 'invalid utf-8',
      body: Buffer.concat([
        Buffer.from(track('invalid utf-8')),
        Buffer.from([0xff, 0xfe]),
        Buffer.from('"}}'),
      ]),
    },
    {
      name: 'overlong utf-8',
      body: Buffer.concat([
        Buffer.from(track('overlong utf-8')),
        Buffer.from([0xc0, 0xaf]),
        Buffer.from('"}}'),
      ]),
    },
  ];
}

const SINGLE_PATHS: Record<string, string[]> = {
  track: ['/v1/track', '/v1/t', '/track'],
  identify: ['/v1/identify', '/v1/i', '/identify'],
  page: ['/v1/page', '/v1/p', '/page'],
  screen: ['/v1/screen', '/v1/s', '/screen'],
  group: ['/v1/group', '/v1/g', '/group'],
  alias: ['/v1/alias', '/v1/a', '/alias'],
};
const BATCH_PATHS = ['/v1/batch', '/v1/b', '/v1/import', '/beacon/v1/batch', '/batch'];

async function post(
  route: string,
  body: string | Buffer,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${sluice.url}${route}`, {
    method: 'POST',
    headers: { Authorization: AUTH, 'Content-Type': 'application/json' },
    body,
  });
  const text = await response.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // Not every refusal need be JSON; the status says enough.
  }
  return { status: response.status, json };
}

/** Sends each event by one of the routes; returns the cases the gateway answered as accepted. */
async function sendAll(events: Event[]): Promise<{ accepted: Set<string>; unknown: Set<string> }> {
  const accepted = new Set<string>();
  // The pixel always answers with an image: whether it stored the event is not in the answer.
  const unknown = new Set<string>();
  const batch: Event[] = [];
  let batches = 0;
  const flushBatch = async () => {
    if (batch.length === 0) return;
    const route = BATCH_PATHS[batches++ % BATCH_PATHS.length];
    const { status, json } = await post(route, JSON.stringify({ batch }));
    expect(status === 200 || status === 400).toBe(true);
    if (status === 200) {
      const rejected = new Set(
        ((json.rejected ?? []) as Array<{ index: number }>).map((entry) => entry.index),
      );
      batch.forEach((event, index) => {
        if (!rejected.has(index)) accepted.add(event.properties.fuzz);
      });
    }
    batch.length = 0;
  };
  for (const [i, event] of events.entries()) {
    const paths = SINGLE_PATHS[event.type];
    if (i % 5 === 3) {
      batch.push(event);
      if (batch.length === 10) await flushBatch();
    } else if (i % 5 === 4) {
      const data = Buffer.from(JSON.stringify(event)).toString('base64');
      const response = await fetch(
        `${sluice.url}/v1/pixel/${event.type}?writeKey=${WRITE_KEY}&data=${encodeURIComponent(data)}`,
      );
      expect(response.status).toBe(200);
      unknown.add(event.properties.fuzz);
    } else {
      const { status } = await post(paths[i % paths.length], JSON.stringify(event));
      // A refusal is a 4xx that names the problem; never a 5xx.
      expect(status === 200 || (status >= 400 && status < 500)).toBe(true);
      if (status === 200) accepted.add(event.properties.fuzz);
    }
  }
  await flushBatch();
  return { accepted, unknown };
}

/** A user of each of the 64 partitions. */
function usersOfEveryPartition(): string[] {
  const users = new Map<number, string>();
  for (let i = 0; users.size < 64; i++) {
    const user = `good-${i}`;
    if (!users.has(partitionOf(user))) users.set(partitionOf(user), user);
  }
  return [...users.values()];
}

function delivered(destination: string): Array<Record<string, unknown>> {
  return vendor.requests
    .filter((request) => request.path === `/${destination}`)
    .flatMap((request) => JSON.parse(request.body) as Array<Record<string, unknown>>);
}

async function failedCases(destination: string): Promise<string[]> {
  const response = await fetch(
    `${sluice.url}/admin/failed-events?destination=${destination}&limit=1000`,
    { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } },
  );
  const { failedEvents } = (await response.json()) as {
    failedEvents: Array<{ event: { properties?: { fuzz?: string } } }>;
  };
  return failedEvents.map((row) => row.event.properties?.fuzz ?? '?');
}

const fuzzOf = (event: Record<string, unknown>) =>
  (event.properties as { fuzz?: string } | undefined)?.fuzz;

test('hostile input neither stalls nor leaks: good events all arrive, bad ones are refused or failed', async () => {
  const events = hostileEvents();
  const { accepted, unknown } = await sendAll(events);
  for (const mode of MODES) {
    const event = { userId: 'fuzzer', event: 'Mode', properties: { mode, fuzz: `mode ${mode}` } };
    expect((await post('/v1/track', JSON.stringify(event))).status).toBe(200);
    accepted.add(`mode ${mode}`);
  }
  for (const { body } of invalidBodies()) {
    for (const route of ['/v1/track', '/v1/batch']) {
      const { status, json } = await post(route, body);
      expect(status).toBe(400);
      expect(json.code).toMatch(/^SLUICE_E_/);
    }
  }

  // Numbers beyond a double are valid JSON: they arrive as the nearest JSON can say (null, 0).
  const huge = '{"userId":"u","event":"E","properties":{"fuzz":"huge","n":1e99999,"t":1e-99999}}';
  expect((await post('/v1/track', huge)).status).toBe(200);
  accepted.add('huge');

  const users = usersOfEveryPartition();
  for (const step of [1, 2, 3]) {
    const batch = users.map((userId) => ({
      type: 'track',
      userId,
      event: `Good ${step}`,
      messageId: `good-${userId}-${step}`,
      properties: { step },
    }));
    expect((await post('/v1/batch', JSON.stringify({ batch }))).status).toBe(200);
  }

  // Every good event reaches both destinations, in order per user.
  for (const destination of ['plain', 'shaped']) {
    await eventually(() => {
      const steps = new Map<string, number[]>();
      for (const event of delivered(destination)) {
        if (typeof event.event === 'string' && event.event.startsWith('Good ')) {
          const list = steps.get(event.userId as string) ?? [];
          list.push((event.properties as { step: number }).step);
          steps.set(event.userId as string, list);
        }
      }
      expect(users.filter((user) => steps.get(user)?.join() !== '1,2,3')).toEqual([]);
    }, 60_000);
  }

  // Every hostile event the gateway accepted is delivered or listed as failed, per destination;
  // the refused and the invalid bodies are nowhere.
  const plainCases = new Set(delivered('plain').map(fuzzOf));
  const shapedCases = new Set(delivered('shaped').map(fuzzOf));
  const failedPlain = new Set(await failedCases('plain'));
  const failedShaped = new Set(await failedCases('shaped'));
  for (const name of accepted) {
    expect([name, plainCases.has(name) || failedPlain.has(name)]).toEqual([name, true]);
    expect([name, shapedCases.has(name) || failedShaped.has(name)]).toEqual([name, true]);
  }
  const sent = new Set(events.map((event) => event.properties.fuzz));
  for (const name of [...plainCases, ...shapedCases, ...failedPlain, ...failedShaped]) {
    if (name === undefined || !sent.has(name)) continue;
    expect([name, accepted.has(name) || unknown.has(name)]).toEqual([name, true]);
  }
  for (const { name } of invalidBodies()) {
    expect([...plainCases, ...shapedCases].includes(name)).toBe(false);
  }
  // Nothing accepted was lost: the gateway's count matches what came out of the plain connection.
  const acceptedCount = (await sluice.metrics.eventsAccepted.get()).values.reduce(
    (sum, value) => sum + value.value,
    0,
  );
  expect(plainCases.size - (plainCases.has(undefined) ? 1 : 0) + failedPlain.size).toBe(
    acceptedCount - users.length * 3,
  );

  // What was accepted arrives exactly as sent: JSON escapes stay escapes.
  const plainByCase = new Map(delivered('plain').map((event) => [fuzzOf(event), event]));
  for (const event of events) {
    const arrived = plainByCase.get(event.properties.fuzz);
    if (!arrived) continue;
    expect(arrived.properties).toEqual(JSON.parse(JSON.stringify(event.properties)));
    if (typeof event.event === 'string') expect(arrived.event).toBe(event.event);
  }
  expect(plainByCase.get('huge')?.properties).toEqual({ fuzz: 'huge', n: null, t: 0 });
  const oddOutput = delivered('shaped').find((event) => fuzzOf(event) === 'mode return-odd');
  expect(oddOutput?.properties).toMatchObject({ odd: ALL_ODD, [ALL_ODD]: ALL_ODD });

  // The transformation's hostile returns and throws are failed events with storable errors.
  for (const mode of ['throw-odd', 'throw-value', 'fan-out', 'return-bigint', 'deep-output']) {
    expect([mode, failedShaped.has(`mode ${mode}`)]).toEqual([mode, true]);
  }

  // Nothing is left behind in the ingest queue or the delivery queue.
  await eventually(async () => {
    const { rows } = await sluice.database.pool.query(
      `SELECT (SELECT count(*)::int FROM ingest_jobs j JOIN ingest_cursors c USING (partition)
               WHERE (j.txid, j.id) > (c.txid, c.id)) AS ingest,
              (SELECT count(*)::int FROM delivery_jobs) AS deliveries`,
    );
    expect(rows[0]).toEqual({ ingest: 0, deliveries: 0 });
  }, 30_000);
  const health = await fetch(`${sluice.url}/health`);
  expect(health.status).toBe(200);
}, 180_000);
