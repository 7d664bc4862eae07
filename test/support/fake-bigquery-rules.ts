/**
 * BigQuery's documented rules, as the fake BigQuery (fake-bigquery.ts) holds requests to them:
 * table schemas ("Specify a schema": column names, the 300-character limit, reserved prefixes,
 * no two names differing only in case; "Quotas and limits": 10,000 columns; a partitioning
 * field that is a TIMESTAMP column) and rows of a JSON load ("Loading JSON data": each value of
 * its column's type, no unknown field, TIMESTAMP values as `YYYY-MM-DD[ T]hh:mm:ss[.ffffff]` and
 * an optional `Z` or `±hh:mm`). Written apart from Sluice's code, so that it checks it.
 */
import type { TableField } from '@google-cloud/bigquery';

/** An error the fake answers with, as BigQuery words them: HTTP status and reason. */
export class FakeError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export type Row = Record<string, string | number | boolean | null>;

const TYPES = new Set([
  'STRING',
  'INT64',
  'INTEGER',
  'FLOAT64',
  'FLOAT',
  'BOOL',
  'BOOLEAN',
  'TIMESTAMP',
]);
const RESERVED_PREFIXES = [
  '_TABLE_',
  '_FILE_',
  '_PARTITION',
  '_ROW_TIMESTAMP',
  '__ROOT__',
  '_COLIDENTIFIER',
  '_CHANGE_SEQUENCE_NUMBER',
  '_CHANGE_TYPE',
  '_CHANGE_TIMESTAMP',
];

export function checkedSchema(
  table: string,
  fields: TableField[],
  partitioning: { type: string; field?: string } | undefined,
): TableField[] {
  const invalid = (message: string) => new FakeError(400, 'invalid', `${table}: ${message}`);
  if (fields.length > 10_000) throw invalid('more than 10,000 columns');
  const seen = new Set<string>();
  for (const field of fields) {
    const name = field.name ?? '';
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,299}$/.test(name)) throw invalid(`bad column name "${name}"`);
    if (RESERVED_PREFIXES.some((prefix) => name.toUpperCase().startsWith(prefix))) {
      throw invalid(`column name "${name}" has a reserved prefix`);
    }
    if (seen.has(name.toLowerCase())) throw invalid(`duplicate column "${name}"`);
    seen.add(name.toLowerCase());
    if (!TYPES.has(field.type ?? '')) throw invalid(`the fake has no type ${field.type}`);
  }
  if (partitioning?.field !== undefined) {
    const field = fields.find((candidate) => candidate.name === partitioning.field);
    if (partitioning.type !== 'DAY' || field?.type !== 'TIMESTAMP') {
      throw invalid(`cannot partition by ${partitioning.type} on ${partitioning.field}`);
    }
  }
  return fields;
}

/** One line of a JSON load, as the table stores it; throws BigQuery's `invalid`. */
export function checkedRow(
  fields: ReadonlyMap<string, TableField>,
  line: string,
  index: number,
): Row {
  const invalid = (message: string) =>
    new FakeError(
      400,
      'invalid',
      `Error while reading data, error message: row ${index}: ${message}`,
    );
  let object: unknown;
  try {
    object = JSON.parse(line);
  } catch {
    throw invalid('not JSON');
  }
  if (typeof object !== 'object' || object === null || Array.isArray(object)) {
    throw invalid('not an object');
  }
  // A field the line leaves out is NULL, as in any BigQuery row.
  const row: Row = Object.fromEntries([...fields.keys()].map((name) => [name, null]));
  for (const [name, value] of Object.entries(object)) {
    const field = fields.get(name);
    if (!field) throw invalid(`no such field: ${name}`);
    row[name] =
      value === null
        ? null
        : stored(field.type!, value, () => invalid(`${name}: ${JSON.stringify(value)}`));
  }
  return row;
}

function stored(type: string, value: unknown, invalid: () => FakeError): Row[string] {
  switch (type) {
    case 'STRING':
      if (typeof value === 'string') return value;
      break;
    case 'INT64':
    case 'INTEGER':
      if (Number.isSafeInteger(value)) return value as number;
      break;
    case 'FLOAT64':
    case 'FLOAT':
      if (typeof value === 'number') return value;
      break;
    case 'BOOL':
    case 'BOOLEAN':
      if (typeof value === 'boolean') return value;
      break;
    case 'TIMESTAMP': {
      const utc = typeof value === 'string' ? utcTimestamp(value) : undefined;
      if (utc !== undefined) return utc;
      break;
    }
  }
  throw invalid();
}

const LOADED_TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(Z|[+-]\d{2}:\d{2})?$/;

/** A loaded timestamp as BigQuery keeps it, printed `YYYY-MM-DDThh:mm:ss.ffffffZ`. */
export function utcTimestamp(text: string): string | undefined {
  const match = LOADED_TIMESTAMP.exec(text);
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number);
  const fraction = match[7] ?? '';
  const zone = match[8] ?? 'Z';
  const daysInMonth =
    new Date(Date.UTC(2000, month, 0)).getUTCDate() - (month === 2 && !leap(year) ? 1 : 0);
  if (
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > daysInMonth ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  ) {
    return undefined;
  }
  const offset =
    zone === 'Z'
      ? 0
      : Number(`${zone[0]}1`) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4)));
  const time = new Date(0);
  time.setUTCFullYear(year, month - 1, day);
  time.setUTCHours(hour, minute - offset, second);
  const iso = time.toISOString();
  // Years outside 0-9999 print as ±YYYYYY; BigQuery's range starts at year 1.
  if (!/^\d{4}-/.test(iso) || iso.startsWith('0000')) return undefined;
  return `${iso.slice(0, 19)}.${fraction.padEnd(6, '0')}Z`;
}

function leap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}
