/** Starts a real Sluice (HTTP server and stages) on a test database, with a workspace of the test's. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DestinationStream } from 'pino';
import { startSluice, type RunningSluice } from '../../src/cli/sluice-app';
import { loadSettings, type Settings } from '../../src/config/settings';
import { createLogger } from '../../src/log';
import type { TestDatabase } from './test-database';

export const WRITE_KEY = 'test-write-key-1';
export const SECOND_WRITE_KEY = 'test-write-key-2';

export const BASIC_WORKSPACE = `
sources:
  - id: web
    writeKey: ${WRITE_KEY}
  - id: server
    writeKey: ${SECOND_WRITE_KEY}
  - id: off
    writeKey: disabled-write-key
    enabled: false
`;

export interface TestSluice extends RunningSluice {
  readonly workspaceFile: string;
  /** Replaces the workspace file and reloads it. */
  setWorkspace(yaml: string): void;
}

/** A log destination that keeps what Sluice logs, for tests that read it. */
export interface LogCapture extends DestinationStream {
  /** Everything logged so far, one JSON object per line. */
  text(): string;
}

export function captureLogs(): LogCapture {
  const lines: string[] = [];
  return { write: (line: string) => void lines.push(line), text: () => lines.join('') };
}

export async function startTestSluice(
  database: Pick<TestDatabase, 'url'>,
  options: {
    workspace?: string;
    settings?: Partial<Record<keyof Settings, unknown>>;
    /** Where logs go, at the default level (`info`); else nowhere, unless SLUICE_TEST_LOG_LEVEL. */
    logs?: LogCapture;
  } = {},
): Promise<TestSluice> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-test-'));
  const workspaceFile = path.join(dir, 'sluice.yaml');
  writeFileSync(workspaceFile, options.workspace ?? BASIC_WORKSPACE);
  const settings = loadSettings(
    {},
    {
      databaseUrl: database.url,
      port: 0,
      host: '127.0.0.1',
      workspaceFile,
      logLevel: options.logs
        ? 'info'
        : ((process.env.SLUICE_TEST_LOG_LEVEL as 'silent') ?? 'silent'),
      dbPoolSize: 6,
      ...(options.settings as object),
    },
  );
  const sluice = await startSluice(settings, createLogger(settings.logLevel, options.logs));
  return Object.assign(sluice, {
    workspaceFile,
    setWorkspace(yaml: string) {
      writeFileSync(workspaceFile, yaml);
      if (!sluice.workspace.reload()) throw new Error('workspace did not load');
    },
  });
}
