/**
 * What one connection makes of a set of events: the connection's transformations run over them
 * (once, as a batch) and every output becomes a row for the connection's destination (queued for
 * the router, or staged for a warehouse's loader);
 * every event a transformation fails becomes a failed-event row. Shared by the processor and the
 * replay of failed events.
 */
import type { Workspace } from '../config/workspace';
import { isStorableId } from '../queue/text-columns';
import type { SegmentEvent } from '../event';
import type { TransformationSandbox } from '../sandbox/transformation-sandbox';
import type { Route } from './routing';
import { runTransformations, type ChainInput } from './run-transformations';
import type { DeliveryRow, FailedEventRow } from './write-output';

/** An event entering a connection. */
export interface ConnectionInput {
  event: SegmentEvent;
  /** The event as JSON text (kept in failed events as it entered the connection). */
  eventText: string;
  /**
   * What outputs are matched to their input by: the dedup key of the ingest event for the
   * processor (see queue/message-ids.ts), the failed event's id for a replay.
   */
  eventKey: string;
  sourceId: string;
  messageId: string;
  userKey: string;
  receivedAt: string;
}

export interface ConnectionDeps {
  sandbox: TransformationSandbox;
  workspace: Workspace;
}

export async function connectionOutput(
  route: Route,
  inputs: readonly ConnectionInput[],
  deps: ConnectionDeps,
): Promise<{ deliveries: DeliveryRow[]; failures: FailedEventRow[] }> {
  const deliveries: DeliveryRow[] = [];
  const failures: FailedEventRow[] = [];
  const deliver = (input: ConnectionInput, messageId: unknown, payload: string) =>
    deliveries.push({
      eventKey: input.eventKey,
      destinationId: route.destination.id,
      userKey: input.userKey,
      sourceId: input.sourceId,
      // An output without a messageId a text column can hold (a transformation's doing) goes on
      // under its input's, which the gateway checked.
      messageId:
        typeof messageId === 'string' && isStorableId(messageId) ? messageId : input.messageId,
      receivedAt: input.receivedAt,
      payload,
      warehouse: route.module.kind === 'warehouse',
    });
  if (route.transformations.length === 0) {
    for (const input of inputs) deliver(input, input.event.messageId, input.eventText);
    return { deliveries, failures };
  }
  const chainInputs: ChainInput[] = inputs.map((input) => ({
    eventText: input.eventText,
    metadata: {
      sourceId: route.source.id,
      sourceName: route.source.name ?? route.source.id,
      destinationId: route.destination.id,
      destinationName: route.destination.name ?? route.destination.id,
      destinationType: route.destination.type,
      messageId: input.messageId,
      receivedAt: input.receivedAt,
    },
  }));
  const result = await runTransformations(route, chainInputs, deps);
  for (const { input, messageId, text } of result.outputs) deliver(inputs[input], messageId, text);
  for (const failure of result.failures) {
    const input = inputs[failure.input];
    failures.push({
      eventKey: input.eventKey,
      sourceId: input.sourceId,
      destinationId: route.destination.id,
      transformationId: failure.transformationId,
      messageId: input.messageId,
      userKey: input.userKey,
      receivedAt: input.receivedAt,
      error: failure.error.message,
      stack: failure.error.stack,
      event: input.eventText,
    });
  }
  return { deliveries, failures };
}
