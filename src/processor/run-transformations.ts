/**
 * Runs a connection's transformations, in order, over the events admitted to it: each
 * transformation sees the previous one's output. An event that a transformation fails drops out
 * of the chain with the error; an event a transformation drops just ends.
 */
import type { Workspace } from '../config/workspace';
import type { SegmentEvent } from '../event';
import type {
  EventMetadata,
  SandboxError,
  TransformationSandbox,
} from '../sandbox/transformation-sandbox';
import type { Route } from './routing';
import type { TransformationCodeCache } from './transformation-code-cache';

export interface ChainInput {
  event: SegmentEvent;
  metadata: EventMetadata;
}

export interface ChainResult {
  /** Output events, each with the index of the input it came from, in input order. */
  outputs: Array<{ input: number; event: SegmentEvent }>;
  failures: Array<{ input: number; transformationId: string; error: SandboxError }>;
}

export async function runTransformations(
  route: Route,
  inputs: readonly ChainInput[],
  deps: { sandbox: TransformationSandbox; code: TransformationCodeCache; workspace: Workspace },
): Promise<ChainResult> {
  let current = inputs.map((input, index) => ({ input: index, event: input.event }));
  const failures: ChainResult['failures'] = [];
  for (const transformation of route.transformations) {
    if (current.length === 0) break;
    let run;
    try {
      const code = deps.code.get(deps.workspace, transformation.id);
      run = await deps.sandbox.run(
        code,
        current.map((item) => item.event),
        current.map((item) => ({ ...inputs[item.input].metadata, messageId: item.event.messageId })),
      );
    } catch (error) {
      // The code could not be loaded or the sandbox failed as a whole: every event fails here.
      const failure = { message: (error as Error).message, stack: (error as Error).stack };
      for (const item of current) {
        failures.push({ input: item.input, transformationId: transformation.id, error: failure });
      }
      return { outputs: [], failures };
    }
    const next: typeof current = [];
    run.results.forEach((result, index) => {
      const item = current[index];
      if ('error' in result) {
        failures.push({ input: item.input, transformationId: transformation.id, error: result.error });
        return;
      }
      for (const event of result.events) next.push({ input: item.input, event: event as SegmentEvent });
    });
    current = next;
  }
  return { outputs: current, failures };
}
