// Shared pieces of the sandbox tests: a sandbox with short limits, code and metadata builders,
// and a local HTTP server for fetch.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import {
  TransformationSandbox,
  type EventMetadata,
  type SandboxLimits,
  type SandboxRun,
  type TransformationCode,
} from '../../src/sandbox/transformation-sandbox';

export const silentLogger = pino({ level: 'silent' });

/**
 * Limits for tests. The call time limit is generous: work that must finish (an isolate build, a
 * few local fetches) never races it on a loaded machine, and a fetch that gets no answer is ended
 * by fetchTimeoutMs, far below it. Tests of the watchdog set a short limit of their own.
 */
export const TEST_LIMITS: SandboxLimits = {
  memoryLimitMb: 64,
  timeoutMs: 10_000,
  fetchTimeoutMs: 500,
  fetchAllowList: [],
  maxOutputsPerEvent: 1000,
};

export function createSandbox(
  limits: Partial<SandboxLimits> = {},
  allowPrivateAddresses?: boolean | readonly string[],
  options: { maxEventDepth?: number } = {},
): TransformationSandbox {
  return new TransformationSandbox({
    ...options,
    limits: { ...TEST_LIMITS, ...limits },
    logger: silentLogger,
    allowPrivateAddresses,
  });
}

export function code(
  source: string,
  options: { id?: string; name?: string; libraries?: TransformationCode['libraries'] } = {},
): TransformationCode {
  return {
    id: options.id ?? 'test',
    name: options.name ?? 'test-transformation.js',
    source,
    libraries: options.libraries ?? [],
  };
}

export function metadataFor(event: { messageId?: unknown }, index = 0): EventMetadata {
  return {
    sourceId: 'src-1',
    sourceName: 'Website',
    destinationId: 'dst-1',
    destinationName: 'Amplitude',
    destinationType: 'AMPLITUDE',
    messageId: typeof event.messageId === 'string' ? event.messageId : `m-${index}`,
    receivedAt: '2024-05-01T10:00:00.000Z',
  };
}

export function trackEvent(index: number, extra: Record<string, unknown> = {}) {
  return {
    type: 'track',
    event: 'Product Viewed',
    messageId: `m-${index}`,
    userId: `user-${index}`,
    properties: { index },
    ...extra,
  };
}

/** Runs `source` over `events` in `sandbox`, metadata built from each event. */
export function runOn(
  sandbox: TransformationSandbox,
  transformation: TransformationCode,
  events: Array<Record<string, unknown>>,
): Promise<SandboxRun> {
  return sandbox.run(
    transformation,
    events,
    events.map((event, index) => metadataFor(event, index)),
  );
}

export function eventsOf(run: SandboxRun, index: number): unknown[] {
  const result = run.results[index];
  if (!('events' in result)) throw new Error(`event ${index} failed: ${result.error.message}`);
  return result.events;
}

export function errorOf(run: SandboxRun, index: number) {
  const result = run.results[index];
  if (!('error' in result)) throw new Error(`event ${index} did not fail`);
  return result.error;
}

export interface LocalServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** An HTTP server on 127.0.0.1 with a random port. */
export async function localServer(handler: http.RequestListener): Promise<LocalServer> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
