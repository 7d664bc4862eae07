/**
 * What the warehouse loader asks of a warehouse (destinations/postgres, destinations/bigquery):
 * load a batch of rows, creating what is missing, idempotently — a load that is run again (after
 * a crash before the staged rows were removed) leaves each `id` once.
 */
import type { TableRow } from './event-rows';

export interface WarehouseBatch {
  /** The schema (BigQuery: dataset) the rows go to. */
  schema: string;
  /** In load order; see load-plan.ts for what becomes of them. */
  rows: readonly TableRow[];
}

export interface LoadSummary {
  /** Rows written, over all tables. */
  rows: number;
  /** Tables written to. */
  tables: string[];
  /** Values written to the discards table. */
  discards: number;
}

export interface Warehouse {
  /** Loads the batch in one transaction where the warehouse has them; throws when it fails. */
  load(batch: WarehouseBatch): Promise<LoadSummary>;
  /**
   * Whether a failed load failed because of the rows themselves (a value the warehouse refused):
   * the loader then splits the batch to load the others. Any other failure (the warehouse is
   * down, refuses access, ran out of space) keeps the whole batch staged for a later retry.
   */
  isDataError(error: unknown): boolean;
  close(): Promise<void>;
}

/** The table the values a load could not write go to, in every schema Sluice loads. */
export const DISCARDS_TABLE = 'sluice_discards';
