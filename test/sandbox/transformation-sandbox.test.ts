// The sandbox's contract with transformation authors: return forms, async code, metadata,
// transformBatch mapping, error reports, logs and input/output forms.
import { CALL_EVENTS, type TransformationSandbox } from '../../src/sandbox/transformation-sandbox';
import {
  TEST_LIMITS,
  code,
  createSandbox,
  errorOf,
  eventsOf,
  metadataFor,
  runOn,
  trackEvent,
} from './helpers';

let sandbox: TransformationSandbox;
beforeEach(() => {
  sandbox = createSandbox();
});
afterEach(() => sandbox.dispose());

describe('transformEvent return forms', () => {
  const fanOut = code(`
    export function transformEvent(event) {
      switch (event.properties.index) {
        case 0: event.properties.seen = true; return event;
        case 1: return null;
        case 2: return undefined;
        case 3: return [];
        case 4: return [event, { ...event, messageId: event.messageId + '-copy' }];
        case 5: return 'not an event';
        case 6: return [event, 42];
        case 7: return new Date(0);
        case 8: { const a = {}; a.self = a; return a; }
      }
    }
  `);

  test('an object is the output, null/undefined/[] drop, an array fans out', async () => {
    const run = await runOn(
      sandbox,
      fanOut,
      [0, 1, 2, 3, 4].map((i) => trackEvent(i)),
    );
    expect(eventsOf(run, 0)).toEqual([{ ...trackEvent(0), properties: { index: 0, seen: true } }]);
    expect(eventsOf(run, 1)).toEqual([]);
    expect(eventsOf(run, 2)).toEqual([]);
    expect(eventsOf(run, 3)).toEqual([]);
    expect(eventsOf(run, 4)).toEqual([trackEvent(4), { ...trackEvent(4), messageId: 'm-4-copy' }]);
  });

  test('anything else fails only that event, with a message saying what came back', async () => {
    const run = await runOn(
      sandbox,
      fanOut,
      [5, 6, 7, 8, 0].map((i) => trackEvent(i)),
    );
    expect(errorOf(run, 0).message).toMatch(/must return an event object.*returned a string/);
    expect(errorOf(run, 1).message).toMatch(/array whose item 1 is a number, not an event object/);
    expect(errorOf(run, 2).message).toMatch(/returned a Date object/);
    expect(errorOf(run, 3).message).toMatch(/cannot be converted to JSON.*circular/i);
    expect(eventsOf(run, 4)).toHaveLength(1);
  });
});

describe('outputs per event (sandbox.maxOutputsPerEvent)', () => {
  const fanOut = (exportName: 'transformEvent' | 'transformBatch') =>
    code(
      exportName === 'transformEvent'
        ? `export function transformEvent(e) {
             return Array.from({ length: e.properties.outputs }, (_, i) => ({ ...e, messageId: e.messageId + '-' + i }));
           }`
        : // Outputs keep their input's messageId: that is how they are attributed to it.
          `export function transformBatch(events) {
             return events.flatMap((e) => Array.from({ length: e.properties.outputs }, () => ({ ...e })));
           }`,
    );
  const withOutputs = (index: number, outputs: number) => ({
    ...trackEvent(index),
    properties: { outputs },
  });

  // A time limit no busy machine reaches: only the outputs limit may end these calls.
  beforeEach(() =>
    sandbox.setLimits({ ...TEST_LIMITS, maxOutputsPerEvent: 100, timeoutMs: 60_000 }),
  );

  test.each(['transformEvent', 'transformBatch'] as const)(
    '%s: an event that fans out past the limit fails alone, with the limit named',
    async (exportName) => {
      const events = [withOutputs(0, 100), withOutputs(1, 20_000), withOutputs(2, 3)];
      const run = await runOn(sandbox, fanOut(exportName), events);
      expect(eventsOf(run, 0)).toHaveLength(100);
      expect(errorOf(run, 1).message).toBe(
        `${exportName} made 20000 events of one event; the limit is 100 (sandbox.maxOutputsPerEvent)`,
      );
      expect(eventsOf(run, 2)).toHaveLength(3);
    },
  );
});

test('an output nested deeper than the events the gateway accepts fails its event', async () => {
  const nester = code(`
    export function transformEvent(e) {
      let deep = {};
      for (let i = 0; i < e.properties.levels; i++) deep = { deep };
      return { ...e, properties: deep };
    }
  `);
  const deepSandbox = createSandbox({}, undefined, { maxEventDepth: 10 });
  try {
    const events = [8, 9, 5000].map((levels, i) => ({ ...trackEvent(i), properties: { levels } }));
    const run = await runOn(deepSandbox, nester, events);
    expect(eventsOf(run, 0)).toHaveLength(1); // 8 levels of properties, 9 with the event itself
    expect(errorOf(run, 1).message).toBe(
      'The transformation returned an event nested deeper than 10 levels (SLUICE_MAX_JSON_DEPTH)',
    );
    expect(errorOf(run, 2).message).toMatch(/nested deeper than 10 levels/);
  } finally {
    deepSandbox.dispose();
  }
});

