// The example transformations in transformations/, loaded from disk as a workspace lists them and
// run through the real sandbox.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { loadTransformationCode } from '../../src/sandbox/load-transformation';
import type { TransformationSandbox } from '../../src/sandbox/transformation-sandbox';
import { code, createSandbox, eventsOf, localServer, runOn, trackEvent } from './helpers';

const workspace = {
  file: 'examples.yaml',
  dir: path.join(__dirname, '../..'),
  transformations: ['hash-pii', 'drop-bots', 'rename-events', 'enrich-from-api', 'fan-out'].map(
    (id) => ({ id, file: `transformations/${id}.js` }),
  ),
  libraries: [{ name: 'pii-utils', file: 'transformations/lib/pii-utils.js' }],
};

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

let sandbox: TransformationSandbox;
beforeEach(() => {
  sandbox = createSandbox({}, ['127.0.0.1']);
});
afterEach(() => sandbox.dispose());

describe('pii-utils', () => {
  test('sha256 matches node:crypto, across block boundaries and for any Unicode', async () => {
    const inputs = [
      '',
      'abc',
      'a'.repeat(55),
      'a'.repeat(56),
      'a'.repeat(64),
      'a'.repeat(1000),
      'grüße, 東京',
      'emoji 😀 and more',
      'lone surrogate \ud800 here',
    ];
    const hasher = code(
      `import { sha256 } from 'pii-utils';\nexport function transformEvent(e) { return { hashes: e.inputs.map(sha256) }; }`,
      { libraries: loadTransformationCode(workspace, 'hash-pii').libraries },
    );
    const run = await runOn(sandbox, hasher, [{ messageId: 'm', inputs }]);
    expect(eventsOf(run, 0)).toEqual([{ hashes: inputs.map(sha256) }]);
  });
});

test('hash-pii hashes normalized emails and phones and removes the IP', async () => {
  const identify = {
    type: 'identify',
    messageId: 'm-1',
    userId: 'u1',
    traits: { email: ' Ada@Example.COM ', phone: '+1 (555) 010-9999', name: 'Ada' },
    context: { ip: '203.0.113.9', traits: { email: 'ada@example.com' } },
  };
  const track = trackEvent(2, { properties: { email: 'bob@example.com', total: 10 } });
  const run = await runOn(sandbox, loadTransformationCode(workspace, 'hash-pii'), [
    identify,
    track,
  ]);
  expect(eventsOf(run, 0)).toEqual([
    {
      ...identify,
      traits: { email: sha256('ada@example.com'), phone: sha256('+15550109999'), name: 'Ada' },
      context: { traits: { email: sha256('ada@example.com') } },
    },
  ]);
  expect(eventsOf(run, 1)).toEqual([
    { ...track, properties: { email: sha256('bob@example.com'), total: 10 } },
  ]);
});

test('drop-bots drops crawlers and monitors, and keeps people and server-side events', async () => {
  const withAgent = (index: number, userAgent?: string) =>
    trackEvent(index, userAgent ? { context: { userAgent } } : {});
  const events = [
    withAgent(0, 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)'),
    withAgent(1, 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/120.0'),
    withAgent(2, 'Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)'),
    withAgent(
      3,
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15',
    ),
    withAgent(4),
  ];
  const run = await runOn(sandbox, loadTransformationCode(workspace, 'drop-bots'), events);
  expect(
    run.results.map((result) => ('events' in result ? result.events.length : 'error')),
  ).toEqual([0, 0, 0, 1, 1]);
});

test('rename-events renames listed track events and leaves the rest alone', async () => {
  const events = [
    trackEvent(0, { event: 'Order Completed' }),
    trackEvent(1, { event: 'Something Else' }),
    trackEvent(2, { event: 'constructor' }),
    { type: 'page', messageId: 'm-3', name: 'Order Completed' },
  ];
  const run = await runOn(sandbox, loadTransformationCode(workspace, 'rename-events'), events);
  expect(eventsOf(run, 0)).toEqual([
    {
      ...events[0],
      event: 'purchase',
      properties: { index: 0, original_event_name: 'Order Completed' },
    },
  ]);
  expect(eventsOf(run, 1)).toEqual([events[1]]);
  expect(eventsOf(run, 2)).toEqual([events[2]]);
  expect(eventsOf(run, 3)).toEqual([events[3]]);
});

test('enrich-from-api adds CRM data and degrades gracefully', async () => {
  const crm = await localServer((request, response) => {
    if (request.url === '/api/customers/user-1') {
      response.writeHead(200, { 'content-type': 'application/json' });
      return void response.end(JSON.stringify({ plan: 'enterprise', company: 'Acme' }));
    }
    response.writeHead(request.url === '/api/customers/user-2' ? 503 : 404);
    response.end();
  });
  try {
    // Generous limits: a fetch timing out on a loaded machine would read as the CRM failing.
    sandbox.setLimits({
      memoryLimitMb: 64,
      timeoutMs: 10_000,
      fetchTimeoutMs: 5000,
      fetchAllowList: ['127.0.0.1'],
      maxOutputsPerEvent: 1000,
    });
    const transformation = loadTransformationCode(workspace, 'enrich-from-api');
    // The example points at its CRM; the test points it at the local fake.
    transformation.source = transformation.source.replace('https://crm.example.com', crm.url);
    const events = [
      trackEvent(1),
      trackEvent(2),
      trackEvent(3),
      { ...trackEvent(4), userId: undefined },
    ];
    const run = await runOn(sandbox, transformation, events);
    expect(eventsOf(run, 0)).toEqual([
      { ...events[0], context: { traits: { plan: 'enterprise', company: 'Acme' } } },
    ]);
    expect(eventsOf(run, 1)).toEqual([events[1]]);
    expect(eventsOf(run, 2)).toEqual([events[2]]);
    expect(eventsOf(run, 3)).toEqual([JSON.parse(JSON.stringify(events[3]))]);
    expect(run.logs).toEqual([
      { level: 'log', message: 'no CRM data for user-2: the CRM answered 503', eventIndex: 1 },
    ]);
  } finally {
    await crm.close();
  }
});

test('fan-out adds one event per product and keeps the order', async () => {
  const order = trackEvent(0, {
    event: 'Order Completed',
    properties: {
      order_id: 'o-7',
      currency: 'EUR',
      products: [
        { product_id: 'p1', price: 10 },
        { product_id: 'p2', price: 5 },
      ],
    },
  });
  const other = trackEvent(1);
  const run = await runOn(sandbox, loadTransformationCode(workspace, 'fan-out'), [order, other]);
  expect(eventsOf(run, 0)).toEqual([
    order,
    {
      ...order,
      messageId: 'm-0-product-0',
      event: 'Product Purchased',
      properties: { order_id: 'o-7', currency: 'EUR', product_id: 'p1', price: 10 },
    },
    {
      ...order,
      messageId: 'm-0-product-1',
      event: 'Product Purchased',
      properties: { order_id: 'o-7', currency: 'EUR', product_id: 'p2', price: 5 },
    },
  ]);
  expect(eventsOf(run, 1)).toEqual([other]);
});
