// Hostile and broken transformations: loops, endless awaits, memory bombs and escape attempts
// fail their own events only; the process, other transformations and later calls keep working.
import {
  CALL_EVENTS,
  type SandboxRun,
  type TransformationSandbox,
} from '../../src/sandbox/transformation-sandbox';
import { TEST_LIMITS, code, createSandbox, errorOf, eventsOf, runOn, trackEvent } from './helpers';

// Time limits are chosen so that no result depends on the machine's speed (STYLE.md 18): a short
// limit only for hazards that nothing but the watchdog can end (loops, endless awaits), and a
// generous one for everything that must finish: good calls (an isolate build took up to 160 ms on
// a loaded 2-core machine) and memory bombs, which must be ended by the memory limit, never by a
// watchdog racing the allocation (they took up to 500 ms there, past a 300 ms limit).
const SHORT_LIMIT_MS = 300;
/** Well under Jest's 30 s per test: a call that does not end shows as a wrong message, not a hang. */
const GENEROUS_LIMIT_MS = 10_000;
const MEMORY_LIMIT_MB = 32;

let sandbox: TransformationSandbox;
beforeEach(() => {
  sandbox = createSandbox({ timeoutMs: GENEROUS_LIMIT_MS, memoryLimitMb: MEMORY_LIMIT_MB });
});
afterEach(() => sandbox.dispose());

/** Sets the time limit of the calls made from now on (calls already made keep theirs). */
function setTimeLimit(timeoutMs: number): void {
  sandbox.setLimits({ ...TEST_LIMITS, memoryLimitMb: MEMORY_LIMIT_MB, timeoutMs });
}

/** Fails on events marked `bad`; other events pass through with `ok: true`. */
function misbehaving(badPart: string, name = 'misbehaving.js') {
  return code(
    `export async function transformEvent(event) {\n  if (event.bad) {\n${badPart}\n  }\n  return { ...event, ok: true };\n}`,
    { id: name, name },
  );
}

const MEMORY_BOMB =
  'const hoard = [];\nwhile (true) hoard.push(new Array(1 << 17).fill(hoard.length));';

/** Each hazard, the time limit it runs under, and the error it must end with. */
const HAZARDS: Array<[string, string, number, RegExp]> = [
  ['a synchronous infinite loop', 'while (true) {}', SHORT_LIMIT_MS, /ran longer than 300 ms/],
  [
    'an infinite loop after an await',
    'await null;\nwhile (true) {}',
    SHORT_LIMIT_MS,
    /ran longer than 300 ms/,
  ],
  [
    'an await that never resolves',
    'await new Promise(() => {});',
    SHORT_LIMIT_MS,
    /ran longer than 300 ms/,
  ],
  ['a memory bomb', MEMORY_BOMB, GENEROUS_LIMIT_MS, /more than 32 MB of memory/],
  [
    'a memory bomb after an await',
    `await null;\n${MEMORY_BOMB}`,
    GENEROUS_LIMIT_MS,
    /more than 32 MB of memory/,
  ],
];

describe.each(HAZARDS)('%s', (_name, badPart, timeLimitMs, message) => {
  test('fails the events of its call, then the next call works again', async () => {
    const transformation = misbehaving(badPart);
    setTimeLimit(timeLimitMs);
    const run = await runOn(sandbox, transformation, [trackEvent(0), trackEvent(1, { bad: true })]);
    // Every event of the call fails: the isolate that held them is gone.
    expect(errorOf(run, 0).message).toMatch(message);
    expect(errorOf(run, 1).message).toMatch(message);
    setTimeLimit(GENEROUS_LIMIT_MS);
    // Same code, good events: a fresh isolate runs them.
    const same = await runOn(sandbox, transformation, [trackEvent(2)]);
    expect(eventsOf(same, 0)).toEqual([{ ...trackEvent(2), ok: true }]);
    // Fixed code works too.
    const fixed = { ...transformation, source: 'export function transformEvent(e) { return e; }' };
    expect(eventsOf(await runOn(sandbox, fixed, [trackEvent(1, { bad: true })]), 0)).toHaveLength(
      1,
    );
  });
});

