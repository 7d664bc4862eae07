/**
 * Runs a connection's transformations, in order, over the events admitted to it: each
 * transformation sees the previous one's output. An event that a transformation fails drops out
 * of the chain with the error; an event a transformation drops just ends.
 */
import type { Workspace } from '../config/workspace';
import type {
  EventMetadata,
  SandboxError,
  TransformationCode,
  TransformationSandbox,
} from '../sandbox/transformation-sandbox';
import { transformationCode } from '../sandbox/load-transformation';
import type { Route } from './routing';

export interface ChainInput {
  /** The event as JSON text, which is what crosses into the sandbox. */
  eventText: string;
  metadata: EventMetadata;
}

/** An event on its way through the chain, as the JSON text the sandbox reads and returns. */
export interface ChainEvent {
  /** Index of the input it came from. */
  input: number;
  text: string;
  /** Its messageId, when it has a string one. */
  messageId: string | null;
}

export interface ChainResult {
  /** Output events, in input order. */
  outputs: ChainEvent[];
  failures: Array<{ input: number; transformationId: string; error: SandboxError }>;
}

export async function runTransformations(
  route: Route,
  inputs: readonly ChainInput[],
  deps: { sandbox: TransformationSandbox; workspace: Workspace },
): Promise<ChainResult> {
  // Events stay JSON text from the queue to the delivery row: no parse or stringify on the host.
  let current: ChainEvent[] = inputs.map((input, index) => ({
    input: index,
    text: input.eventText,
    messageId: input.metadata.messageId,
  }));
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
        current.map((item) => item.text),
        // An output without a messageId of its own goes on under its input's.
        current.map((item) => ({
          ...inputs[item.input].metadata,
          messageId: item.messageId ?? inputs[item.input].metadata.messageId,
        })),
        { output: 'json' },
      );
    } catch (error) {
      // The code could not be loaded or the sandbox failed as a whole: every event fails here.
      const failure = { message: (error as Error).message, stack: (error as Error).stack };
      for (const item of current) {
        failures.push({ input: item.input, transformationId: transformation.id, error: failure });
      }
      return { outputs: [], failures };
    }
    const next: ChainEvent[] = [];
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
      result.events.forEach((text, j) =>
        next.push({ input: item.input, text: text as string, messageId: result.messageIds![j] }),
      );
    });
    current = next;
  }
  return { outputs: current, failures };
}
