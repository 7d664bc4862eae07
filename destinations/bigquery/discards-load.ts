/**
 * The values a load could not write, as rows of the discards table (DISCARDS_TABLE): one per
 * table, row and column, so that loading the same batch again leaves each discard once.
 */
import type { ColumnType, Discard } from '../../src/warehouse/event-rows';
import type { TableLoad } from '../../src/warehouse/load-plan';
import { DISCARDS_TABLE } from '../../src/warehouse/warehouse';

export const DISCARDS_COLUMNS: ReadonlyMap<string, ColumnType> = new Map([
  ['table_name', 'string'],
  ['column_name', 'string'],
  ['row_id', 'string'],
  ['column_value', 'string'],
  ['received_at', 'timestamp'],
  ['uuid_ts', 'timestamp'],
  ['reason', 'string'],
]);

/** What identifies a discard. */
export const DISCARDS_KEYS = ['table_name', 'row_id', 'column_name'];

/** The discards as one table's load, `uuidTs` being the time of the load. */
export function discardsLoad(discards: readonly Discard[], uuidTs: string): TableLoad {
  // One row per key, the last: a MERGE refuses two source rows for one target row, and a user
  // merged from two identifies can bring the same discarded trait twice.
  const byKey = new Map<string, Discard>();
  for (const discard of discards) {
    byKey.set(JSON.stringify([discard.table, discard.rowId, discard.column]), discard);
  }
  return {
    table: DISCARDS_TABLE,
    write: 'insert',
    columns: [...DISCARDS_COLUMNS.keys()],
    types: [...DISCARDS_COLUMNS.values()],
    rows: [...byKey.values()].map((discard) => [
      discard.table,
      discard.column,
      discard.rowId,
      discard.value,
      discard.receivedAt === '' ? null : discard.receivedAt,
      uuidTs,
      discard.reason,
    ]),
  };
}
