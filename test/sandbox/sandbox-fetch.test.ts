// fetch inside the sandbox against a local server: the Response-like object, the allow-list, the
// private-address block (after DNS and on every redirect), redirects and the time limits.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import { CALL_EVENTS, type TransformationSandbox } from '../../src/sandbox/transformation-sandbox';
import {
  code,
  createSandbox,
  errorOf,
  eventsOf,
  localServer,
  runOn,
  TEST_LIMITS,
  type LocalServer,
} from './helpers';
import { eventually } from '../support/eventually';

let server: LocalServer;
const aborted: string[] = [];

function route(request: IncomingMessage, response: ServerResponse): void {
  const url = new URL(request.url ?? '/', 'http://local');
  const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
    response.writeHead(status, { 'content-type': 'application/json', ...headers });
    response.end(JSON.stringify(body));
  };
  switch (url.pathname) {
    case '/users/42':
      return json(200, { plan: 'pro' }, { 'x-request-id': 'abc' });
    case '/echo': {
      let body = '';
      request.on('data', (chunk) => (body += chunk));
      request.on('end', () =>
        json(201, { method: request.method, auth: request.headers.authorization, body }),
      );
      return;
    }
    case '/redirect':
      response.writeHead(302, { location: url.searchParams.get('to') ?? '/users/42' });
      return void response.end();
    case '/redirect-307':
      response.writeHead(307, { location: '/echo' });
      return void response.end();
    case '/loop':
      response.writeHead(307, { location: '/loop' });
      return void response.end();
    case '/query':
      return json(200, { query: url.search });
    case '/gzip':
      response.writeHead(200, { 'content-encoding': 'gzip' });
      return void response.end(gzipSync('compressed text'));
    case '/slow':
      request.on('close', () => aborted.push(request.url ?? ''));
      return; // never answers
    default:
      return json(404, { error: 'not found' });
  }
}

beforeAll(async () => {
  server = await localServer(route);
});
afterAll(() => server.close());

let sandbox: TransformationSandbox;
afterEach(() => sandbox?.dispose());

/** A transformation that fetches `event.url` with `event.init` and reports what happened. */
const fetcher = code(`
  export async function transformEvent(event) {
    try {
      const response = await fetch(event.url, event.init);
      return {
        status: response.status, ok: response.ok, url: response.url, redirected: response.redirected,
        contentType: response.headers.get('Content-Type'), requestId: response.headers['x-request-id'],
        body: response.body, json: response.headers.get('content-type') ? await response.json() : null,
      };
    } catch (error) {
      return { error: error.message };
    }
  }
`);

async function fetchVia(
  url: string,
  init?: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const run = await runOn(sandbox, fetcher, [{ messageId: 'm', url, init }]);
  return eventsOf(run, 0)[0] as Record<string, unknown>;
}

