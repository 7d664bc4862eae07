/**
 * An event as the rows Segment's warehouse schema gives it, so that a Segment user's SQL finds
 * its tables and columns:
 *   track    → `tracks` (common columns) and a table named after the event (`Order Completed` →
 *              `order_completed`: common columns and the properties)
 *   identify → `identifies` (common columns and the traits) and `users` (one row per user_id,
 *              its latest traits; merged, not replaced, on later identifies)
 *   page     → `pages`, screen → `screens` (with `name` and the properties)
 *   group    → `groups` (with `group_id` and the traits), alias → `aliases` (with `previous_id`)
 * Common columns: `id` (the messageId), `anonymous_id`, `user_id`, `received_at`, `sent_at`,
 * `timestamp`, `original_timestamp`, `uuid_ts` (when it was loaded) and `context_*`; track tables
 * add `event` (snake_case) and `event_text` (as sent). Nested objects are flattened with `_`
 * (`context.app.version` → `context_app_version`), arrays are kept as JSON text, and `null`
 * makes no column. Traits come from `traits` and `context.traits` (RudderStack SDKs send them
 * there only), explicit `traits` winning. A property whose column is a common column's is not
 * written over it: it is discarded, with the reason, as Segment does.
 */
import type { SegmentEvent } from '../event';
import { snakeCase, warehouseName, type WarehouseDialect } from './naming';

/** Column types, as every warehouse has them. */
export const COLUMN_TYPES = ['timestamp', 'int', 'float', 'boolean', 'string'] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];

/** One value with the type it would give its column. Timestamps keep the text they came as. */
export interface Cell {
  type: ColumnType;
  value: string | number | boolean;
}

/** A value the warehouse will not get, and why; it is written to the discards table instead. */
export interface Discard {
  table: string;
  column: string;
  rowId: string;
  /** The value as JSON text (JSON escapes keep what a text column could not). */
  value: string;
  receivedAt: string;
  reason: string;
}

export interface TableRow {
  table: string;
  /** How a row with an `id` already loaded is written: `replace`d, or `merge`d (users). */
  write: 'replace' | 'merge';
  cells: Map<string, Cell>;
  /** Values of this row that are discarded already (a property named like a common column). */
  discards: Discard[];
}

/** Segment's tables; a track event whose name is one of them gets a `_` before its table name. */
export const SEGMENT_TABLES = new Set([
  'tracks',
  'identifies',
  'users',
  'pages',
  'screens',
  'groups',
  'aliases',
  'accounts',
]);

/** The rows of one event; `loadedAt` is the `uuid_ts` of the load. */
export function eventRows(
  event: SegmentEvent,
  dialect: WarehouseDialect,
  loadedAt: string,
): TableRow[] {
  const common = commonCells(event, dialect, loadedAt);
  const id = event.messageId;
  const receivedAt = event.receivedAt;
  const row = (table: string, extra: Map<string, Cell>, fields?: unknown): TableRow => {
    const cells = new Map([...common, ...extra]);
    const discards: Discard[] = [];
    if (fields !== undefined) {
      for (const [column, cell] of flatten(fields, '', dialect)) {
        if (cells.has(column)) {
          discards.push({
            table,
            column,
            rowId: id,
            value: JSON.stringify(cell.value),
            receivedAt,
            reason: `"${column}" is a column Sluice writes itself`,
          });
        } else cells.set(column, cell);
      }
    }
    return { table, write: 'replace', cells, discards };
  };
  const named = (column: string, value: unknown): Map<string, Cell> =>
    typeof value === 'string' && value !== ''
      ? new Map([[column, { type: 'string', value }]])
      : new Map();

  switch (event.type) {
    case 'track': {
      const name = String(event.event);
      const trackCells = new Map<string, Cell>([
        ['event', { type: 'string', value: snakeCase(name) }],
        ['event_text', { type: 'string', value: name }],
      ]);
      const rows = [row('tracks', trackCells)];
      const table = eventTable(name, dialect);
      if (table) rows.push(row(table, trackCells, event.properties));
      return rows;
    }
    case 'identify': {
      const traits = traitsOf(event);
      const rows = [row('identifies', new Map(), traits)];
      if (typeof event.userId === 'string') {
        const user = new Map<string, Cell>([
          ['id', { type: 'string', value: event.userId }],
          ['received_at', { type: 'timestamp', value: receivedAt }],
          ['uuid_ts', { type: 'timestamp', value: loadedAt }],
        ]);
        const users = { table: 'users', write: 'merge' as const, cells: user, discards: [] };
        for (const [column, cell] of flatten(traits, '', dialect)) {
          if (users.cells.has(column)) continue; // `id` and the times are the user's own
          users.cells.set(column, cell);
        }
        rows.push(users);
      }
      return rows;
    }
    case 'page':
      return [row('pages', named('name', event.name), event.properties)];
    case 'screen':
      return [row('screens', named('name', event.name), event.properties)];
    case 'group':
      return [row('groups', named('group_id', event.groupId), traitsOf(event))];
    case 'alias':
      return [row('aliases', named('previous_id', event.previousId))];
  }
}

