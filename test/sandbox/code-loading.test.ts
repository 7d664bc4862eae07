// How transformation code is loaded: exports, syntax errors, libraries (nested and missing), and
// code versions replacing each other without a restart.
import { CALL_EVENTS, type TransformationSandbox } from '../../src/sandbox/transformation-sandbox';
import { code, createSandbox, errorOf, eventsOf, runOn, trackEvent } from './helpers';

let sandbox: TransformationSandbox;
beforeEach(() => {
  sandbox = createSandbox();
});
afterEach(() => sandbox.dispose());

describe('exports', () => {
  test.each([
    [
      'export const x = 1;',
      /must export transformEvent\(event, metadata\) or transformBatch.*exports x/,
    ],
    [
      'export function transformEvent(e) { return e; }\nexport function transformBatch(e) { return e; }',
      /exports both transformEvent and transformBatch/,
    ],
    ['export const transformEvent = 5;', /transformEvent is a number, not a function/],
    ['export default function transformEvent(e) { return e; }', /it exports default/],
  ])('%s is refused with a clear error', async (source, message) => {
    const run = await runOn(sandbox, code(source), [trackEvent(0)]);
    expect(errorOf(run, 0).message).toMatch(message);
  });

  test('a syntax error names the file and line, and stays until the code changes', async () => {
    const broken = code('export function transformEvent(event) {\n  return event +;\n}', {
      name: 'broken.js',
    });
    for (let attempt = 0; attempt < 2; attempt++) {
      const run = await runOn(sandbox, broken, [trackEvent(0)]);
      expect(errorOf(run, 0).message).toMatch(/broken\.js.*Unexpected token.*broken\.js:2/);
    }
    const fixed = { ...broken, source: 'export function transformEvent(event) { return event; }' };
    expect(eventsOf(await runOn(sandbox, fixed, [trackEvent(0)]), 0)).toHaveLength(1);
  });
});

describe('libraries', () => {
  const libraries = [
    {
      name: 'naming',
      source: `import { clean } from 'text/clean';\nexport const title = (s) => clean(s).toUpperCase();`,
    },
    { name: 'text/clean', source: `export function clean(s) {\n  return s.trim();\n}` },
    { name: 'broken-lib', source: `export function fail() {\n  throw new Error('from lib');\n}` },
  ];

  test('transformations import libraries by name, and libraries import each other', async () => {
    const transformation = code(
      `import { title } from 'naming';\nexport function transformEvent(e) { return { ...e, event: title(e.event) }; }`,
      { libraries },
    );
    const run = await runOn(sandbox, transformation, [trackEvent(0, { event: '  signed up ' })]);
    expect(eventsOf(run, 0)).toEqual([{ ...trackEvent(0), event: 'SIGNED UP' }]);
  });

  test('an unknown import names the specifier, the importer and the known libraries', async () => {
    const transformation = code(
      `import { title } from 'naming';\nimport { nope } from 'missing-lib';\nexport function transformEvent(e) { return e; }`,
      { libraries, name: 'uses-missing.js' },
    );
    const run = await runOn(sandbox, transformation, [trackEvent(0)]);
    expect(errorOf(run, 0).message).toMatch(
      /uses-missing\.js imports 'missing-lib', which is not a library in the workspace \(libraries: naming, text\/clean, broken-lib\)/,
    );
    const nested = code(
      `import { x } from 'outer';\nexport function transformEvent(e) { return e; }`,
      {
        libraries: [{ name: 'outer', source: `export { x } from 'inner';` }],
      },
    );
    expect(errorOf(await runOn(sandbox, nested, [trackEvent(0)]), 0).message).toMatch(
      /outer imports 'inner'/,
    );
  });

  test("a library's frame shows in the stack", async () => {
    const transformation = code(
      `import { fail } from 'broken-lib';\nexport function transformEvent(e) {\n  fail();\n}`,
      { libraries, name: 'calls-lib.js' },
    );
    const error = errorOf(await runOn(sandbox, transformation, [trackEvent(0)]), 0);
    expect(error.stack).toMatch(
      /at fail \(broken-lib:2:\d+\)\n\s+at transformEvent \(calls-lib\.js:3:\d+\)/,
    );
  });
});

