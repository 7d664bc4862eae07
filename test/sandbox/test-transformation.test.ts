// Loading transformation code from a workspace's files, and the `sluice transform test` loop.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SluiceError } from '../../src/errors';
import {
  codeFromFile,
  inlineCode,
  loadTransformationCode,
} from '../../src/sandbox/load-transformation';
import { testTransformation } from '../../src/sandbox/test-transformation';
import { TEST_LIMITS, silentLogger, trackEvent } from './helpers';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-sandbox-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function workspaceWith(files: Record<string, string>) {
  for (const [file, text] of Object.entries(files)) writeFileSync(path.join(dir, file), text);
  return {
    file: path.join(dir, 'sluice.yaml'),
    dir,
    transformations: [{ id: 'tag', file: 'tag.js' }],
    libraries: [{ name: 'tags', file: 'tags.js' }],
  };
}

describe('loadTransformationCode', () => {
  test('reads the transformation and every library relative to the workspace', () => {
    const workspace = workspaceWith({ 'tag.js': 'source of tag', 'tags.js': 'source of tags' });
    expect(loadTransformationCode(workspace, 'tag')).toEqual({
      id: 'tag',
      name: 'tag.js',
      source: 'source of tag',
      libraries: [{ name: 'tags', source: 'source of tags' }],
    });
  });

  test('a missing file is a workspace error naming the file', () => {
    const workspace = workspaceWith({ 'tag.js': 'source of tag' });
    const load = () => loadTransformationCode(workspace, 'tag');
    expect(load).toThrow(SluiceError);
    expect(load).toThrow(`library "tags" cannot be read: ${path.join(dir, 'tags.js')} (ENOENT)`);
    try {
      load();
    } catch (error) {
      expect((error as SluiceError).code).toBe('SLUICE_E_WORKSPACE_INVALID');
    }
    expect(() => loadTransformationCode(workspace, 'nope')).toThrow(
      'no transformation with id "nope"',
    );
  });

  test('codeFromFile and inlineCode take the workspace libraries', () => {
    const workspace = workspaceWith({ 'tag.js': 'tag source', 'tags.js': 'tags source' });
    expect(codeFromFile(path.join(dir, 'tag.js'), workspace)).toMatchObject({
      id: 'tag',
      name: 'tag.js',
      source: 'tag source',
      libraries: [{ name: 'tags', source: 'tags source' }],
    });
    writeFileSync(path.join(dir, 'other.js'), 'other source');
    expect(codeFromFile(path.join(dir, 'other.js'))).toEqual({
      id: 'other',
      name: 'other.js',
      source: 'other source',
      libraries: [],
    });
    expect(inlineCode('inline source', workspace)).toMatchObject({
      name: 'inline.js',
      libraries: [{ name: 'tags', source: 'tags source' }],
    });
  });
});

describe('testTransformation', () => {
  const workspace = () =>
    workspaceWith({
      'tag.js': [
        "import { TAG } from 'tags';",
        'export function transformEvent(event, metadata) {',
        "  log('source', metadata.sourceId);",
        "  if (event.event === 'Bad') throw new Error('bad event');",
        '  return { ...event, tag: TAG, receivedAt: metadata.receivedAt };',
        '}',
      ].join('\n'),
      'tags.js': "export const TAG = 'tagged';",
    });

  test('returns output events, logs and errors with the event index', async () => {
    const result = await testTransformation({
      code: loadTransformationCode(workspace(), 'tag'),
      events: [
        trackEvent(0, { receivedAt: '2024-01-01T00:00:00.000Z' }),
        trackEvent(1, { event: 'Bad' }),
      ],
      limits: TEST_LIMITS,
      logger: silentLogger,
    });
    expect(result.events).toEqual([
      { ...trackEvent(0), tag: 'tagged', receivedAt: '2024-01-01T00:00:00.000Z' },
    ]);
    expect(result.logs).toEqual([
      { level: 'log', message: 'source test-source', eventIndex: 0 },
      { level: 'log', message: 'source test-source', eventIndex: 1 },
    ]);
    expect(result.errors).toEqual([
      {
        eventIndex: 1,
        message: 'bad event',
        stack: expect.stringMatching(/at transformEvent \(tag\.js:4:/),
      },
    ]);
  });

  test('sample events without a messageId get one, so transformBatch metadata finds them', async () => {
    const result = await testTransformation({
      code: inlineCode(
        'export function transformBatch(events, metadata) { return events.map((e) => ({ ...e, source: metadata(e)?.sourceName })); }',
        { ...workspace(), libraries: [] },
      ),
      events: [{ type: 'track', event: 'No Id' }],
      limits: TEST_LIMITS,
      logger: silentLogger,
    });
    expect(result.errors).toEqual([]);
    expect(result.events).toEqual([
      {
        type: 'track',
        event: 'No Id',
        messageId: expect.stringMatching(/^test-/),
        source: 'Test source',
      },
    ]);
  });

  test('an event fanned out past the limit is reported as failed, not a crash of the loop', async () => {
    const products = Array.from({ length: 150_000 }, (_, i) => ({ sku: `s-${i}` }));
    const result = await testTransformation({
      code: inlineCode(
        'export function transformEvent(e) { return e.properties.products.map((p) => ({ ...e, properties: p })); }',
        { ...workspace(), libraries: [] },
      ),
      events: [
        { type: 'track', event: 'Order Completed', properties: { products } },
        { type: 'track', event: 'Order Completed', properties: { products: products.slice(0, 2) } },
      ],
      limits: { ...TEST_LIMITS, memoryLimitMb: 256, timeoutMs: 30_000, maxOutputsPerEvent: 1000 },
      logger: silentLogger,
    });
    expect(result.errors).toEqual([
      {
        eventIndex: 0,
        message:
          'transformEvent made 150000 events of one event; the limit is 1000 (sandbox.maxOutputsPerEvent)',
      },
    ]);
    expect(result.events).toHaveLength(2);
  });
});