describe('errors', () => {
  const throwing = code(
    [
      'function check(event) {',
      '  if (!event.userId) throw new TypeError("userId is required");',
      '}',
      'export function transformEvent(event) {',
      '  check(event);',
      '  if (event.properties.index === 2) throw "plain string";',
      '  return event;',
      '}',
    ].join('\n'),
    { name: 'require-user.js' },
  );

  test('a throw fails only its event; the stack shows the user file and line only', async () => {
    const run = await runOn(sandbox, throwing, [
      trackEvent(0),
      trackEvent(1, { userId: undefined }),
      trackEvent(2),
    ]);
    expect(eventsOf(run, 0)).toHaveLength(1);
    const error = errorOf(run, 1);
    expect(error.message).toBe('TypeError: userId is required');
    expect(error.stack).toMatch(/at check \(require-user\.js:2:\d+\)/);
    expect(error.stack).toMatch(/at transformEvent \(require-user\.js:5:\d+\)/);
    expect(error.stack).not.toMatch(/sandbox-runtime|isolated-vm/);
    expect(errorOf(run, 2)).toEqual({ message: 'plain string' });
  });

  test('an event that is not valid JSON text fails alone', async () => {
    const run = await sandbox.run(
      code('export function transformEvent(event) { return event; }'),
      [JSON.stringify(trackEvent(0)), '{"broken":', JSON.stringify(trackEvent(2))],
      [0, 1, 2].map((i) => metadataFor({}, i)),
    );
    expect(eventsOf(run, 0)).toEqual([trackEvent(0)]);
    expect(errorOf(run, 1).message).toMatch(/not valid JSON/);
    expect(eventsOf(run, 2)).toEqual([trackEvent(2)]);
  });
});

describe('async transformEvent', () => {
  test('events run concurrently and come back in input order', async () => {
    const transformation = code(`
      const finished = [];
      export async function transformEvent(event) {
        // Later events finish first.
        for (let i = 0; i < 10 - event.properties.index; i++) await null;
        finished.push(event.properties.index);
        if (event.properties.index === 3) throw new Error('async failure');
        return { ...event, finishedAs: finished.length };
      }
    `);
    const run = await runOn(
      sandbox,
      transformation,
      [0, 1, 2, 3, 4].map((i) => trackEvent(i)),
    );
    expect(
      run.results.map((result) => ('events' in result ? result.events.length : 'error')),
    ).toEqual([1, 1, 1, 'error', 1]);
    expect((eventsOf(run, 0)[0] as { finishedAs: number }).finishedAs).toBe(5);
    expect((eventsOf(run, 4)[0] as { finishedAs: number }).finishedAs).toBe(1);
    expect(errorOf(run, 3).message).toBe('async failure');
  });
});

test('metadata gives each event its source, destination, messageId and receivedAt', async () => {
  const run = await sandbox.run(
    code('export function transformEvent(event, metadata) { return { ...event, metadata }; }'),
    [trackEvent(0), trackEvent(1), trackEvent(2)],
    [
      metadataFor(trackEvent(0)),
      { ...metadataFor(trackEvent(1)), destinationId: 'dst-2', receivedAt: '2024-06-01T00:00:00Z' },
      metadataFor(trackEvent(2)),
    ],
  );
  expect(eventsOf(run, 0)[0]).toMatchObject({ metadata: metadataFor(trackEvent(0)) });
  expect(eventsOf(run, 1)[0]).toMatchObject({
    metadata: { messageId: 'm-1', destinationId: 'dst-2', receivedAt: '2024-06-01T00:00:00Z' },
  });
  expect(eventsOf(run, 2)[0]).toMatchObject({ metadata: metadataFor(trackEvent(2)) });
});

