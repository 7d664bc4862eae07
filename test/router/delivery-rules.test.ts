import type { SentRequest } from '../../destinations/destination';
import { backoffMs } from '../../src/router/backoff';
import { classifyResponse, networkFailure, retryAfterMs } from '../../src/router/delivery-outcome';
import { CredentialMask } from '../../src/router/mask-credentials';
import { MAX_REDIRECTS, redirectDecision } from '../../src/router/redirects';
import { Throttle } from '../../src/router/throttle';

const response = (status: number, headers: Record<string, string> = {}, body = '') => ({
  status,
  headers,
  body,
});

const SENT: SentRequest = {
  request: { method: 'POST', url: 'https://vendor.example/in', headers: {} },
  items: [],
};

describe('classifyResponse', () => {
  test.each([200, 201, 204, 299])('%i is ok', (status) => {
    expect(classifyResponse(response(status), SENT)).toEqual({ kind: 'ok' });
  });
  test.each([408, 429, 500, 502, 503, 504])('%i is retried', (status) => {
    expect(classifyResponse(response(status), SENT).kind).toBe('retry');
  });
  test.each([400, 401, 403, 404, 410, 413, 422])('%i aborts', (status) => {
    expect(classifyResponse(response(status, {}, 'nope'), SENT)).toEqual({
      kind: 'abort',
      reason: `HTTP ${status}: nope`,
    });
  });
  test('Retry-After in seconds and as an HTTP date', () => {
    expect(classifyResponse(response(429, { 'retry-after': '30' }), SENT)).toMatchObject({
      kind: 'retry',
      afterMs: 30_000,
    });
    const now = () => Date.parse('2024-01-01T00:00:00Z');
    expect(retryAfterMs({ 'retry-after': 'Mon, 01 Jan 2024 00:01:00 GMT' }, now)).toBe(60_000);
    expect(retryAfterMs({ 'retry-after': 'soon' })).toBeUndefined();
    expect(retryAfterMs({})).toBeUndefined();
  });
  test('a destination can override the verdict', () => {
    const quirky = {
      interpretResponse: (r: { body: string }) =>
        r.body.includes('rate')
          ? { outcome: 'retry' as const, reason: 'rate limited', afterMs: 5 }
          : undefined,
    };
    expect(classifyResponse(response(400, {}, 'rate exceeded'), SENT, quirky)).toEqual({
      kind: 'retry',
      reason: 'rate limited',
      afterMs: 5,
    });
    expect(classifyResponse(response(400, {}, 'bad'), SENT, quirky).kind).toBe('abort');
  });
  test('per-item verdicts: one outcome per item, all ok is ok, a miscount retries them all', () => {
    const batch = { ...SENT, items: ['a', 'b', 'c'] };
    const judge = (items: Array<'ok' | 'abort' | 'retry'>) => ({
      interpretResponse: () => ({
        outcome: 'per-item' as const,
        items: items.map((outcome) =>
          outcome === 'ok' ? { outcome } : { outcome, reason: `${outcome} it` },
        ),
      }),
    });
    const headers = { 'retry-after': '3' };
    expect(
      classifyResponse(response(200, headers), batch, judge(['ok', 'abort', 'retry'])),
    ).toEqual({
      kind: 'per-item',
      items: [
        { kind: 'ok' },
        { kind: 'abort', reason: 'abort it' },
        { kind: 'retry', reason: 'retry it', afterMs: 3000 },
      ],
    });
    expect(classifyResponse(response(200), batch, judge(['ok', 'ok', 'ok']))).toEqual({
      kind: 'ok',
    });
    expect(classifyResponse(response(200), batch, judge(['ok', 'abort']))).toEqual({
      kind: 'retry',
      reason: 'the destination judged 2 items of a request carrying 3',
    });
  });
  test('a redirect that reaches classification aborts, saying why', () => {
    const redirect = (status: number, location: string) =>
      classifyResponse(response(status, { location }), SENT);
    expect(redirect(307, 'https://evil.example:8443/steal?sig=x')).toEqual({
      kind: 'abort',
      reason:
        'HTTP 307 redirect to another host (https://evil.example:8443) not followed: credentials' +
        ' and events go only to the configured https://vendor.example',
    });
    expect(redirect(302, '/moved')).toMatchObject({
      kind: 'abort',
      reason: expect.stringMatching(/^HTTP 302 redirect to \/moved not followed: only 307 and 308/),
    });
    expect(redirect(308, '/in')).toEqual({
      kind: 'abort',
      reason: `HTTP 308: more than ${MAX_REDIRECTS} redirects (a redirect loop?)`,
    });
  });
  test('network errors are retried, naming the cause', () => {
    const error = Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    expect(networkFailure(error)).toEqual({
      kind: 'retry',
      reason: 'network error: ECONNREFUSED fetch failed',
    });
  });
});

