/**
 * Replays events a transformation failed on, once the code is fixed: each failed event runs
 * through its connection again (the current transformations, filters and destination) and its
 * output joins the delivery queue; events that fail again are recorded anew. The old rows go in
 * the same transaction, so an event is never both replayed and still listed.
 *
 * Two replays at once (the CLI and the admin API) read the same rows. Each claims its rows by
 * deleting them in the transaction that writes the output, and writes only the output of the
 * rows its DELETE took, so every failed event is handed on once. The claim comes after the
 * transformations ran, not before: a transaction open while they run would hold back the
 * processor, which reads no ingest row newer than the oldest open transaction.
 */
import type pg from 'pg';
import type { Workspace } from '../config/workspace';
import type { SegmentEvent } from '../event';
import type { TransformationSandbox } from '../sandbox/transformation-sandbox';
import { connectionOutput, type ConnectionInput } from './connection-output';
import { rejection, routingTable, type DestinationRegistry, type Route } from './routing';
import { insertDeliveries, insertFailedEvents } from './write-output';
import { withTransaction } from '../db/transaction';

export interface FailedEventFilter {
  destinationId?: string;
  ids?: number[];
}

export interface ReplayDeps {
  pool: pg.Pool;
  workspace: Workspace;
  destinations: DestinationRegistry;
  sandbox: TransformationSandbox;
}

export interface ReplayResult {
  /** Failed events taken out of the list (by this replay: not those another took first). */
  replayed: number;
  /** Of those, how many failed again (and are listed again). */
  failedAgain: number;
  /** Failed events left alone because their connection no longer exists. */
  skipped: number;
}

const WHERE = `($1::text IS NULL OR destination_id = $1) AND ($2::bigint[] IS NULL OR id = ANY($2))`;

export async function replayFailedEvents(
  deps: ReplayDeps,
  filter: FailedEventFilter,
  limit = 1000,
): Promise<ReplayResult> {
  const { rows } = await deps.pool.query(
    `SELECT * FROM failed_events WHERE ${WHERE} ORDER BY id LIMIT $3`,
    [filter.destinationId ?? null, filter.ids ?? null, limit],
  );
  const routes = routingTable(deps.workspace, deps.destinations);
  const groups = new Map<Route, { ids: number[]; inputs: ConnectionInput[] }>();
  let skipped = 0;
  for (const row of rows) {
    const route = routes.get(row.source_id)?.find((r) => r.destination.id === row.destination_id);
    if (!route) {
      skipped++;
      continue;
    }
    const event = JSON.parse(row.event) as SegmentEvent;
    const group = groups.get(route) ?? { ids: [], inputs: [] };
    group.ids.push(Number(row.id));
    // The connection may have changed since: an event its filters now reject is just taken off.
    if (rejection(route, event) === undefined) {
      group.inputs.push({
        event,
        eventText: row.event,
        // Outputs are matched back to the failed event by its id, to write only those claimed.
        eventKey: String(row.id),
        sourceId: row.source_id,
        messageId: row.message_id,
        userKey: row.user_key,
        receivedAt: row.received_at.toISOString(),
      });
    }
    groups.set(route, group);
  }
  let replayed = 0;
  let failedAgain = 0;
  for (const [route, group] of groups) {
    const output = await connectionOutput(route, group.inputs, deps);
    const claimed = await withTransaction(deps.pool, async (client) => {
      const { rows: taken } = await client.query<{ id: number }>(
        'DELETE FROM failed_events WHERE id = ANY($1::bigint[]) RETURNING id',
        [group.ids],
      );
      const ids = new Set(taken.map((row) => String(row.id)));
      const failures = output.failures.filter((row) => ids.has(row.eventKey));
      await insertDeliveries(
        client,
        output.deliveries.filter((row) => ids.has(row.eventKey)),
      );
      await insertFailedEvents(client, failures);
      return { replayed: ids.size, failedAgain: failures.length };
    });
    replayed += claimed.replayed;
    failedAgain += claimed.failedAgain;
  }
  return { replayed, failedAgain, skipped };
}

export async function listFailedEvents(pool: pg.Pool, filter: FailedEventFilter, limit = 100) {
  const { rows } = await pool.query(
    `SELECT id, failed_at, source_id, destination_id, transformation_id, message_id, user_key,
            received_at, error, stack, event
     FROM failed_events WHERE ${WHERE} ORDER BY id LIMIT $3`,
    [filter.destinationId ?? null, filter.ids ?? null, limit],
  );
  return rows.map((row) => ({
    id: Number(row.id),
    failedAt: row.failed_at,
    sourceId: row.source_id,
    destinationId: row.destination_id,
    transformationId: row.transformation_id,
    messageId: row.message_id,
    userKey: row.user_key,
    receivedAt: row.received_at,
    error: row.error,
    stack: row.stack,
    event: JSON.parse(row.event),
  }));
}
