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
    const property = row.cells.get(LOADED_AT);
    if (property !== undefined) {
      discards.push({
        table: row.table,
        column: LOADED_AT,
        rowId: String(row.cells.get('id')?.value),
        value: JSON.stringify(property.value),
        receivedAt: String(row.cells.get('received_at')?.value ?? ''),
        reason: `"${LOADED_AT}" is a column Sluice writes itself`,
      });
    }
    // Next to uuid_ts, among Sluice's own columns, which come before the properties: a table at
    // BigQuery's column limit discards properties, not these.
    const cells: TableRow['cells'] = new Map();
    for (const [column, cell] of row.cells) {
      if (column === LOADED_AT) continue;
      cells.set(column, cell);
      if (column === 'uuid_ts') cells.set(LOADED_AT, { type: 'timestamp', value: at });
    }
    if (!cells.has(LOADED_AT)) cells.set(LOADED_AT, { type: 'timestamp', value: at });
    return { ...row, cells, discards };
  });
}
