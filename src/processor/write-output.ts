/**
 * Writes the processor's output inside a caller's transaction: rows for tool destinations into
 * the head segment of the delivery queue (in the order given, which is the order per user), rows
 * for warehouse destinations into warehouse staging, and failed events. Used by the hand-off and
 * by the replay of failed events.
 */
import type pg from 'pg';
import { storableText, storableTextOrNull } from '../db/storable-text';
import { joinColumn, splitColumn } from '../queue/text-columns';

export interface DeliveryRow {
  /** Its input's key (see ConnectionInput.eventKey); not written. */
  eventKey: string;
  destinationId: string;
  userKey: string;
  sourceId: string;
  messageId: string;
  receivedAt: string;
  /** The event to deliver, as JSON text. */
  payload: string;
  /** Bound for a warehouse: staged for its loader instead of queued for the router. */
  warehouse: boolean;
}

export interface FailedEventRow {
  /** Its input's key (see ConnectionInput.eventKey); not written. */
  eventKey: string;
  sourceId: string;
  destinationId: string;
  /** Null when the event failed in the processor outside any transformation. */
  transformationId: string | null;
  messageId: string;
  userKey: string;
  receivedAt: string;
  error: string;
  stack?: string;
  /** The event as it entered the connection, as JSON text. */
  event: string;
}

/** Inserts columnsOf's rows in order; `segment` is the SQL for a segmented table's segment. */
function insertOutput(table: string, segment?: string): string {
  const [segmentColumn, segmentValue] = segment ? ['segment, ', `${segment}, `] : ['', ''];
  return `
INSERT INTO ${table} (${segmentColumn}destination_id, user_key, source_id, message_id, received_at, payload)
SELECT ${segmentValue}destination_id, user_key, source_id, message_id, received_at, payload
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], ${splitColumn(6)})
  WITH ORDINALITY AS t(destination_id, user_key, source_id, message_id, received_at, payload, ord)
ORDER BY ord`;
}

const INSERT_DELIVERIES = insertOutput(
  'delivery_jobs',
  '(SELECT max(segment) FROM delivery_segments)',
);
const INSERT_STAGED = insertOutput('warehouse_staging');

const INSERT_FAILURES = `
INSERT INTO failed_events
  (source_id, destination_id, transformation_id, message_id, user_key, received_at, error, stack, event)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[],
                     $7::text[], $8::text[], ${splitColumn(9)})`;

export async function insertDeliveries(
  client: pg.PoolClient,
  rows: readonly DeliveryRow[],
): Promise<void> {
  const queued = rows.filter((row) => !row.warehouse);
  const staged = rows.filter((row) => row.warehouse);
  if (queued.length > 0) await client.query(INSERT_DELIVERIES, columnsOf(queued));
  if (staged.length > 0) await client.query(INSERT_STAGED, columnsOf(staged));
}

function columnsOf(rows: readonly DeliveryRow[]): unknown[] {
  return [
    rows.map((row) => row.destinationId),
    rows.map((row) => row.userKey),
    rows.map((row) => row.sourceId),
    rows.map((row) => row.messageId),
    rows.map((row) => row.receivedAt),
    joinColumn(rows, (row) => row.payload),
  ];
}

export async function insertFailedEvents(
  client: pg.PoolClient,
  rows: readonly FailedEventRow[],
): Promise<void> {
  if (rows.length === 0) return;
  // What failed is what holds odd values: an id or an error message may hold a NUL or a lone
  // surrogate (the event itself is JSON text, which holds them as escapes).
  await client.query(INSERT_FAILURES, [
    rows.map((row) => row.sourceId),
    rows.map((row) => row.destinationId),
    rows.map((row) => row.transformationId),
    rows.map((row) => storableText(row.messageId)),
    rows.map((row) => storableText(row.userKey)),
    rows.map((row) => row.receivedAt),
    rows.map((row) => storableText(row.error)),
    rows.map((row) => storableTextOrNull(row.stack)),
    joinColumn(rows, (row) => row.event),
  ]);
}