test('a crashing transformation does not affect another one running at the same time', async () => {
  const looping = misbehaving('while (true) {}', 'looping.js');
  const healthy = code('export function transformEvent(e) { return { ...e, healthy: true }; }', {
    id: 'healthy',
  });
  let loopEnded = false;
  // Under the generous limit only the sandbox's disposal below ends the loop, so however slow the
  // machine, the healthy transformation can only answer while the loop still spins.
  const stuck = runOn(sandbox, looping, [trackEvent(0, { bad: true })]).finally(() => {
    loopEnded = true;
  });
  const fine = await runOn(sandbox, healthy, [trackEvent(1)]);
  expect(loopEnded).toBe(false);
  expect(eventsOf(fine, 0)).toEqual([{ ...trackEvent(1), healthy: true }]);
  sandbox.dispose();
  expect(errorOf(await stuck, 0).message).toMatch(/stopped/);
});

test('calls queued behind a timed-out call get their own time budget', async () => {
  const transformation = misbehaving('await new Promise(() => {});');
  // The queued call's budget is shorter than the time it waits behind the stuck one: it only
  // succeeds if its budget starts when the stuck call ends. Both are far longer than its work.
  setTimeLimit(4000);
  const stuckRun = runOn(sandbox, transformation, [trackEvent(0, { bad: true })]);
  setTimeLimit(2000);
  const queuedRun = runOn(sandbox, transformation, [trackEvent(1)]);
  const [stuck, queued] = await Promise.all([stuckRun, queuedRun]);
  expect(errorOf(stuck, 0).message).toMatch(/ran longer than 4000 ms/);
  expect(eventsOf(queued, 0)).toEqual([{ ...trackEvent(1), ok: true }]);
});

describe('a run over several calls (sent to the isolate together)', () => {
  const events = Array.from({ length: CALL_EVENTS * 3 }, (_, i) => trackEvent(i));
  /** The call (0, 1 or 2) that held each failed event. */
  function failedCalls(run: SandboxRun): Set<number> {
    const calls = new Set<number>();
    run.results.forEach((result, i) => {
      if ('error' in result) calls.add(Math.floor(i / CALL_EVENTS));
    });
    return calls;
  }

  // The calls of one run share its time limit, and the good ones (an isolate build each) must
  // finish within it: the loop gets a limit far longer than their work.
  test.each([
    ['loops', 'while (true) {}', 2000, /ran longer than 2000 ms/],
    ['runs out of memory', MEMORY_BOMB, GENEROUS_LIMIT_MS, /more than 32 MB of memory/],
  ])(
    'a call that %s fails alone; the calls behind it run in a fresh isolate',
    async (_name, badPart, timeLimitMs, message) => {
      const transformation = misbehaving(badPart);
      setTimeLimit(timeLimitMs);
      const marked = events.map((event, i) =>
        i === CALL_EVENTS + 5 ? { ...event, bad: true } : event,
      );
      const run = await runOn(sandbox, transformation, marked);
      expect(failedCalls(run)).toEqual(new Set([1]));
      expect(errorOf(run, CALL_EVENTS).message).toMatch(message);
      expect(eventsOf(run, CALL_EVENTS * 2)).toEqual([{ ...events[CALL_EVENTS * 2], ok: true }]);
    },
  );

  test('each call has its own time budget, from when the one before it ended', async () => {
    // Each of the three calls takes 35% of the limit: the run takes more than the limit, and each
    // call has 65% of it (1300 ms) to spare for its isolate build and a slow machine.
    const timeLimitMs = 2000;
    setTimeLimit(timeLimitMs);
    const slow = code(`
      export function transformBatch(events) {
        const until = Date.now() + ${timeLimitMs * 0.35};
        while (Date.now() < until) {}
        return events;
      }
    `);
    const started = Date.now();
    const run = await runOn(sandbox, slow, events);
    expect(Date.now() - started).toBeGreaterThan(timeLimitMs);
    expect(failedCalls(run)).toEqual(new Set());
  });

  test('calls run in order: module state sees the events one after another', async () => {
    const counting = code(`
      let seen = 0;
      export async function transformEvent(event) {
        await null;
        return { ...event, seen: ++seen };
      }
    `);
    const run = await runOn(sandbox, counting, events);
    expect(run.results.map((_, i) => (eventsOf(run, i)[0] as { seen: number }).seen)).toEqual(
      events.map((_, i) => i + 1),
    );
  });
});

