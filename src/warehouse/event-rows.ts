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
import { DISCARDS_TABLE } from './warehouse';

/** Column types, as every warehouse has them. */
export const COLUMN_TYPES = ['timestamp', 'int', 'float', 'boolean', 'string'] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];

/** A value as a warehouse column holds it. Timestamps keep the text they came as. */
export type Value = string | number | boolean;

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

/**
 * One row for one table. Its cells are three arrays side by side (names, the type each value
 * would give its column, values): a load maps tens of thousands of events with dozens of
 * values each, and an object per value is what the garbage collector would spend its time on.
 */
export interface TableRow {
  table: string;
  /**
   * How a row whose `id` is loaded already is written: `insert`: not at all (an id is one event,
   * so a repeat is the same row); `merge`: its values over the old ones (users' latest traits).
   */
  write: 'insert' | 'merge';
  id: string;
  receivedAt: string;
  columns: string[];
  types: ColumnType[];
  values: Value[];
  /** Values of this row that are discarded already (a property named like a common column). */
  discards: Discard[];
}

/**
 * Segment's tables; a track event whose name is one of them (or the discards table's) gets a `_`
 * before its table name.
 */
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
  const id = event.messageId;
  const receivedAt = event.receivedAt;
  const common = emptyRow('', 'insert', id, receivedAt);
  addCommon(common, event, dialect, loadedAt);
  const row = (table: string, extra: Array<[string, string]>, fields?: unknown): TableRow => {
    const built: TableRow = {
      ...common,
      table,
      columns: common.columns.slice(),
      types: common.types.slice(),
      values: common.values.slice(),
      discards: [],
    };
    for (const [column, value] of extra) add(built, column, 'string', value);
    if (fields !== undefined) addFields(built, fields, dialect);
    return built;
  };
  const named = (column: string, value: unknown): Array<[string, string]> =>
    typeof value === 'string' && value !== '' ? [[column, value]] : [];

  switch (event.type) {
    case 'track': {
      const name = String(event.event);
      const track: Array<[string, string]> = [
        ['event', snakeCase(name)],
        ['event_text', name],
      ];
      const rows = [row('tracks', track)];
      const table = eventTable(name, dialect);
      if (table) rows.push(row(table, track, event.properties));
      return rows;
    }
    case 'identify': {
      const traits = traitsOf(event);
      const rows = [row('identifies', [], traits)];
      if (typeof event.userId === 'string' && event.userId !== '') {
        const user = emptyRow('users', 'merge', event.userId, receivedAt);
        add(user, 'id', 'string', event.userId);
        add(user, 'received_at', 'timestamp', receivedAt);
        add(user, 'uuid_ts', 'timestamp', loadedAt);
        addFields(user, traits, dialect);
        rows.push(user);
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

function emptyRow(
  table: string,
  write: TableRow['write'],
  id: string,
  receivedAt: string,
): TableRow {
  return { table, write, id, receivedAt, columns: [], types: [], values: [], discards: [] };
}

function add(row: TableRow, column: string, type: ColumnType, value: Value): void {
  row.columns.push(column);
  row.types.push(type);
  row.values.push(value);
}

/** The table of a track event: its name in snake_case, `_` first when it is a Segment table's. */
function eventTable(name: string, dialect: WarehouseDialect): string | undefined {
  const table = warehouseName(name, dialect);
  const taken = table && (SEGMENT_TABLES.has(table) || table === DISCARDS_TABLE);
  return taken ? warehouseName(`_${table}`, dialect) : table;
}

function traitsOf(event: SegmentEvent): Record<string, unknown> {
  const fromContext = isObject(event.context?.traits) ? event.context.traits : {};
  return { ...fromContext, ...(isObject(event.traits) ? event.traits : {}) };
}

function addCommon(
  row: TableRow,
  event: SegmentEvent,
  dialect: WarehouseDialect,
  loadedAt: string,
): void {
  add(row, 'id', 'string', event.messageId);
  const set = (column: string, type: ColumnType, value: unknown) => {
    if (typeof value === 'string' && value !== '') add(row, column, type, value);
  };
  set('anonymous_id', 'string', event.anonymousId);
  set('user_id', 'string', event.userId);
  set('received_at', 'timestamp', event.receivedAt);
  set('sent_at', 'timestamp', event.sentAt);
  set('timestamp', 'timestamp', event.timestamp);
  set('original_timestamp', 'timestamp', event.originalTimestamp);
  set('uuid_ts', 'timestamp', loadedAt);
  const taken = new Set(row.columns);
  flatten(event.context, 'context', dialect, (column, type, value) => {
    // Context keys that name no column, or one column twice: the first is kept.
    if (column === undefined || taken.has(column)) return;
    taken.add(column);
    add(row, column, type, value);
  });
}

/**
 * Adds the leaves of properties or traits as columns. One that names a column the row has (a
 * common column, or an earlier key with the same name) is discarded with the reason, as Segment
 * discards properties named like its own columns.
 */
function addFields(row: TableRow, fields: unknown, dialect: WarehouseDialect): void {
  const taken = new Set(row.columns);
  const own = taken.size;
  flatten(fields, '', dialect, (column, type, value, path) => {
    if (column !== undefined && !taken.has(column)) {
      taken.add(column);
      add(row, column, type, value);
      return;
    }
    row.discards.push({
      table: row.table,
      column: column ?? path,
      rowId: row.id,
      value: JSON.stringify(value),
      receivedAt: row.receivedAt,
      reason:
        column === undefined
          ? 'no column name can be made of the key (it has no letters or digits)'
          : row.columns.indexOf(column) < own
            ? `"${column}" is a column Sluice writes itself`
            : `another key of the event is named "${column}" too`,
    });
  });
}

/**
 * Calls `leaf` for each leaf of an object, names joined with `_` under `prefix`. Events are at
 * most 64 levels deep (the gateway's limit), so the recursion is bounded.
 */
function flatten(
  value: unknown,
  prefix: string,
  dialect: WarehouseDialect,
  /** `column` is undefined when the key has no name in the warehouse (`path` is the key). */
  leaf: (column: string | undefined, type: ColumnType, value: Value, path: string) => void,
): void {
  const walk = (node: unknown, path: string) => {
    if (node === null || node === undefined) return;
    if (isObject(node)) {
      for (const key of Object.keys(node)) walk(node[key], path === '' ? key : `${path}_${key}`);
      return;
    }
    const type = typeOf(node);
    leaf(
      warehouseName(path, dialect),
      type,
      type === 'string' && typeof node !== 'string' ? JSON.stringify(node) : (node as Value),
      path,
    );
  };
  walk(value, prefix);
}

/** The column type a JSON value gives: arrays are JSON text, ISO-8601 strings timestamps. */
export function typeOf(value: unknown): ColumnType {
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'number') return Number.isSafeInteger(value) ? 'int' : 'float';
  if (typeof value === 'string' && isTimestamp(value)) return 'timestamp';
  return 'string';
}

const ISO_8601 =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|z|[+-]\d{2}(?::?\d{2})?)?)?$/;

/**
 * Whether the text is an ISO-8601 date or time that every warehouse reads the same: the fields
 * are checked (no month 13, no 30 February, no year 0), so a value typed a timestamp here never
 * fails a load.
 */
export function isTimestamp(text: string): boolean {
  // Most strings are not dates: rule them out before the regular expression runs.
  const first = text.charCodeAt(0);
  if (text.length < 10 || first < 48 || first > 57 || text.charCodeAt(4) !== 45) return false;
  const match = ISO_8601.exec(text);
  if (!match) return false;
  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return false;
  return Number(match[4] ?? 0) <= 23 && Number(match[5] ?? 0) <= 59 && Number(match[6] ?? 0) <= 59;
}

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysIn(year: number, month: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return month === 2 && leap ? 29 : DAYS[month - 1];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