describe('transformBatch', () => {
  test('outputs map back to inputs by messageId; strangers go to the first input', async () => {
    const transformation = code(`
      export function transformBatch(events, metadata) {
        const out = events
          .filter((event) => event.properties.index !== 1)
          .map((event) => ({ ...event, destination: metadata(event).destinationName }));
        out.push({ type: 'track', event: 'Summary', count: events.length });
        out.push({ type: 'track', event: 'Known id', messageId: 'not-an-input' });
        out.push({ ...events[2], event: 'Second output of input 2' });
        return out;
      }
    `);
    const run = await runOn(
      sandbox,
      transformation,
      [0, 1, 2].map((i) => trackEvent(i)),
    );
    const first = eventsOf(run, 0) as Array<Record<string, unknown>>;
    expect(first.map((event) => event.event)).toEqual(['Product Viewed', 'Summary', 'Known id']);
    expect(first[0].destination).toBe('Amplitude');
    expect(first[1].messageId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-/);
    expect(first[2].messageId).toBe('not-an-input');
    expect(eventsOf(run, 1)).toEqual([]);
    expect((eventsOf(run, 2) as Array<{ event: string }>).map((event) => event.event)).toEqual([
      'Product Viewed',
      'Second output of input 2',
    ]);
  });

  test('a throw, a rejection or an invalid return fails every input', async () => {
    const cases = [
      ['export function transformBatch() { throw new Error("batch boom"); }', /^batch boom$/],
      ['export async function transformBatch() { await null; throw new Error("later"); }', /later/],
      ['export function transformBatch(events) { return events[0]; }', /must return an array/],
      ['export function transformBatch() { return [1]; }', /item 0 is a number/],
    ] as const;
    for (const [source, message] of cases) {
      const run = await runOn(sandbox, code(source), [trackEvent(0), trackEvent(1)]);
      expect(errorOf(run, 0).message).toMatch(message);
      expect(errorOf(run, 1).message).toMatch(message);
    }
  });

  test('async transformBatch works', async () => {
    const transformation = code(`
      export async function transformBatch(events) {
        await Promise.resolve();
        return events.map((event) => ({ ...event, batched: true }));
      }
    `);
    const run = await runOn(sandbox, transformation, [trackEvent(0), trackEvent(1)]);
    expect(eventsOf(run, 1)).toEqual([{ ...trackEvent(1), batched: true }]);
  });
});

describe('logs', () => {
  test('log and console are captured with the event index, also after an await', async () => {
    const transformation = code(`
      export async function transformEvent(event) {
        log('start', event.properties.index, { nested: [1] });
        console.warn('careful');
        if (event.properties.index === 0) return event;
        await null;
        console.error('after await', new Error('oops').message);
        return event;
      }
    `);
    const run = await runOn(sandbox, transformation, [trackEvent(0), trackEvent(1)]);
    expect(run.logs).toEqual([
      { level: 'log', message: 'start 0 {"nested":[1]}', eventIndex: 0 },
      { level: 'warn', message: 'careful', eventIndex: 0 },
      { level: 'log', message: 'start 1 {"nested":[1]}', eventIndex: 1 },
      { level: 'warn', message: 'careful', eventIndex: 1 },
      // Event 0 had finished, so the line can only belong to event 1.
      { level: 'error', message: 'after await oops', eventIndex: 1 },
    ]);
  });

  test('logs of a transformBatch carry no index, and each call starts empty', async () => {
    const transformation = code(
      'export function transformBatch(events) { log(events.length); return events; }',
    );
    const run = await runOn(sandbox, transformation, [trackEvent(0), trackEvent(1)]);
    expect(run.logs).toEqual([{ level: 'log', message: '2' }]);
    const again = await runOn(sandbox, transformation, [
      trackEvent(0),
      trackEvent(1),
      trackEvent(2),
    ]);
    expect(again.logs).toEqual([{ level: 'log', message: '3' }]);
  });

  test('a flood of log lines is cut at 1000 per call', async () => {
    const transformation = code(
      'export function transformEvent(e) { for (let i = 0; i < 1500; i++) log(i); return e; }',
    );
    const run = await runOn(sandbox, transformation, [trackEvent(0)]);
    expect(run.logs).toHaveLength(1001);
    expect(run.logs[1000]).toEqual({
      level: 'warn',
      message: '500 more log lines were dropped (limit: 1000)',
    });
  });
});

