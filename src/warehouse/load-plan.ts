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
 * - Rows with the same `id` in one load become one: the last one (an SDK retry is the same
 *   event), or for `users` all of them merged, later traits winning.
 */
import type { Cell, ColumnType, Discard, TableRow } from './event-rows';
import type { WarehouseDialect } from './naming';

/** The warehouse's tables: table → column → type. */
export type SchemaState = ReadonlyMap<string, ReadonlyMap<string, ColumnType>>;

export type Value = string | number | boolean;

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
  const schema = new Map<string, Map<string, ColumnType>>();
  const columnsOf = (table: string) => {
    let columns = schema.get(table);
    if (!columns) {
      const found = existing.get(table);
      columns = new Map(found ?? []);
      schema.set(table, columns);
      if (!found) plan.createTables.set(table, new Map());
    }
    return columns;
  };
  const merged = mergeById(rows);

  // First every new column, typed by its first value, so that later rows see the final types.
  for (const row of merged) {
    const columns = columnsOf(row.table);
    const planned = plan.createTables.get(row.table) ?? added(plan, row.table);
    for (const [column, cell] of row.cells) {
      if (planned.get(column) === 'int' && cell.type === 'float') {
        // A number column made by this load takes fractions when any of its numbers has one.
        planned.set(column, 'float');
        columns.set(column, 'float');
      }
      if (columns.has(column) || columns.size >= dialect.maxColumns) continue;
      columns.set(column, cell.type);
      planned.set(column, cell.type);
    }
  }
  for (const [table, columns] of plan.addColumns)
    if (columns.size === 0) plan.addColumns.delete(table);

  const byTable = new Map<string, TableRow[]>();
  for (const row of merged) {
    const list = byTable.get(row.table) ?? [];
    list.push(row);
    byTable.set(row.table, list);
  }
  for (const [table, tableRows] of byTable) {
    const types = schema.get(table)!;
    const loaded: Array<Map<string, Value>> = [];
    const present = new Set<string>();
    for (const row of tableRows) {
      plan.discards.push(...row.discards);
      const values = new Map<string, Value>();
      const rowId = String(row.cells.get('id')?.value);
      const receivedAt = String(row.cells.get('received_at')?.value ?? '');
      const discard = (column: string, cell: Cell, reason: string) =>
        plan.discards.push({
          table,
          column,
          rowId,
          value: JSON.stringify(cell.value),
          receivedAt,
          reason,
        });
      for (const [column, cell] of row.cells) {
        const type = types.get(column);
        if (type === undefined) {
          discard(column, cell, `the table has the most columns allowed (${dialect.maxColumns})`);
          continue;
        }
        const value = converted(cell, type);
        if (value === undefined) discard(column, cell, `a ${cell.type} in a ${type} column`);
        else if (typeof value === 'string' && !dialect.canStore(value)) {
          discard(column, cell, 'text the warehouse cannot store (a NUL or a lone surrogate)');
        } else {
          values.set(column, value);
          present.add(column);
        }
      }
      loaded.push(values);
    }
    const columns = [...present];
    plan.tables.push({
      table,
      write: tableRows[0].write,
      columns,
      types: columns.map((column) => types.get(column)!),
      rows: loaded.map((values) => columns.map((column) => values.get(column) ?? null)),
    });
  }
  return plan;
}

function added(plan: LoadPlan, table: string): Map<string, ColumnType> {
  let columns = plan.addColumns.get(table);
  if (!columns) plan.addColumns.set(table, (columns = new Map()));
  return columns;
}

/** One row per (table, id): the last, or for `merge` tables all merged in order. */
function mergeById(rows: readonly TableRow[]): TableRow[] {
  const byKey = new Map<string, TableRow>();
  for (const row of rows) {
    const key = `${row.table}\u0000${String(row.cells.get('id')?.value)}`;
    const before = byKey.get(key);
    if (before && row.write === 'merge') {
      byKey.set(key, {
        ...row,
        cells: new Map([...before.cells, ...row.cells]),
        discards: [...before.discards, ...row.discards],
      });
    } else {
      // Delete first: the row takes the place of its last version in load order.
      byKey.delete(key);
      byKey.set(key, row);
    }
  }
  return [...byKey.values()];
}

/** The value as a column of `type` takes it without loss, or undefined. */
function converted(cell: Cell, type: ColumnType): Value | undefined {
  if (cell.type === type) return cell.value;
  if (type === 'string') return String(cell.value);
  if (type === 'float' && cell.type === 'int') return cell.value;
  return undefined;
}
