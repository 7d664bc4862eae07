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
    const cells = new Map(row.cells);
    const discards = [...row.discards];
    const property = cells.get(LOADED_AT);
    if (property !== undefined) {
      discards.push({
        table: row.table,
        column: LOADED_AT,
        rowId: String(cells.get('id')?.value),
        value: JSON.stringify(property.value),
        receivedAt: String(cells.get('received_at')?.value ?? ''),
        reason: `"${LOADED_AT}" is a column Sluice writes itself`,
      });
    }
    cells.set(LOADED_AT, { type: 'timestamp', value: at });
    return { ...row, cells, discards };
  });
}