describe('input and output forms', () => {
  const transformation = code('export function transformEvent(e) { e.seen = true; return e; }');

  test('events go in as JSON texts or objects, and come out as objects or JSON texts', async () => {
    const events = [JSON.stringify(trackEvent(0)), trackEvent(1)];
    const metadata = [metadataFor(trackEvent(0)), metadataFor(trackEvent(1))];
    const asObjects = await sandbox.run(transformation, events, metadata);
    expect(eventsOf(asObjects, 0)).toEqual([{ ...trackEvent(0), seen: true }]);
    expect(eventsOf(asObjects, 1)).toEqual([{ ...trackEvent(1), seen: true }]);
    const asJson = await sandbox.run(transformation, events, metadata, { output: 'json' });
    expect(eventsOf(asJson, 1)).toEqual([JSON.stringify({ ...trackEvent(1), seen: true })]);
  });

  test('JSON output carries each output event’s messageId beside its text', async () => {
    const fanOut = code(`
      export function transformEvent(e) {
        const { messageId, ...rest } = e;
        return [e, { ...e, messageId: messageId + '-b' }, rest, { ...rest, messageId: 7 }];
      }
    `);
    const run = await sandbox.run(fanOut, [trackEvent(0)], [metadataFor(trackEvent(0))], {
      output: 'json',
    });
    expect(run.results[0]).toMatchObject({ messageIds: ['m-0', 'm-0-b', null, null] });
    expect(eventsOf(run, 0).map((text) => JSON.parse(text as string).messageId)).toEqual([
      'm-0',
      'm-0-b',
      undefined,
      7,
    ]);
    const batch = code('export function transformBatch(events) { return [{ type: "track" }]; }');
    const batched = await sandbox.run(batch, [trackEvent(0)], [metadataFor(trackEvent(0))], {
      output: 'json',
    });
    const [text] = eventsOf(batched, 0) as string[];
    expect(batched.results[0]).toMatchObject({ messageIds: [JSON.parse(text).messageId] });
  });

  test('no events need no isolate; mismatched metadata is a caller bug', async () => {
    await expect(sandbox.run(transformation, [], [])).resolves.toEqual({ results: [], logs: [] });
    await expect(sandbox.run(transformation, [trackEvent(0)], [])).rejects.toThrow(RangeError);
  });
});

describe('runs over more than one call', () => {
  const count = CALL_EVENTS * 2 + 7;
  const events = Array.from({ length: count }, (_, i) => trackEvent(i));

  test('results and log indexes line up with the inputs across calls; failures stay put', async () => {
    const transformation = code(`
      export function transformEvent(event) {
        const i = event.properties.index;
        if (i % 97 === 5) throw new Error('bad ' + i);
        if (i % 2 === 1) log('odd', i);
        return i % 3 === 0 ? [event, event] : event;
      }
    `);
    const run = await runOn(sandbox, transformation, events);
    expect(run.results).toHaveLength(count);
    for (let i = 0; i < count; i++) {
      if (i % 97 === 5) expect(errorOf(run, i).message).toBe(`bad ${i}`);
      else expect(eventsOf(run, i)).toHaveLength(i % 3 === 0 ? 2 : 1);
    }
    expect(eventsOf(run, count - 1)).toEqual([trackEvent(count - 1)]);
    const logged = events.filter((_, i) => i % 2 === 1 && i % 97 !== 5);
    expect(run.logs).toHaveLength(logged.length);
    for (const log of run.logs) expect(log.message).toBe(`odd ${log.eventIndex}`);
  });

  test('transformBatch gets the events in calls of at most CALL_EVENTS, in order', async () => {
    const transformation = code(`
      export function transformBatch(events) {
        return events.map((e) => ({ ...e, properties: { ...e.properties, size: events.length } }));
      }
    `);
    const run = await runOn(sandbox, transformation, events);
    const outputs = run.results.map(
      (_, i) => eventsOf(run, i)[0] as { messageId: string; properties: { size: number } },
    );
    const sizes = outputs.map((output) => output.properties.size);
    expect(sizes).toEqual([
      ...Array<number>(CALL_EVENTS).fill(CALL_EVENTS),
      ...Array<number>(CALL_EVENTS).fill(CALL_EVENTS),
      ...Array<number>(7).fill(7),
    ]);
    expect(outputs.map((output) => output.messageId)).toEqual(events.map((e) => e.messageId));
  });
});

test('btoa and atob match Node, and atob refuses junk', async () => {
  const transformation = code(`
    export function transformEvent(event) {
      const encoded = event.inputs.map((s) => btoa(s));
      let refused = false;
      try { atob('@@@'); } catch (e) { refused = true; }
      return { encoded, decoded: encoded.map((s) => atob(s)), refused };
    }
  `);
  const inputs = ['', 'a', 'ab', 'abc', 'hello world', 'ÿþ\u0000binary'];
  const run = await runOn(sandbox, transformation, [{ messageId: 'm', inputs }]);
  expect(eventsOf(run, 0)).toEqual([
    {
      encoded: inputs.map((s) => Buffer.from(s, 'latin1').toString('base64')),
      decoded: inputs,
      refused: true,
    },
  ]);
});

test('a disposed sandbox refuses new runs', async () => {
  sandbox.dispose();
  await expect(
    runOn(sandbox, code('export function transformEvent(e) { return e; }'), [trackEvent(0)]),
  ).rejects.toThrow(/disposed/);
});
