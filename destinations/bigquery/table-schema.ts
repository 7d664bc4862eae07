/**
 * Sluice's column types as BigQuery types, and a table's schema as BigQuery's API returns it
 * (`tables.get`: `schema.fields`) as the load plan reads it. Every column Sluice adds is NULLABLE:
 * an event without the property leaves it empty.
 */
import type { TableField } from '@google-cloud/bigquery';
import type { ColumnType } from '../../src/warehouse/event-rows';

export const BIGQUERY_TYPES: Readonly<Record<ColumnType, string>> = {
  timestamp: 'TIMESTAMP',
  int: 'INT64',
  float: 'FLOAT64',
  boolean: 'BOOL',
  string: 'STRING',
};

/** The API reports types by their legacy names (INTEGER, FLOAT, BOOLEAN) whatever was asked. */
const COLUMN_TYPES: ReadonlyMap<string, ColumnType> = new Map([
  ['TIMESTAMP', 'timestamp'],
  ['INT64', 'int'],
  ['INTEGER', 'int'],
  ['FLOAT64', 'float'],
  ['FLOAT', 'float'],
  ['BOOL', 'boolean'],
  ['BOOLEAN', 'boolean'],
  ['STRING', 'string'],
]);

/** A new column's field. */
export function fieldOf(column: string, type: ColumnType): TableField {
  return { name: column, type: BIGQUERY_TYPES[type], mode: 'NULLABLE' };
}

/**
 * Column → type of a table's fields, by lower-case name (BigQuery's names ignore case). A column
 * of a type Sluice does not write (a RECORD, a DATE, a REPEATED column someone made) keeps
 * BigQuery's name for its type, which no value has: the load plan then sends every value for it
 * to the discards, with that name in the reason, instead of failing the load.
 */
export function columnTypesOf(fields: readonly TableField[]): Map<string, ColumnType> {
  const types = new Map<string, ColumnType>();
  for (const field of fields) {
    const type = field.type ?? 'UNKNOWN';
    const repeated = field.mode === 'REPEATED';
    const known = repeated ? undefined : COLUMN_TYPES.get(type);
    const foreign = `${repeated ? 'repeated ' : ''}${type.toLowerCase()}` as ColumnType;
    types.set(field.name!.toLowerCase(), known ?? foreign);
  }
  return types;
}
