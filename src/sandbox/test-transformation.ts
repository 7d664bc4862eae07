/**
 * The loop a transformation author lives in: run a transformation file (with the workspace's
 * libraries) over sample events and see the output events, the logs and the errors. Used by
 * `sluice transform test` and the admin endpoint; it builds a throwaway sandbox per run.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { isPlainObject } from '../gateway/normalize-event';
import {
  TransformationSandbox,
  type EventMetadata,
  type SandboxLimits,
  type SandboxLog,
  type TransformationCode,
} from './transformation-sandbox';

export interface TestTransformationInput {
  code: TransformationCode;
  /** Sample events (objects). Those without a messageId get one, so metadata can find them. */
  events: unknown[];
  limits: SandboxLimits;
  logger: Logger;
  allowPrivateAddresses?: boolean | readonly string[];
}

export interface TestTransformationOutput {
  /** Every output event, in input order. */
  events: unknown[];
  logs: SandboxLog[];
  errors: Array<{ eventIndex: number; message: string; stack?: string }>;
}

/** Runs a transformation file (with the workspace's libraries) on sample events. */
export async function testTransformation(
  input: TestTransformationInput,
): Promise<TestTransformationOutput> {
  const receivedAt = new Date().toISOString();
  const events = input.events.map((event) => withMessageId(event));
  const metadata = events.map((event): EventMetadata => {
    const fields = isPlainObject(event) ? event : {};
    return {
      sourceId: 'test-source',
      sourceName: 'Test source',
      destinationId: 'test-destination',
      destinationName: 'Test destination',
      destinationType: 'TEST',
      messageId: String(fields.messageId),
      receivedAt: typeof fields.receivedAt === 'string' ? fields.receivedAt : receivedAt,
    };
  });
  const sandbox = new TransformationSandbox({
    limits: input.limits,
    logger: input.logger,
    allowPrivateAddresses: input.allowPrivateAddresses,
  });
  try {
    const run = await sandbox.run(input.code, events, metadata);
    const output: TestTransformationOutput = { events: [], logs: run.logs, errors: [] };
    run.results.forEach((result, eventIndex) => {
      if ('error' in result) output.errors.push({ eventIndex, ...result.error });
      // A loop, not push(...events): a fan-out can be larger than the call stack allows.
      else for (const event of result.events) output.events.push(event);
    });
    return output;
  } finally {
    sandbox.dispose();
  }
}

function withMessageId(event: unknown): unknown {
  if (!isPlainObject(event) || typeof event.messageId === 'string') return event;
  return { ...event, messageId: `test-${randomUUID()}` };
}
