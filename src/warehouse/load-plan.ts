/**
 * Schema evolution for one load, the same for every warehouse: given the tables as they are and
 * the rows to load, which tables and columns to create, and each value as its column takes it.
 *
 * - A new column's type is the type of the first value seen for it (in load order), except that a
 *   number column the load creates is a float column when any of its numbers has a fraction; a
 *   column that exists keeps its type.
 * - A value of another type is converted where nothing is lost (an integer into a float column,
 *   anything into a string column, as its text); otherwise the row gets NULL there and the value
 *   goes to the discards table with the reason. So is text the warehouse cannot store, and a
 *   value for a new column of a table that has the most columns the warehouse allows. Nothing is
 *   lost silently and no value fails a load.
 * - Rows with the same `id` in one load become one: the first (an SDK retry is the same event),
 *   or for `users` all of them merged, later traits winning.
 */
import type { ColumnType, Discard, TableRow, Value } from './event-rows';
import type { WarehouseDialect } from './naming';

export type { Value } from './event-rows';

/** The warehouse's tables: table → column → type. */
export type SchemaState = ReadonlyMap<string, ReadonlyMap<string, ColumnType>>;

/** One table's part of a load: its columns and rows, each value of its column's type or null. */
export interface TableLoad {
  table: string;
  write: TableRow['write'];
  columns: string[];
  types: ColumnType[];
  rows: Array<Array<Value | null>>;
}

export interface LoadPlan {
  /** Tables to create, with their columns. */
  createTables: Map<string, Map<string, ColumnType>>;
  /** Columns to add to tables that exist. */
  addColumns: Map<string, Map<string, ColumnType>>;
  tables: TableLoad[];
  discards: Discard[];
}

export function planLoad(
  existing: SchemaState,
  rows: readonly TableRow[],
  dialect: WarehouseDialect,
): LoadPlan {
  const plan: LoadPlan = {
    createTables: new Map(),
    addColumns: new Map(),
    tables: [],
    discards: [],
  };
  for (const [table, tableRows] of mergeById(rows)) {
    const found = existing.get(table);
    const types = new Map(found ?? []);
    const planned = new Map<string, ColumnType>();
    typeNewColumns(tableRows, types, planned, dialect.maxColumns);
    if (!found) plan.createTables.set(table, planned);
    else if (planned.size > 0) plan.addColumns.set(table, planned);
    plan.tables.push(tableLoad(table, tableRows, types, dialect, plan.discards));
  }
  return plan;
}

/** Types every column the rows name and the table lacks, by its first value (see the top). */
function typeNewColumns(
  rows: readonly TableRow[],
  types: Map<string, ColumnType>,
  planned: Map<string, ColumnType>,
  maxColumns: number,
): void {
  for (const row of rows) {
    for (let i = 0; i < row.columns.length; i++) {
      const column = row.columns[i];
      const type = row.types[i];
      const known = types.get(column);
      if (known === undefined) {
        if (types.size >= maxColumns) continue;
        types.set(column, type);
        planned.set(column, type);
      } else if (known === 'int' && type === 'float' && planned.has(column)) {
        // A number column made by this load takes fractions when any of its numbers has one.
        types.set(column, 'float');
        planned.set(column, 'float');
      }
    }
  }
}

/** The rows as arrays in column order, each value converted to its column's type or discarded. */
function tableLoad(
  table: string,
  rows: readonly TableRow[],
  types: ReadonlyMap<string, ColumnType>,
  dialect: WarehouseDialect,
  discards: Discard[],
): TableLoad {
  // Column positions as they appear; rows are arrays in that order, padded with null.
  const positions = new Map<string, number>();
  const loaded: Array<Array<Value | null>> = [];
  for (const row of rows) {
    for (const discard of row.discards) discards.push(discard);
    const values: Array<Value | null> = [];
    for (let i = 0; i < row.columns.length; i++) {
      const column = row.columns[i];
      const type = types.get(column);
      const value = type === undefined ? undefined : converted(row.types[i], row.values[i], type);
      let reason: string | undefined;
      if (type === undefined)
        reason = `the table has the most columns allowed (${dialect.maxColumns})`;
      else if (value === undefined) reason = `a ${row.types[i]} in a ${type} column`;
      else if (typeof value === 'string' && !dialect.canStore(value)) {
        reason = 'text the warehouse cannot store (a NUL or a lone surrogate)';
      }
      if (reason !== undefined) {
        discards.push({
          table,
          column,
          rowId: row.id,
          value: JSON.stringify(row.values[i]),
          receivedAt: row.receivedAt,
          reason,
        });
        continue;
      }
      let position = positions.get(column);
      if (position === undefined) positions.set(column, (position = positions.size));
      values[position] = value!;
    }
    loaded.push(values);
  }
  const columns = [...positions.keys()];
  for (const values of loaded) {
    for (let i = 0; i < columns.length; i++) values[i] ??= null;
  }
  return {
    table,
    write: rows[0].write,
    columns,
    types: columns.map((column) => types.get(column)!),
    rows: loaded,
  };
}

/**
 * The rows per table, one per id: the first, or for `merge` tables all merged in order. Order
 * matters within a table only (the first value of a column types it).
 */
function mergeById(rows: readonly TableRow[]): Map<string, TableRow[]> {
  const tables = new Map<string, Map<string, TableRow>>();
  for (const row of rows) {
    let byId = tables.get(row.table);
    if (!byId) tables.set(row.table, (byId = new Map()));
    const before = byId.get(row.id);
    if (!before) byId.set(row.id, row);
    else if (row.write === 'merge') byId.set(row.id, merged(before, row));
  }
  return new Map([...tables].map(([table, byId]) => [table, [...byId.values()]]));
}

/** `before` with `after`'s values over it (a later identify's traits win). */
function merged(before: TableRow, after: TableRow): TableRow {
  const row = {
    ...after,
    columns: before.columns.slice(),
    types: before.types.slice(),
    values: before.values.slice(),
    discards: [...before.discards, ...after.discards],
  };
  for (let i = 0; i < after.columns.length; i++) {
    const at = row.columns.indexOf(after.columns[i]);
    if (at === -1) {
      row.columns.push(after.columns[i]);
      row.types.push(after.types[i]);
      row.values.push(after.values[i]);
    } else {
      row.types[at] = after.types[i];
      row.values[at] = after.values[i];
    }
  }
  return row;
}

/** The value as a column of `type` takes it without loss, or undefined. */
function converted(from: ColumnType, value: Value, type: ColumnType): Value | undefined {
  if (from === type) return value;
  if (type === 'string') return String(value);
  if (type === 'float' && from === 'int') return value;
  return undefined;
}
