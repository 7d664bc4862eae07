/**
 * The MERGE that moves one table's staged rows into the table by key (`id`), so that a load run
 * again leaves each key once:
 * - `insert` tables (events): a row already there is left as it is: an id is one event.
 * - `merge` tables (`users`): a row already there keeps what the new row leaves NULL, so traits
 *   sent once stay. Of two versions the later by `received_at` wins each column, whichever is
 *   loaded first, so loads that arrive out of order still leave the latest traits.
 * Event tables are partitioned by day on `received_at`, and a MERGE reads every partition it
 * may match: a constant lower bound on `received_at` in the ON clause lets BigQuery read only
 * the days a duplicate can be in, so a load's cost follows its rows, not the table's age.
 * A load's MERGEs run as one transaction, or as few as BigQuery's limits allow.
 */
import type { TableLoad } from '../../src/warehouse/load-plan';
import { bigQueryTimestamp } from './bigquery-timestamp';

/**
 * How long before a load's earliest row a copy of one of its events is still found (and not
 * inserted again). SDKs retry for hours and a phone offline for days; a copy received longer before
 * stays a second row (Segment's own BigQuery tables keep every copy).
 */
export const DEDUP_WINDOW_DAYS = 7;

const DAY_MS = 24 * 60 * 60 * 1000;

/** BigQuery's limit on the tables one transaction may change. */
const TABLES_PER_TRANSACTION = 100;
/** BigQuery's limit on a query's text is 1 MB; the rest is room for the script's own lines. */
const SCRIPT_CHARACTERS = 1_000_000;

export interface MergeSpec {
  /** The table, as a quoted path (`\`project.dataset.table\``). */
  target: string;
  staging: string;
  keys: readonly string[];
  /** The staged columns, keys included. */
  columns: readonly string[];
  write: TableLoad['write'];
  /** The first day (YYYY-MM-DD) whose partition may hold a row of the load; absent: all. */
  since?: string;
}

/** A backtick-quoted column; Sluice's names are letters, digits and `_` only. */
const quoted = (column: string) => `\`${column}\``;

export function mergeStatement(spec: MergeSpec): string {
  const on = spec.keys.map((key) => `t.${quoted(key)} = s.${quoted(key)}`);
  if (spec.since !== undefined) {
    on.push(`t.\`received_at\` >= TIMESTAMP '${spec.since} 00:00:00+00'`);
  }
  const values = spec.columns.filter((column) => !spec.keys.includes(column));
  const set = (value: (column: string) => string) =>
    `UPDATE SET ${values.map((column) => `${quoted(column)} = ${value(column)}`).join(', ')}`;
  const lines = [
    `MERGE ${spec.target} AS t`,
    `USING ${spec.staging} AS s`,
    `ON ${on.join(' AND ')}`,
  ];
  // `insert`: a row whose id is there already is that event; it is left as it is.
  if (values.length > 0 && spec.write === 'merge') {
    const newer = (column: string) => `COALESCE(s.${quoted(column)}, t.${quoted(column)})`;
    const older = (column: string) => `COALESCE(t.${quoted(column)}, s.${quoted(column)})`;
    if (spec.columns.includes('received_at')) {
      lines.push(
        'WHEN MATCHED AND (t.`received_at` IS NULL OR s.`received_at` >= t.`received_at`) ' +
          `THEN ${set(newer)}`,
        `WHEN MATCHED THEN ${set(older)}`,
      );
    } else lines.push(`WHEN MATCHED THEN ${set(newer)}`);
  }
  const columns = spec.columns.map(quoted);
  lines.push(
    `WHEN NOT MATCHED THEN INSERT (${columns.join(', ')}) ` +
      `VALUES (${columns.map((column) => `s.${column}`).join(', ')});`,
  );
  return lines.join('\n');
}

/**
 * The day from which an `insert` table's MERGE need look for earlier copies of the load's rows:
 * DEDUP_WINDOW_DAYS before its earliest `received_at`. Undefined (look everywhere) for `merge`
 * tables, whose rows stay one per user however old, and when a row has no `received_at`.
 */
export function dedupWindowStart(load: TableLoad): string | undefined {
  const index = load.columns.indexOf('received_at');
  if (load.write === 'merge' || index < 0) return undefined;
  let earliest: string | undefined;
  for (const values of load.rows) {
    const value = values[index];
    const timestamp = value === null ? undefined : bigQueryTimestamp(String(value));
    if (timestamp === undefined) return undefined;
    // The texts are all of one fixed-width form, so they sort as the times do.
    if (earliest === undefined || timestamp < earliest) earliest = timestamp;
  }
  if (earliest === undefined) return undefined;
  const start = new Date(Date.parse(earliest) - DEDUP_WINDOW_DAYS * DAY_MS);
  return start.getUTCFullYear() < 1 ? undefined : start.toISOString().slice(0, 10);
}

/**
 * The statements as transaction scripts, each within BigQuery's limits (tables, text). A table
 * whose one MERGE is longer than a query may be (thousands of long column names) still fails:
 * BigQuery answers "The query is too large".
 */
export function transactionScripts(statements: readonly string[]): string[] {
  const scripts: string[][] = [];
  let size = 0;
  for (const statement of statements) {
    const last = scripts.at(-1);
    if (
      last &&
      last.length < TABLES_PER_TRANSACTION &&
      size + statement.length < SCRIPT_CHARACTERS
    ) {
      last.push(statement);
      size += statement.length + 1;
    } else {
      scripts.push([statement]);
      size = statement.length + 1;
    }
  }
  return scripts.map((part) => ['BEGIN TRANSACTION;', ...part, 'COMMIT TRANSACTION;'].join('\n'));
}
