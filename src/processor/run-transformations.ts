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
  TransformationCode,
  TransformationSandbox,
} from '../sandbox/transformation-sandbox';
import { transformationCode } from '../sandbox/load-transformation';
import type { Route } from './routing';

export interface ChainInput {
  event: SegmentEvent;
  /** The same event as JSON text, which is what crosses into the sandbox. */
  eventText: string;
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
  deps: { sandbox: TransformationSandbox; workspace: Workspace },
): Promise<ChainResult> {
  // The first transformation gets the events as the JSON text they arrived in (no stringify).
  let current: Array<{ input: number; event: SegmentEvent; text?: string }> = inputs.map(
    (input, index) => ({
      input: index,
      event: input.event,
      text: input.eventText,
    }),
  );
  const failures: ChainResult['failures'] = [];
  // Read with the chain's first transformation and shared by the rest.
  let libraries: TransformationCode['libraries'] | undefined;
  for (const transformation of route.transformations) {
    if (current.length === 0) break;
    let run;
    try {
      // Read on every run, so edited code takes effect without a restart (the sandbox rebuilds
      // an isolate only when the content changed).
      const code = transformationCode(deps.workspace, transformation, libraries);
      libraries = code.libraries;
      run = await deps.sandbox.run(
        code,
        current.map((item) => item.text ?? item.event),
        current.map((item) => ({
          ...inputs[item.input].metadata,
          messageId: item.event.messageId,
        })),
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
        failures.push({
          input: item.input,
          transformationId: transformation.id,
          error: result.error,
        });
        return;
      }
      for (const event of result.events)
        next.push({ input: item.input, event: event as SegmentEvent });
    });
    current = next;
  }
  return { outputs: current, failures };
}