describe('with the local server allowed', () => {
  // Fetches that get an answer have a generous time limit (a hundred at once took over 500 ms on
  // a loaded machine); the tests of fetches that never get one set a short limit.
  beforeEach(() => {
    sandbox = createSandbox({ fetchAllowList: ['127.0.0.1'], fetchTimeoutMs: 5000 }, true);
  });
  const withShortFetchLimit = () =>
    sandbox.setLimits({ ...TEST_LIMITS, fetchAllowList: ['127.0.0.1'], fetchTimeoutMs: 500 });

  test('GET returns a Response-like object with status, headers, body and json()', async () => {
    expect(await fetchVia(`${server.url}/users/42`)).toEqual({
      status: 200,
      ok: true,
      url: `${server.url}/users/42`,
      redirected: false,
      contentType: 'application/json',
      requestId: 'abc',
      body: '{"plan":"pro"}',
      json: { plan: 'pro' },
    });
  });

  test('POST sends the method, headers and string body', async () => {
    const result = await fetchVia(`${server.url}/echo`, {
      method: 'post',
      headers: { Authorization: 'Bearer t' },
      body: JSON.stringify({ a: 1 }),
    });
    expect(result).toMatchObject({
      status: 201,
      json: { method: 'POST', auth: 'Bearer t', body: '{"a":1}' },
    });
  });

  test('a POST redirected with 302 becomes a GET; with 307 it stays a POST', async () => {
    const post = { method: 'POST', body: 'payload' };
    expect(await fetchVia(`${server.url}/redirect?to=/echo`, post)).toMatchObject({
      json: { method: 'GET', body: '' },
    });
    expect(await fetchVia(`${server.url}/redirect-307`, post)).toMatchObject({
      json: { method: 'POST', body: 'payload' },
    });
  });

  test('a non-string body is refused inside the sandbox', async () => {
    expect(await fetchVia(`${server.url}/echo`, { method: 'POST', body: { a: 1 } })).toEqual({
      error: 'fetch: init.body must be a string; use JSON.stringify(value)',
    });
  });

  test('redirects on an allowed host are followed, at most five', async () => {
    expect(await fetchVia(`${server.url}/redirect`)).toMatchObject({
      status: 200,
      redirected: true,
      url: `${server.url}/users/42`,
    });
    expect(await fetchVia(`${server.url}/loop`)).toEqual({
      error: `fetch ${server.url}/loop: more than 5 redirects`,
    });
  });

  test('a compressed body is decoded, and json() rejects a body that is not JSON', async () => {
    expect(await fetchVia(`${server.url}/gzip`)).toMatchObject({ body: 'compressed text' });
    const parsesJson = code(
      'export async function transformEvent(e) {\n  return await (await fetch(e.url)).json();\n}',
      { name: 'parses-json.js' },
    );
    const run = await runOn(sandbox, parsesJson, [{ messageId: 'm', url: `${server.url}/gzip` }]);
    expect(errorOf(run, 0).message).toMatch(/^SyntaxError: .*JSON/);
    expect(errorOf(run, 0).stack).toMatch(/parses-json\.js:2/);
  });

  test('a redirect to a host off the allow-list is refused', async () => {
    const to = `http://localhost:${server.port}/users/42`;
    expect(await fetchVia(`${server.url}/redirect?to=${encodeURIComponent(to)}`)).toEqual({
      error: `fetch ${to}: host localhost is not in sandbox.fetchAllowList`,
    });
  });

  test('only http and https can be fetched', async () => {
    expect(await fetchVia('file:///etc/passwd')).toEqual({
      error: 'fetch file:///etc/passwd: only http and https URLs can be fetched',
    });
  });

  test('a fetch without an answer fails after sandbox.fetchTimeoutMs', async () => {
    withShortFetchLimit();
    // The message names which limit ended it; an upper bound on the time taken would race the
    // machine's speed.
    expect(await fetchVia(`${server.url}/slow`)).toEqual({
      error: `fetch ${server.url}/slow: no response within 500 ms (sandbox.fetchTimeoutMs)`,
    });
  });

  test('at most 100 fetches are in flight per call', async () => {
    const flood = code(`
      export async function transformEvent(event) {
        const settled = await Promise.allSettled(Array.from({ length: 150 }, () => fetch(event.url)));
        const reasons = settled.map((result) => result.reason.message.replace(/^.*: /, ''));
        return { tooMany: reasons.filter((reason) => reason === 'more than 100 fetches in flight').length };
      }
    `);
    withShortFetchLimit();
    const run = await runOn(sandbox, flood, [{ messageId: 'm', url: `${server.url}/slow?flood` }]);
    expect(eventsOf(run, 0)).toEqual([{ tooMany: 50 }]);
  });

  test('awaited fetches count toward the call time limit, and end with the call', async () => {
    // The call limit leaves the isolate build and the fetch's start ample time; the fetch's own
    // timeout is far longer still, so only the call limit can end the call.
    sandbox.setLimits({
      memoryLimitMb: 64,
      timeoutMs: 2000,
      fetchTimeoutMs: 20_000,
      fetchAllowList: ['127.0.0.1'],
      maxOutputsPerEvent: 1000,
    });
    const url = `${server.url}/slow?call=limit`;
    const run = await runOn(sandbox, fetcher, [{ messageId: 'm', url }]);
    expect(errorOf(run, 0).message).toMatch(/ran longer than 2000 ms.*counting awaited fetches/);
    // The request of the dead call was cancelled, not left hanging.
    await eventually(() => expect(aborted).toContain('/slow?call=limit'));
  });

  test('a run over several calls gets each fetch back to the event that made it', async () => {
    const numbered = code(`
      let running = false;
      export async function transformBatch(events) {
        // Calls sent together still run one at a time: none starts while another awaits.
        if (running) throw new Error('two calls overlapped');
        running = true;
        try {
          return await Promise.all(events.map(async (event) => {
            const response = await fetch(event.url + '?i=' + event.properties.index);
            log('fetched', event.properties.index);
            return { ...event, echoed: (await response.json()).query };
          }));
        } finally {
          running = false;
        }
      }
    `);
    const count = CALL_EVENTS * 2 + 3;
    const events = Array.from({ length: count }, (_, i) => ({
      messageId: `m-${i}`,
      url: `${server.url}/query`,
      properties: { index: i },
    }));
    const run = await runOn(sandbox, numbered, events);
    for (let i = 0; i < count; i++) {
      expect(eventsOf(run, i)).toEqual([{ ...events[i], echoed: `?i=${i}` }]);
    }
    expect(run.logs.map((log) => log.message).sort()).toEqual(
      events.map((_, i) => `fetched ${i}`).sort(),
    );
  });
});

describe('refusals', () => {
  test('a host off the allow-list is refused; an empty list allows nothing', async () => {
    sandbox = createSandbox({ fetchAllowList: ['*.example.com'] }, true);
    expect(await fetchVia(`${server.url}/users/42`)).toEqual({
      error: `fetch ${server.url}/users/42: host 127.0.0.1 is not in sandbox.fetchAllowList`,
    });
    sandbox.setLimits({
      memoryLimitMb: 64,
      timeoutMs: 1000,
      fetchTimeoutMs: 500,
      fetchAllowList: [],
      maxOutputsPerEvent: 1000,
    });
    expect(await fetchVia(`${server.url}/users/42`)).toMatchObject({
      error: expect.stringMatching(/not in sandbox.fetchAllowList/),
    });
  });

  test('private addresses are refused by default, also behind a name that resolves to them', async () => {
    sandbox = createSandbox({ fetchAllowList: ['127.0.0.1', 'localhost'] });
    expect(await fetchVia(`${server.url}/users/42`)).toEqual({
      error: `fetch ${server.url}/users/42: 127.0.0.1 resolves to 127.0.0.1, a private or reserved address`,
    });
    expect(await fetchVia(`http://localhost:${server.port}/users/42`)).toMatchObject({
      error: expect.stringMatching(
        /localhost resolves to (127\.0\.0\.1|::1), a private or reserved address/,
      ),
    });
  });

  test('a redirect to a private address is refused even when the first host was allowed', async () => {
    // Only the test server's own address is let through; the metadata service is not.
    sandbox = createSandbox({ fetchAllowList: ['127.0.0.1', '169.254.169.254'] }, ['127.0.0.1']);
    const to = 'http://169.254.169.254/latest/meta-data/';
    expect(await fetchVia(`${server.url}/redirect?to=${encodeURIComponent(to)}`)).toEqual({
      error: `fetch ${to}: 169.254.169.254 resolves to 169.254.169.254, a private or reserved address`,
    });
  });
});
