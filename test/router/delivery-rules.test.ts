import { backoffMs } from '../../src/router/backoff';
import { classifyResponse, networkFailure, retryAfterMs } from '../../src/router/delivery-outcome';
import { Throttle } from '../../src/router/throttle';

const response = (status: number, headers: Record<string, string> = {}, body = '') => ({
  status,
  headers,
  body,
});

describe('classifyResponse', () => {
  test.each([200, 201, 204, 299])('%i is ok', (status) => {
    expect(classifyResponse(response(status))).toEqual({ kind: 'ok' });
  });
  test.each([408, 429, 500, 502, 503, 504])('%i is retried', (status) => {
    expect(classifyResponse(response(status)).kind).toBe('retry');
  });
  test.each([400, 401, 403, 404, 410, 413, 422])('%i aborts', (status) => {
    expect(classifyResponse(response(status, {}, 'nope'))).toEqual({
      kind: 'abort',
      reason: `HTTP ${status}: nope`,
    });
  });
  test('Retry-After in seconds and as an HTTP date', () => {
    expect(classifyResponse(response(429, { 'retry-after': '30' }))).toMatchObject({
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
    expect(classifyResponse(response(400, {}, 'rate exceeded'), quirky)).toEqual({
      kind: 'retry',
      reason: 'rate limited',
      afterMs: 5,
    });
    expect(classifyResponse(response(400, {}, 'bad'), quirky).kind).toBe('abort');
  });
  test('network errors are retried, naming the cause', () => {
    const error = Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    expect(networkFailure(error)).toEqual({
      kind: 'retry',
      reason: 'network error: ECONNREFUSED fetch failed',
    });
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
