/**
 * One table's part of a load as the newline-delimited JSON a load job reads: one object per row,
 * NULLs left out, numbers and booleans as JSON has them (the load plan makes no integer beyond
 * 2^53), timestamps rewritten as BigQuery reads them (bigquery-timestamp.ts).
 */
import type { TableLoad, Value } from '../../src/warehouse/load-plan';
import { bigQueryTimestamp } from './bigquery-timestamp';

/** A value written as NULL because BigQuery cannot hold it: a timestamp outside its range. */
export interface RejectedValue {
  /** Index of the row in the TableLoad. */
  row: number;
  column: string;
  value: Value;
}

export interface NdjsonRows {
  text: string;
  rejected: RejectedValue[];
}

export function ndjsonRows(load: TableLoad): NdjsonRows {
  const lines: string[] = [];
  const rejected: RejectedValue[] = [];
  load.rows.forEach((values, row) => {
    const object: Record<string, Value> = {};
    values.forEach((value, index) => {
      if (value === null) return;
      const column = load.columns[index];
      if (load.types[index] !== 'timestamp') {
        object[column] = value;
        return;
      }
      const timestamp = bigQueryTimestamp(String(value));
      if (timestamp === undefined) rejected.push({ row, column, value });
      else object[column] = timestamp;
    });
    lines.push(`${JSON.stringify(object)}\n`);
  });
  return { text: lines.join(''), rejected };
}