test('an isolate that cannot be started fails the calls with the reason, not the process', async () => {
  const tiny = createSandbox({ memoryLimitMb: 4 });
  try {
    const events = Array.from({ length: CALL_EVENTS + 1 }, (_, i) => trackEvent(i));
    const run = await runOn(tiny, code('export function transformEvent(e) { return e; }'), events);
    for (let i = 0; i < events.length; i++) {
      expect(errorOf(run, i).message).toMatch(/Starting an isolate failed: .*memoryLimit/);
    }
  } finally {
    tiny.dispose();
  }
});

test('top-level code that loops or throws fails the call with a clear error', async () => {
  const loops = code('while (true) {}\nexport function transformEvent(e) { return e; }');
  setTimeLimit(SHORT_LIMIT_MS);
  expect(errorOf(await runOn(sandbox, loops, [trackEvent(0)]), 0).message).toMatch(
    /ran longer than|timed out/,
  );
  setTimeLimit(GENEROUS_LIMIT_MS);
  const throws = code(
    'throw new Error("no config");\nexport function transformEvent(e) { return e; }',
    { name: 'top-level.js' },
  );
  expect(errorOf(await runOn(sandbox, throws, [trackEvent(0)]), 0).message).toMatch(
    /Loading top-level\.js failed: no config/,
  );
});

test('raising the time limit with setLimits applies to the next call', async () => {
  // 1000 ms of work: far past the short limit (the watchdog wins even when its timer fires late),
  // far within the raised one.
  const slowish = code(`
    export function transformEvent(e) {
      const until = Date.now() + 1000;
      while (Date.now() < until) {}
      return e;
    }
  `);
  setTimeLimit(SHORT_LIMIT_MS);
  expect(errorOf(await runOn(sandbox, slowish, [trackEvent(0)]), 0).message).toMatch(/ran longer/);
  setTimeLimit(5000);
  expect(eventsOf(await runOn(sandbox, slowish, [trackEvent(0)]), 0)).toHaveLength(1);
});