/** The table of a track event: its name in snake_case, `_` first when it is a Segment table's. */
function eventTable(name: string, dialect: WarehouseDialect): string | undefined {
  const table = warehouseName(name, dialect);
  return table && SEGMENT_TABLES.has(table) ? warehouseName(`_${table}`, dialect) : table;
}

function traitsOf(event: SegmentEvent): Record<string, unknown> {
  const fromContext = isObject(event.context?.traits) ? event.context.traits : {};
  return { ...fromContext, ...(isObject(event.traits) ? event.traits : {}) };
}

function commonCells(
  event: SegmentEvent,
  dialect: WarehouseDialect,
  loadedAt: string,
): Map<string, Cell> {
  const cells = new Map<string, Cell>([['id', { type: 'string', value: event.messageId }]]);
  const set = (column: string, type: ColumnType, value: unknown) => {
    if (typeof value === 'string' && value !== '') cells.set(column, { type, value });
  };
  set('anonymous_id', 'string', event.anonymousId);
  set('user_id', 'string', event.userId);
  set('received_at', 'timestamp', event.receivedAt);
  set('sent_at', 'timestamp', event.sentAt);
  set('timestamp', 'timestamp', event.timestamp);
  set('original_timestamp', 'timestamp', event.originalTimestamp);
  set('uuid_ts', 'timestamp', loadedAt);
  for (const [column, cell] of flatten(event.context, 'context', dialect)) {
    if (!cells.has(column)) cells.set(column, cell);
  }
  return cells;
}

/**
 * Columns and cells of an object's leaves, names joined with `_` under `prefix`. Events are at
 * most 64 levels deep (the gateway's limit), so the recursion is bounded.
 */
function flatten(value: unknown, prefix: string, dialect: WarehouseDialect): Map<string, Cell> {
  const cells = new Map<string, Cell>();
  const walk = (node: unknown, path: string) => {
    if (node === null || node === undefined) return;
    if (isObject(node)) {
      for (const key of Object.keys(node)) {
        walk(node[key], path === '' ? key : `${path}_${key}`);
      }
      return;
    }
    const column = warehouseName(path, dialect);
    if (column === undefined || cells.has(column)) return; // the first of two keys that collide
    cells.set(column, cellOf(node));
  };
  walk(value, prefix);
  return cells;
}

/** The cell a JSON value makes: arrays as JSON text, ISO-8601 strings as timestamps. */
export function cellOf(value: unknown): Cell {
  if (typeof value === 'boolean') return { type: 'boolean', value };
  if (typeof value === 'number') {
    return { type: Number.isSafeInteger(value) ? 'int' : 'float', value };
  }
  if (typeof value === 'string')
    return { type: isTimestamp(value) ? 'timestamp' : 'string', value };
  return { type: 'string', value: JSON.stringify(value) };
}

const ISO_8601 =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|z|[+-]\d{2}(?::?\d{2})?)?)?$/;

/**
 * Whether the text is an ISO-8601 date or time that every warehouse reads the same: the fields
 * are checked (no month 13, no 30 February, no year 0), so a value typed a timestamp here never
 * fails a load.
 */
export function isTimestamp(text: string): boolean {
  const match = ISO_8601.exec(text);
  if (!match) return false;
  const [year, month, day, hour = 0, minute = 0, second = 0] = match
    .slice(1, 7)
    .map((part) => (part === undefined ? undefined : Number(part)));
  if (year! < 1 || month! < 1 || month! > 12 || day! < 1) return false;
  if (day! > new Date(Date.UTC(year!, month!, 0)).getUTCDate()) return false;
  return hour! <= 23 && minute! <= 59 && second! <= 59;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