describe('code versions', () => {
  test('changed code is used on the next call, without a restart', async () => {
    const v1 = code('export function transformEvent(e) { return { ...e, version: 1 }; }');
    const v2 = {
      ...v1,
      source: 'export function transformEvent(e) { return { ...e, version: 2 }; }',
    };
    expect(eventsOf(await runOn(sandbox, v1, [trackEvent(0)]), 0)).toMatchObject([{ version: 1 }]);
    expect(eventsOf(await runOn(sandbox, v2, [trackEvent(0)]), 0)).toMatchObject([{ version: 2 }]);
  });

  test('a changed library makes a new version too', async () => {
    const withLib = (value: number) =>
      code(`import { v } from 'lib';\nexport function transformEvent(e) { return { ...e, v }; }`, {
        libraries: [{ name: 'lib', source: `export const v = ${value};` }],
      });
    expect(eventsOf(await runOn(sandbox, withLib(1), [trackEvent(0)]), 0)).toMatchObject([
      { v: 1 },
    ]);
    expect(eventsOf(await runOn(sandbox, withLib(2), [trackEvent(0)]), 0)).toMatchObject([
      { v: 2 },
    ]);
  });

  test('a new version takes over while the old one finishes the calls it already has', async () => {
    const version = (n: number) =>
      code(
        `export async function transformEvent(e) { await null; return { ...e, version: ${n} }; }`,
      );
    const events = Array.from({ length: CALL_EVENTS * 3 }, (_, i) => trackEvent(i));
    const [old, fresh] = await Promise.all([
      runOn(sandbox, version(1), events),
      runOn(sandbox, version(2), [trackEvent(0)]),
    ]);
    for (let i = 0; i < events.length; i++)
      expect(eventsOf(old, i)).toMatchObject([{ version: 1 }]);
    expect(eventsOf(fresh, 0)).toMatchObject([{ version: 2 }]);
  });

  test('disposing the sandbox ends the calls in flight and the ones queued behind them', async () => {
    const stuck = code(
      'export async function transformEvent(e) { if (e.stuck) await new Promise(() => {}); return e; }',
    );
    // Built by a first run, the isolate takes the calls below as they are made: they are in flight
    // when the sandbox is disposed, without guessing how long a build takes on this machine.
    expect(eventsOf(await runOn(sandbox, stuck, [trackEvent(0)]), 0)).toHaveLength(1);
    const events = Array.from({ length: CALL_EVENTS * 3 }, (_, i) =>
      trackEvent(i, { stuck: true }),
    );
    const pending = runOn(sandbox, stuck, events);
    sandbox.dispose();
    const run = await pending;
    for (let i = 0; i < events.length; i++) expect(errorOf(run, i).message).toMatch(/stopped/);
  });

  test('disposing the sandbox also ends the calls of a version being replaced', async () => {
    const old = code('export async function transformEvent(e) { await new Promise(() => {}); }');
    const pending = runOn(sandbox, old, [trackEvent(0)]);
    // A new version takes over; the old one is retired with its call still in flight.
    await runOn(sandbox, code('export function transformEvent(e) { return e; }'), [trackEvent(1)]);
    sandbox.dispose();
    // Not left to its watchdog: until then its timer would keep the process alive.
    expect(errorOf(await pending, 0).message).toMatch(/stopped/);
  });

  test('one version keeps its module state across calls; calls are serialized', async () => {
    const counter = code(`
      let calls = 0;
      export async function transformEvent(e) {
        const mine = ++calls;
        await null;
        return { ...e, call: mine, callsNow: calls };
      }
    `);
    const runs = await Promise.all([0, 1, 2].map(() => runOn(sandbox, counter, [trackEvent(0)])));
    // Serialized: no other call started between a call's increment and its return.
    expect(runs.map((run) => eventsOf(run, 0)[0])).toEqual([
      expect.objectContaining({ call: 1, callsNow: 1 }),
      expect.objectContaining({ call: 2, callsNow: 2 }),
      expect.objectContaining({ call: 3, callsNow: 3 }),
    ]);
  });
});
