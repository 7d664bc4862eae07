/**
 * The router against destinations that answer badly or with hostile intent, played by local
 * servers: an endless body, a huge body, redirects to another host or in a loop, and a vendor
 * that echoes the credentials it was sent. Each delivery ends with an outcome, promptly, and
 * nothing stored or served holds a credential.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { toolDestinationOf, validateDestinationConfig } from '../../destinations';
import type { Destination } from '../../destinations/destination';
import { listDeadLetters } from '../../src/router/dead-letters';
import { MAX_RESPONSE_BYTES } from '../../src/router/read-response';
import { MAX_REDIRECTS } from '../../src/router/redirects';
import { deadLetterRows, enqueueDeliveries, queuedJobs, testHook } from '../support/deliveries';
import { eventually } from '../support/eventually';
import { routerTestbed } from '../support/router-testbed';
import { startVendor, type VendorServer } from '../support/vendor-server';

const testbed = routerTestbed();
/** Another host, that a redirect may point to. */
let other: VendorServer;

beforeAll(async () => {
  other = await startVendor();
});
afterAll(() => other?.close());
beforeEach(() => {
  other.requests.length = 0;
});

/**
 * A worker with a long timeout (a delivery that ends promptly does so because of a bound, not
 * the timeout) and in-process retries allowed (a test sees a failure that would be sent again).
 */
function worker<Config>(destination: Destination<Config>, config: Config) {
  return testbed.worker(destination, config, {
    policy: { timeoutMs: 60_000 },
    options: { quickRetries: 2 },
  });
}

/** The one dead letter of the test, once it is there. */
async function onlyDeadLetter() {
  return eventually(async () => {
    const letters = await deadLetterRows(testbed.database.pool, 'hook');
    expect(letters).toHaveLength(1);
    return letters[0];
  });
}

describe('response bodies are read up to MAX_RESPONSE_BYTES', () => {
  test('an endless body: the delivery ends promptly, and the router stops reading it', async () => {
    // A vendor that answers 400 and streams its body for ever, as fast as it is read.
    let written = 0;
    let closed = false;
    const endless = http.createServer((request, response) => {
      request.resume();
      response.writeHead(400, { 'content-type': 'text/plain' });
      const chunk = Buffer.alloc(64 * 1024, 'x');
      const write = () => {
        while (!closed && response.write(chunk)) written += chunk.length;
      };
      response.on('drain', write);
      response.on('close', () => (closed = true));
      write();
    });
    await new Promise<void>((resolve) => endless.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = endless.address() as AddressInfo;
      await enqueueDeliveries(testbed.database.pool, 'hook', [{ userId: 'u1', event: 'A' }]);
      worker(testHook(), { url: `http://127.0.0.1:${port}/` }).start();
      const letter = await onlyDeadLetter();
      expect(letter.reason).toMatch(/^HTTP 400: x{300}…$/);
      const response = JSON.parse(letter.last_response);
      expect(response).toMatchObject({ status: 400, truncated: true });
      expect(response.body).toBe('x'.repeat(MAX_RESPONSE_BYTES));
      // The router closed the stream: the vendor could write no more than the socket buffers
      // hold, so nothing grew with the body.
      await eventually(() => expect(closed).toBe(true));
      expect(written).toBeLessThan(64 * 1024 * 1024);
    } finally {
      endless.closeAllConnections();
      await new Promise((resolve) => endless.close(resolve));
    }
  });

  test('a 400 with a 10 MB body: the dead letter keeps at most the limit, marked truncated', async () => {
    testbed.vendor.script = () => ({ status: 400, body: `{"error":"${'e'.repeat(10_000_000)}"}` });
    await enqueueDeliveries(testbed.database.pool, 'hook', [{ userId: 'u1', event: 'A' }]);
    await worker(testHook(), { url: testbed.vendor.url }).runOnce();
    const letter = await onlyDeadLetter();
    const response = JSON.parse(letter.last_response);
    expect(response.truncated).toBe(true);
    expect(Buffer.byteLength(response.body)).toBeLessThanOrEqual(MAX_RESPONSE_BYTES);
    expect(letter.last_response.length).toBeLessThan(MAX_RESPONSE_BYTES + 1024);
    expect(letter.reason.length).toBeLessThan(400);
  });
});

