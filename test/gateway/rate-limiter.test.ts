import { RateLimiter } from '../../src/gateway/rate-limiter';

/** A limiter on a clock the test moves. */
function limiterOnTestClock() {
  let now = 0;
  return {
    limiter: new RateLimiter(() => now),
    advance: (seconds: number) => (now += seconds * 1000),
  };
}

const LIMIT = { eventsPerSecond: 5, burst: 10 };

test('a request within the burst goes ahead; the next waits for the tokens it needs', () => {
  const { limiter } = limiterOnTestClock();
  expect(limiter.wait('s', 10, LIMIT)).toBe(0);
  limiter.take('s', 10, LIMIT);
  expect(limiter.wait('s', 5, LIMIT)).toBe(1);
  expect(limiter.wait('s', 10, LIMIT)).toBe(2);
});

test('a batch larger than the burst passes on a full bucket and leaves no debt beyond it', () => {
  const { limiter, advance } = limiterOnTestClock();
  expect(limiter.wait('s', 2500, LIMIT)).toBe(0);
  limiter.take('s', 2500, LIMIT);
  // The longest wait is the time the burst takes to refill (10 / 5 per second), not 500 s.
  expect(limiter.wait('s', 2500, LIMIT)).toBe(2);
  expect(limiter.wait('s', 1, LIMIT)).toBe(1);
  advance(2);
  expect(limiter.wait('s', 2500, LIMIT)).toBe(0);
});

test('tokens given back (events not stored) are there for the next request', () => {
  const { limiter } = limiterOnTestClock();
  limiter.take('s', 10, LIMIT);
  limiter.take('s', -10, LIMIT);
  expect(limiter.wait('s', 10, LIMIT)).toBe(0);
  // Never more than the burst.
  limiter.take('s', -100, LIMIT);
  limiter.take('s', 10, LIMIT);
  expect(limiter.wait('s', 1, LIMIT)).toBe(1);
});

test('sources have buckets of their own; no limit means no wait', () => {
  const { limiter } = limiterOnTestClock();
  limiter.take('a', 10, LIMIT);
  expect(limiter.wait('b', 10, LIMIT)).toBe(0);
  expect(limiter.wait('a', 1_000_000, undefined)).toBe(0);
});
