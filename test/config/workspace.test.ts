import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadSettings } from '../../src/config/settings';
import { loadWorkspace, parseWorkspace } from '../../src/config/workspace';
import { WorkspaceStore } from '../../src/config/workspace-store';
import { createLogger } from '../../src/log';

const VALID = `
sources:
  - id: web
    writeKey: \${WEB_KEY}
    rateLimit: { eventsPerSecond: 100 }
destinations:
  - id: hook
    type: webhook
    config: { url: "https://example.com/\${PATH_PART:-events}" }
transformations:
  - id: pii
    file: transformations/pii.js
connections:
  - source: web
    destination: hook
    transformations: [pii]
`;

const parse = (text: string, env: NodeJS.ProcessEnv = { WEB_KEY: 'key-from-env' }) =>
  parseWorkspace(text, 'ws.yaml', { env });

test('a valid workspace parses with defaults, env values and a write-key index', () => {
  const workspace = parse(VALID);
  expect(workspace.sources[0]).toMatchObject({
    id: 'web',
    writeKey: 'key-from-env',
    enabled: true,
    anonymizeIp: false,
  });
  expect(workspace.destinations[0].config).toEqual({ url: 'https://example.com/events' });
  expect(workspace.connections[0]).toMatchObject({ enabled: true, transformations: ['pii'] });
  expect(workspace.sourcesByWriteKey.get('key-from-env')?.id).toBe('web');
  expect(workspace.sandbox).toMatchObject({ memoryLimitMb: 128, timeoutMs: 4000 });
  expect(Object.isFrozen(workspace.sources[0])).toBe(true);
});

test.each([
  [
    'a missing env var',
    VALID,
    {},
    /ws\.yaml: sources\[0\]\.writeKey: environment variable WEB_KEY is not set/,
  ],
  ['a missing writeKey', 'sources:\n  - id: web\n', {}, /ws\.yaml: sources\[0\]\.writeKey/],
  [
    'a short writeKey',
    'sources:\n  - id: web\n    writeKey: abc\n',
    {},
    /sources\[0\]\.writeKey: must be at least 8/,
  ],
  [
    'an unknown field',
    'sources:\n  - id: web\n    writeKey: abcdefghij\n    wrteKey: x\n',
    {},
    /sources\[0\].*wrteKey/,
  ],
  [
    'a duplicate write key',
    'sources:\n  - {id: a, writeKey: abcdefghij}\n  - {id: b, writeKey: abcdefghij}\n',
    {},
    /sources\[1\]: duplicate writeKey/,
  ],
  [
    'a connection to nothing',
    'sources:\n  - {id: a, writeKey: abcdefghij}\nconnections:\n  - {source: a, destination: zz}\n',
    {},
    /connections\[0\]\.destination: no destination with id "zz"/,
  ],
  [
    'an unknown transformation',
    'sources:\n  - {id: a, writeKey: abcdefghij}\ndestinations:\n  - {id: d, type: webhook}\nconnections:\n  - {source: a, destination: d, transformations: [nope]}\n',
    {},
    /connections\[0\]\.transformations\[0\]: no transformation with id "nope"/,
  ],
  ['broken YAML', 'sources: [', {}, /ws\.yaml: /],
])('%s fails naming the file and field', (_name, text, env, message) => {
  expect(() => parse(text, env)).toThrow(message);
});

test('destination configs are checked by the validator for their type', () => {
  expect(() =>
    parseWorkspace(VALID, 'ws.yaml', {
      env: { WEB_KEY: 'key-from-env' },
      validateDestination: () => {
        throw new Error('url: must use https');
      },
    }),
  ).toThrow(/ws\.yaml: destinations\[0\]\.config: url: must use https/);
});

test('an unreadable file fails naming it', () => {
  expect(() => loadWorkspace('/nonexistent/sluice.yaml')).toThrow(
    /\/nonexistent\/sluice\.yaml: cannot be read/,
  );
});

test('the store keeps the last good workspace when the file turns invalid', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ws-'));
  const file = path.join(dir, 'sluice.yaml');
  writeFileSync(file, 'sources:\n  - {id: a, writeKey: abcdefghij}\n');
  const store = new WorkspaceStore(file, {}, createLogger('silent'));
  const changes: string[] = [];
  store.onChange((workspace) => changes.push(workspace.sources.map((s) => s.id).join()));
  writeFileSync(file, 'sources: [');
  expect(store.reload()).toBe(false);
  expect(store.current.sources[0].id).toBe('a');
  writeFileSync(file, 'sources:\n  - {id: b, writeKey: abcdefghij}\n');
  expect(store.reload()).toBe(true);
  expect(changes).toEqual(['b']);
});

test('settings come from the environment, and a bad value names its variable', () => {
  const settings = loadSettings({
    PORT: '9000',
    SLUICE_ROLES: 'gateway, processor',
    SLUICE_MAX_EVENT_BYTES: '65536',
  });
  expect(settings).toMatchObject({
    port: 9000,
    roles: ['gateway', 'processor'],
    maxEventBytes: 65536,
    maxBatchBytes: 512000,
  });
  expect(Object.isFrozen(settings)).toBe(true);
  expect(() => loadSettings({ PORT: 'eighty' })).toThrow(/PORT/);
  expect(() => loadSettings({ SLUICE_ROLES: 'gateway,cook' })).toThrow(/SLUICE_ROLES/);
});
