// The embedded server's start-up check for a data folder its `postgres` user could not enter.
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { closedAncestor } from '../../src/db/embedded-postgres';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-data-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test('a data folder inside a folder others cannot enter is named; an open path passes', () => {
  const data = path.join(dir, 'home', '.sluice');
  mkdirSync(data, { recursive: true });
  chmodSync(dir, 0o755);
  chmodSync(path.join(dir, 'home'), 0o700);
  expect(closedAncestor(data)).toBe(path.join(dir, 'home'));
  chmodSync(path.join(dir, 'home'), 0o755);
  expect(closedAncestor(data)).toBeUndefined();
  // A folder not made yet is judged by the folders that exist on its way.
  expect(closedAncestor(path.join(data, 'not', 'yet'))).toBeUndefined();
});