describe('redirectDecision', () => {
  const from = 'https://vendor.example/in';
  test('same-origin 307 and 308 are followed, relative locations resolved', () => {
    expect(redirectDecision(307, '/v2/in?x=1', from, from)).toEqual({
      follow: new URL('https://vendor.example/v2/in?x=1'),
    });
    expect(redirectDecision(308, 'https://vendor.example/other', from, from)).toHaveProperty(
      'follow',
    );
  });
  test.each([
    ['another host', 'https://elsewhere.example/in'],
    ['another scheme', 'http://vendor.example/in'],
    ['another port', 'https://vendor.example:8443/in'],
  ])('%s is refused', (_, location) => {
    expect(redirectDecision(307, location, from, from)).toEqual({
      refuse: expect.stringContaining(`(${new URL(location).origin}) not followed`),
    });
  });
  test('a hop is judged against the configured origin, not the one that answered', () => {
    expect(redirectDecision(307, '/x', 'https://vendor.example/a', from)).toHaveProperty('follow');
  });
  test('301, 302, 303 and a missing Location are refused', () => {
    for (const status of [301, 302, 303]) {
      expect(redirectDecision(status, '/in2', from, from)).toHaveProperty('refuse');
    }
    expect(redirectDecision(307, undefined, from, from)).toEqual({
      refuse: 'HTTP 307 redirect without a Location: not followed',
    });
  });
});

describe('CredentialMask', () => {
  const mask = new CredentialMask(['s3cret/key"1', 'abc']);
  test('masks each credential as written, JSON-escaped and URL-encoded; not very short ones', () => {
    expect(mask.mask('a s3cret/key"1 b {"k":"s3cret/key\\"1"} s3cret%2Fkey%221 abc')).toBe(
      'a [redacted] b {"k":"[redacted]"} [redacted] abc',
    );
  });
  test('a request widens the mask by what its credential headers and query carry', () => {
    const request = {
      method: 'POST' as const,
      url: 'https://user:p4ssw0rd@vendor.example/in?sig=qs-signature&plain=visible-value',
      headers: { Authorization: 'Bearer tok-123456', 'X-Signature': 'hdr-signature' },
      body: '{"echo":"tok-123456 qs-signature hdr-signature p4ssw0rd visible-value"}',
    };
    const stored = JSON.parse(mask.describeRequest(request));
    expect(stored.headers).toEqual({ Authorization: '[redacted]', 'X-Signature': '[redacted]' });
    expect(stored.url).toBe(
      'https://%5Bredacted%5D:%5Bredacted%5D@vendor.example/in?sig=%5Bredacted%5D&plain=visible-value',
    );
    expect(stored.body).toBe(
      '{"echo":"[redacted] [redacted] [redacted] [redacted] visible-value"}',
    );
  });
  test('a truncated response loses the cut-off start of a credential at its end', () => {
    const masked = mask.maskResponse({
      status: 400,
      headers: {},
      body: 'echo: s3cret/k',
      truncated: true,
    });
    expect(masked.body).toBe('echo: [redacted]');
    expect(mask.maskResponse({ status: 400, headers: {}, body: 'echo: s3cret/k' }).body).toBe(
      'echo: s3cret/k',
    );
  });
});

describe('backoffMs', () => {
  const policy = { baseMs: 1000, maxMs: 60_000 };
  test('doubles per attempt, with jitter between half and all of it', () => {
    expect(backoffMs(1, policy, () => 0)).toBe(500);
    expect(backoffMs(1, policy, () => 1)).toBe(1000);
    expect(backoffMs(4, policy, () => 0)).toBe(4000);
    expect(backoffMs(4, policy, () => 1)).toBe(8000);
  });
  test('is capped', () => {
    expect(backoffMs(30, policy, () => 1)).toBe(60_000);
    expect(backoffMs(30, policy, () => 0)).toBe(30_000);
  });
});

describe('Throttle', () => {
  test('paces requests at the configured rate', () => {
    let now = 0;
    const throttle = new Throttle(2, () => now);
    expect(throttle.reserve()).toBe(0);
    expect(throttle.reserve()).toBe(0);
    expect(throttle.reserve()).toBe(500);
    now += 1000; // two more tokens, one of them owed
    expect(throttle.reserve()).toBe(0);
    expect(throttle.reserve()).toBe(500);
  });
  test('halves on 429 and recovers towards the configured rate', () => {
    const throttle = new Throttle(100, () => 0);
    throttle.onRateLimited(80);
    expect(throttle.rate).toBe(50);
    for (let i = 0; i < 100; i++) throttle.onSuccess();
    expect(throttle.rate).toBe(100);
  });
  test('without a configured rate it is unthrottled until a 429, then adapts from the observed rate', () => {
    const throttle = new Throttle(undefined, () => 0);
    expect(throttle.reserve()).toBe(0);
    throttle.onRateLimited(40);
    expect(throttle.rate).toBe(20);
  });
});
