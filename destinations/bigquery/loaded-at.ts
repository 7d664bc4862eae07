/**
 * Segment's BigQuery tables have a `loaded_at` column besides `uuid_ts`: the views Segment
 * documents for BigQuery keep, per `id`, the row with the latest `loaded_at`. Sluice writes it
 * too, so that such SQL runs unchanged; a property of that name is discarded, as are the other
 * columns Sluice writes itself.
 */
import type { TableRow } from '../../src/warehouse/event-rows';

export const LOADED_AT = 'loaded_at';

/** The rows with `loaded_at` set to `at` (an ISO-8601 time). */
export function withLoadedAt(rows: readonly TableRow[], at: string): TableRow[] {
  return rows.map((row) => {
    const discards = [...row.discards];
    const columns: string[] = [];
    const types: TableRow['types'] = [];
    const values: TableRow['values'] = [];
    const add = (
      column: string,
      type: TableRow['types'][number],
      value: TableRow['values'][number],
    ) => {
      columns.push(column);
      types.push(type);
      values.push(value);
    };
    for (let i = 0; i < row.columns.length; i++) {
      const column = row.columns[i];
      if (column === LOADED_AT) {
        discards.push({
          table: row.table,
          column: LOADED_AT,
          rowId: row.id,
          value: JSON.stringify(row.values[i]),
          receivedAt: row.receivedAt,
          reason: `"${LOADED_AT}" is a column Sluice writes itself`,
        });
        continue;
      }
      add(column, row.types[i], row.values[i]);
      // Next to uuid_ts, among Sluice's own columns, which come before the properties: a table
      // at BigQuery's column limit discards properties, not these.
      if (column === 'uuid_ts') add(LOADED_AT, 'timestamp', at);
    }
    if (!columns.includes(LOADED_AT)) add(LOADED_AT, 'timestamp', at);
    return { ...row, columns, types, values, discards };
  });
}
