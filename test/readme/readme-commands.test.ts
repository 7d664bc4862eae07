/**
 * Every command in the README's shell blocks works as written on a fresh clone: it runs here,
 * in a clone of the repository (with this checkout's installed packages and build), or it is
 * listed below with the test that covers it. A command added to the README without either fails
 * this test.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eventually } from '../support/eventually';

const ROOT = path.resolve(__dirname, '../..');

/** Commands run elsewhere, and where. */
const COVERED_ELSEWHERE: Array<[RegExp, string]> = [
  [/^npm test$/, 'the test command is this suite itself (.ci/run runs it on a fresh clone)'],
  [/^npm run build$/, 'npm test builds before it tests'],
  [/^helm install /, 'test/helm/chart.test.ts renders the README’s helm install command'],
  [/^node (--[\w-=]+ )*bench\//, 'benchmarks print figures and are not part of the test run'],
];

/** The commands of the README's ```sh blocks, continuation lines joined, comments cut. */
function readmeCommands(): string[] {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const commands: string[] = [];
  for (const [, block] of readme.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const joined = block.replace(/\\\n\s*/g, ' ');
    for (const line of joined.split('\n')) {
      const command = line.replace(/\s+#.*$/, '').trim();
      if (command !== '') commands.push(command);
    }
  }
  return commands;
}

let clone: string;
beforeAll(() => {
  // Readable by the embedded PostgreSQL's own user (it runs as `postgres` when the tests are root).
  clone = mkdtempSync(path.join(os.tmpdir(), 'sluice-clone-'));
  chmodSync(clone, 0o755);
  const cloned = spawnSync('git', ['clone', '-q', ROOT, clone], { encoding: 'utf8' });
  expect(cloned.stderr).toBe('');
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(clone, 'node_modules'));
  symlinkSync(path.join(ROOT, 'dist'), path.join(clone, 'dist'));
});
afterAll(() => rmSync(clone, { recursive: true, force: true }));

test('every command of the README runs here or is covered by a named test', () => {
  const unaccounted = readmeCommands().filter(
    (command) =>
      !RUN_HERE.some((pattern) => pattern.test(command)) &&
      !COVERED_ELSEWHERE.some(([pattern]) => pattern.test(command)),
  );
  expect(unaccounted).toEqual([]);
});

/** The commands this file runs (the tests below). */
const RUN_HERE = [/^npm install && npm start$/, /^curl /, /^bin\/sluice transform test /];

test('bin/sluice transform test, as written, on the shipped sample events', () => {
  const commands = readmeCommands().filter((command) =>
    /^bin\/sluice transform test /.test(command),
  );
  expect(commands.length).toBeGreaterThan(0);
  for (const command of commands) {
    const result = spawnSync('sh', ['-c', command], { cwd: clone, encoding: 'utf8' });
    expect([command, result.status, result.stderr]).toEqual([command, 0, '']);
    expect(result.stdout).toMatch(/3 event\(s\) out of 3 in|"events"/);
  }
});

test('npm start (as `bin/sluice start`, what it runs once built) and the printed curl', async () => {
  // The embedded database on a fresh data folder, as on a new machine; any free port.
  const child = spawn(path.join(clone, 'bin/sluice'), ['start'], {
    cwd: clone,
    env: {
      ...process.env,
      DATABASE_URL: '',
      SLUICE_ADMIN_TOKEN: '',
      PORT: '0',
      SLUICE_LOG_LEVEL: 'info',
    },
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  try {
    const url = await eventually(() => {
      const match = /"url":"(http:\/\/[^"]+)"/.exec(output);
      if (!match) throw new Error(`not started yet:\n${output}`);
      return match[1];
    }, 120_000);
    // A local trial gets a console token for the run, printed with the console's address.
    expect(output).toMatch(/Sluice console: http:\/\/\S+\/console#token=\S+/);
    const curl = readmeCommands().find((command) => command.startsWith('curl '))!;
    const result = spawnSync('sh', ['-c', curl.replace('http://localhost:8080', url)], {
      encoding: 'utf8',
    });
    expect([result.status, result.stdout]).toEqual([0, '{"success":true}']);
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  }
}, 180_000);