describe('redirects', () => {
  test('a 307 to another host is not followed: it receives nothing, and the event is dead-lettered', async () => {
    testbed.vendor.script = () => ({
      status: 307,
      headers: { location: `${other.url}/collect?steal=1` },
    });
    await enqueueDeliveries(testbed.database.pool, 'hook', [{ userId: 'u1', event: 'A' }]);
    await worker(testHook(), { url: `${testbed.vendor.url}/in` }).runOnce();
    expect(other.requests).toEqual([]);
    expect(testbed.vendor.requests).toHaveLength(1);
    const letter = await onlyDeadLetter();
    expect(letter.reason).toBe(
      `HTTP 307 redirect to another host (${other.url}) not followed: credentials and events` +
        ` go only to the configured ${testbed.vendor.url}`,
    );
    expect(await queuedJobs(testbed.database.pool, 'hook')).toEqual([]);
  });

  test('a redirect loop is one failed delivery, not a storm of requests', async () => {
    testbed.vendor.script = () => ({ status: 307, headers: { location: '/in' } });
    await enqueueDeliveries(testbed.database.pool, 'hook', [{ userId: 'u1', event: 'A' }]);
    await worker(testHook(), { url: `${testbed.vendor.url}/in` }).runOnce();
    // The request, then MAX_REDIRECTS hops; no in-process retry, no persistent retry.
    expect(testbed.vendor.requests).toHaveLength(1 + MAX_REDIRECTS);
    const letter = await onlyDeadLetter();
    expect(letter.reason).toBe(`HTTP 307: more than ${MAX_REDIRECTS} redirects (a redirect loop?)`);
  });

  test('a 307 to the same host is followed with the method, headers and body', async () => {
    testbed.vendor.script = (request) =>
      request.path === '/old' ? { status: 307, headers: { location: '/new' } } : { status: 200 };
    await enqueueDeliveries(testbed.database.pool, 'hook', [{ userId: 'u1', event: 'A' }]);
    await worker(testHook(), { url: `${testbed.vendor.url}/old` }).runOnce();
    const [first, followed] = testbed.vendor.requests;
    expect(followed).toMatchObject({ method: 'POST', path: '/new', body: first.body });
    expect(followed.headers.authorization).toBe('Bearer secret-token');
    expect(await queuedJobs(testbed.database.pool, 'hook')).toEqual([]);
    expect(await deadLetterRows(testbed.database.pool, 'hook')).toEqual([]);
  });

  test('a 302 is not followed (it would turn the POST into a GET without the events)', async () => {
    testbed.vendor.script = (request) =>
      request.path === '/old' ? { status: 302, headers: { location: '/new' } } : { status: 200 };
    await enqueueDeliveries(testbed.database.pool, 'hook', [{ userId: 'u1', event: 'A' }]);
    await worker(testHook(), { url: `${testbed.vendor.url}/old` }).runOnce();
    expect(testbed.vendor.requests.map((request) => request.path)).toEqual(['/old']);
    const letter = await onlyDeadLetter();
    expect(letter.reason).toMatch(/^HTTP 302 redirect to \/new not followed: only 307 and 308/);
  });
});

describe('credentials are masked in everything stored or served', () => {
  // A webhook whose URL and custom header carry secrets; '+' and '/' are escaped on the wire.
  const SIGNATURE = 'sig+Q9/secret-4711';
  const HEADER_SECRET = 'xsig_live_8f3a9c2e1b7d';
  const SECRETS = [SIGNATURE, encodeURIComponent(SIGNATURE), HEADER_SECRET];

  function echoingWebhook() {
    // The vendor echoes what it received, in its headers and body, with 400 or 500.
    testbed.vendor.script = (request) => {
      const echo = { path: request.path, headers: request.headers };
      const status = request.body.includes('"Bad"') ? 400 : 500;
      return {
        status,
        headers: { 'x-echo-signature': String(request.headers['x-signature']) },
        body: JSON.stringify({ error: 'refused', echo }),
      };
    };
    const webhook = toolDestinationOf('webhook')!;
    const config = validateDestinationConfig({
      type: 'webhook',
      config: {
        url: `${testbed.vendor.url}/hook?sig=${encodeURIComponent(SIGNATURE)}`,
        headers: { 'X-Signature': HEADER_SECRET },
      },
    });
    return worker(webhook, config);
  }

  test('dead letters (request, response headers and body, reason) and last_error', async () => {
    await enqueueDeliveries(testbed.database.pool, 'hook', [
      { userId: 'u1', event: 'Bad' },
      { userId: 'u2', event: 'Busy' },
    ]);
    await echoingWebhook().runOnce();
    // The vendor did get the secrets and echoed them...
    expect(testbed.vendor.requests[0].headers['x-signature']).toBe(HEADER_SECRET);
    expect(testbed.vendor.requests[0].path).toContain(encodeURIComponent(SIGNATURE));

    const [letter] = await deadLetterRows(testbed.database.pool, 'hook');
    const [retried] = await queuedJobs(testbed.database.pool, 'hook');
    expect(retried.attempts).toBe(1);
    const served = JSON.stringify(
      await listDeadLetters(testbed.database.pool, { destinationId: 'hook' }),
    );
    const stored = {
      reason: letter.reason,
      request: letter.last_request,
      response: letter.last_response,
      lastError: retried.last_error,
      served,
    };
    // ...and everything kept shows where they were, masked.
    for (const [where, text] of Object.entries(stored)) {
      for (const secret of SECRETS) expect(`${where}: ${text}`).not.toContain(secret);
      expect(text).toContain('[redacted]');
    }
    const response = JSON.parse(letter.last_response);
    expect(response.headers['x-echo-signature']).toBe('[redacted]');
    expect(JSON.parse(letter.last_request).headers['X-Signature']).toBe('[redacted]');
    expect(retried.last_error).toMatch(/^HTTP 500: /);
  });
});