describe('escape attempts', () => {
  test('the Function constructor of anything reachable only sees the isolate', async () => {
    const transformation = code(`
      export function transformEvent(event, metadata) {
        const attempts = {};
        const tryIt = (name, f) => {
          try { attempts[name] = String(f()); } catch (e) { attempts[name] = 'threw ' + e.message; }
        };
        tryIt('event', () => event.constructor.constructor('return process')());
        tryIt('metadata', () => metadata.constructor.constructor('return require')());
        tryIt('log', () => log.constructor('return typeof process')());
        tryIt('fetch', () => fetch.constructor('return typeof require')());
        tryIt('global', () => Function('return this')().process);
        tryIt('proto', () => Object.getPrototypeOf(fetch).constructor('return typeof module')());
        return { ...event, attempts };
      }
    `);
    const run = await runOn(sandbox, transformation, [trackEvent(0)]);
    expect((eventsOf(run, 0)[0] as { attempts: unknown }).attempts).toEqual({
      event: 'threw process is not defined',
      metadata: 'threw require is not defined',
      log: 'undefined',
      fetch: 'undefined',
      global: 'undefined',
      proto: 'undefined',
    });
  });

  test('no host globals are visible: require, process, timers, Buffer, module', async () => {
    const transformation = code(`
      const names = ['require', 'process', 'setTimeout', 'setInterval', 'setImmediate', 'Buffer',
        'module', 'exports', '__dirname', 'global', 'queueMicrotask', 'structuredClone'];
      export function transformEvent(event) {
        return { ...event, types: names.map((name) => typeof globalThis[name]) };
      }
    `);
    const run = await runOn(sandbox, transformation, [trackEvent(0)]);
    expect((eventsOf(run, 0)[0] as { types: string[] }).types.every((t) => t === 'undefined')).toBe(
      true,
    );
  });

  test('polluting prototypes in one transformation leaks into neither another one nor the host', async () => {
    const polluter = code(
      `export function transformEvent(e) {
        Object.prototype.polluted = 'yes';
        Array.prototype.map = () => 'hijacked';
        JSON.parse = () => ({ forged: true });
        return e;
      }`,
      { id: 'polluter' },
    );
    const victim = code(
      'export function transformEvent(e) { return { ...e, polluted: ({}).polluted ?? null, mapped: [1].map((x) => x + 1) }; }',
      { id: 'victim' },
    );
    // Built-ins are frozen while events are transformed: the attempt fails the polluter's event.
    expect(errorOf(await runOn(sandbox, polluter, [trackEvent(0)]), 0).message).toBe(
      'TypeError: Cannot add property polluted, object is not extensible',
    );
    const run = await runOn(sandbox, victim, [trackEvent(1)]);
    expect(eventsOf(run, 0)).toEqual([{ ...trackEvent(1), polluted: null, mapped: [2] }]);
    expect(({} as { polluted?: string }).polluted).toBeUndefined();
  });

  test("one event's code cannot change what the next event's code sees", async () => {
    // A deep merge of an event's properties, as transformations write them: an event holding
    // "__proto__" (stored as data, delivered as data) would pollute Object.prototype.
    const merger = code(`
      function merge(target, source) {
        for (const key of Object.keys(source)) {
          if (source[key] && typeof source[key] === 'object') merge((target[key] ??= {}), source[key]);
          else target[key] = source[key];
        }
        return target;
      }
      const defaults = {};
      export function transformEvent(event) {
        if (event.properties.replace) JSON.stringify = () => '"forged"';
        if (event.properties.patch) Array.prototype.includes = () => true;
        merge(defaults, event.properties);
        return { ...event, isAdmin: {}.isAdmin ?? null, includes: [1].includes(2) };
      }
    `);
    const hostile = [
      JSON.parse('{"__proto__": {"isAdmin": true}}'),
      { replace: true },
      { patch: true },
      JSON.parse('{"constructor": {"prototype": {"isAdmin": true}}}'),
    ].map((properties, i) => ({ ...trackEvent(i), userId: `attacker-${i}`, properties }));
    const victim = { ...trackEvent(9), userId: 'victim', properties: {} };
    const run = await runOn(sandbox, merger, [...hostile, victim]);
    for (let i = 0; i < hostile.length; i++) {
      expect(errorOf(run, i).message).toMatch(/^TypeError: Cannot (add property|assign to)/);
    }
    expect(eventsOf(run, hostile.length)).toEqual([{ ...victim, isAdmin: null, includes: false }]);
  });

  test('ordinary code that assigns inherited names, and polyfills at load, still work', async () => {
    const ordinary = code(`
      if (!Array.prototype.sluiceLast) {
        Object.defineProperty(Array.prototype, 'sluiceLast', { value() { return this[this.length - 1]; } });
      }
      class ValidationError extends Error {
        constructor(message) {
          super(message);
          this.name = 'ValidationError';
        }
      }
      function Money(cents) { this.cents = cents; }
      Money.prototype.toString = function () { return (this.cents / 100).toFixed(2); };
      export function transformEvent(event) {
        const labelled = { value: 1 };
        labelled.toString = () => 'labelled';
        labelled.constructor = 'kept as data';
        const error = new ValidationError('bad');
        return { ...event, text: String(labelled), money: String(new Money(1250)),
                 error: error.name + ': ' + error.message, last: [1, 2, 3].sluiceLast(),
                 data: labelled.constructor };
      }
    `);
    const run = await runOn(sandbox, ordinary, [trackEvent(0)]);
    expect(eventsOf(run, 0)).toEqual([
      {
        ...trackEvent(0),
        text: 'labelled',
        money: '12.50',
        error: 'ValidationError: bad',
        last: 3,
        data: 'kept as data',
      },
    ]);
  });

  test('giving arrays and promises a then of its own does not stall or break the calls', async () => {
    const saboteur = code(
      `Array.prototype.then = function () {};
      Promise.prototype.then = function () {};
      export function transformEvent(e) { return { ...e, seen: true }; }`,
    );
    const events = Array.from({ length: CALL_EVENTS * 2 }, (_, i) => trackEvent(i));
    const run = await runOn(sandbox, saboteur, events);
    for (let i = 0; i < events.length; i++) {
      expect(eventsOf(run, i)).toEqual([{ ...events[i], seen: true }]);
    }
  });

  test('sabotaging serialization fails the call with a clear error, not the host', async () => {
    const saboteur = code(
      `Object.prototype.toJSON = function () { return 'forged'; };
      export function transformEvent(e) { return e; }`,
    );
    const run = await runOn(sandbox, saboteur, [trackEvent(0), trackEvent(1)]);
    expect(errorOf(run, 0).message).toMatch(/malformed result/);
    expect(errorOf(run, 1).message).toMatch(/malformed result/);
  });
});
