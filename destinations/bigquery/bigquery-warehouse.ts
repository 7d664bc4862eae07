/**
 * Loads batches into BigQuery. One load:
 * 1. makes the dataset if it is missing (in the configured location);
 * 2. reads the schemas of the tables the rows go to (`tables.get`) and plans the load with them
 *    (src/warehouse/load-plan.ts);
 * 3. creates missing tables, partitioned by day on `received_at`, and adds missing columns with
 *    one patch per table, sent with the etag it read so that a patch never undoes another's;
 * 4. loads each table's rows into a staging table of its own (a load job from newline-delimited
 *    JSON; a new table per load, so retries never count against the 1,500 changes a day BigQuery
 *    allows a table, which DML does not count), with an expiration so that a crash leaves none
 *    behind for more than a day;
 * 5. MERGEs the staged rows into the tables by key in one transaction, the discards included
 *    (a load of more than 100 tables, or of more MERGE text than a query may have, in several:
 *    BigQuery's limits), and drops the staging tables.
 * Loading the same batch again changes nothing more: every write is a MERGE by key.
 */
import { randomBytes } from 'node:crypto';
import type { BigQuery, Dataset, TableField } from '@google-cloud/bigquery';
import type { Logger } from 'pino';
import type { ColumnType, Discard } from '../../src/warehouse/event-rows';
import { planLoad, type SchemaState, type TableLoad } from '../../src/warehouse/load-plan';
import {
  DISCARDS_TABLE,
  type LoadSummary,
  type Warehouse,
  type WarehouseBatch,
} from '../../src/warehouse/warehouse';
import { DATASET_ID } from './bigquery-config';
import { BIGQUERY_DIALECT } from './bigquery-dialect';
import { isDataError } from './bigquery-job-error';
import { runLoadJob, runQueryJob } from './bigquery-jobs';
import { DISCARDS_COLUMNS, DISCARDS_KEYS, discardsLoad } from './discards-load';
import { inParallel } from './in-parallel';
import { withLoadedAt } from './loaded-at';
import { dedupWindowStart, mergeStatement, transactionScripts } from './merge-statement';
import { ndjsonRows } from './ndjson-rows';
import { columnTypesOf, fieldOf } from './table-schema';

/** How long a staging table outlives a load that crashed before dropping it. */
const STAGING_TTL_MS = 24 * 60 * 60 * 1000;
/** Requests and jobs of one load at once: BigQuery allows 100 concurrent requests a user. */
const PARALLEL_REQUESTS = 4;

/** A table as `tables.get` showed it. */
interface TableState {
  fields: TableField[];
  etag?: string;
}

/** One table's rows, ready for a load job. */
interface Staged {
  load: TableLoad;
  ndjson: string;
}

export class BigQueryWarehouse implements Warehouse {
  readonly #client: BigQuery;
  readonly #projectId: string;
  readonly #location: string | undefined;
  readonly #logger: Logger;
  /** Datasets known to exist, so that a load does not ask again. */
  readonly #datasets = new Set<string>();

  constructor(client: BigQuery, projectId: string, location: string | undefined, logger: Logger) {
    this.#client = client;
    this.#projectId = projectId;
    this.#location = location;
    this.#logger = logger;
  }

  async load(batch: WarehouseBatch): Promise<LoadSummary> {
    if (!DATASET_ID.test(batch.schema)) {
      throw new Error(`"${batch.schema}" is not a BigQuery dataset name (letters, digits, _)`);
    }
    if (batch.rows.length === 0) return { rows: 0, tables: [], discards: 0 };
    const dataset = this.#client.dataset(batch.schema, { location: this.#location });
    try {
      return await this.#load(dataset, batch);
    } catch (error) {
      // The dataset may be gone (deleted by hand): the next load makes sure of it again.
      this.#datasets.delete(batch.schema);
      throw error;
    }
  }

  isDataError(error: unknown): boolean {
    return isDataError(error);
  }

  // The client keeps no connection or timer of its own between requests.
  async close(): Promise<void> {}

  async #load(dataset: Dataset, batch: WarehouseBatch): Promise<LoadSummary> {
    if (!this.#datasets.has(batch.schema)) {
      await dataset.get({ autoCreate: true });
      this.#datasets.add(batch.schema);
    }
    const loadedAt = new Date().toISOString();
    const rows = withLoadedAt(batch.rows, loadedAt);
    const tables = await this.#tables(dataset, [
      ...new Set([...rows.map((row) => row.table), DISCARDS_TABLE]),
    ]);
    const schema: SchemaState = new Map(
      [...tables].map(([table, state]) => [table, columnTypesOf(state.fields)]),
    );
    const plan = planLoad(schema, rows, BIGQUERY_DIALECT);
    const staged: Staged[] = [];
    const discards = [...plan.discards];
    for (const load of plan.tables) {
      const { text, rejected } = ndjsonRows(load);
      staged.push({ load, ndjson: text });
      discards.push(...rejected.map((value) => rejectedDiscard(load, value)));
    }
    const creates = new Map(plan.createTables);
    const adds = new Map(plan.addColumns);
    let discardRows = 0;
    if (discards.length > 0) {
      const load = discardsLoad(discards, loadedAt);
      discardRows = load.rows.length;
      // A timestamp out of range here (a malformed received_at) is written as NULL: a discard
      // of a discard would be lost all the same.
      staged.push({ load, ndjson: ndjsonRows(load).text });
      const existing = schema.get(DISCARDS_TABLE);
      if (!existing) creates.set(DISCARDS_TABLE, new Map(DISCARDS_COLUMNS));
      else {
        const missing = [...DISCARDS_COLUMNS].filter(([column]) => !existing.has(column));
        if (missing.length > 0) adds.set(DISCARDS_TABLE, new Map(missing));
      }
    }
    await this.#alter(dataset, creates, adds, tables);
    await this.#stageAndMerge(dataset, staged);
    const summary = {
      rows: plan.tables.reduce((sum, load) => sum + load.rows.length, 0),
      tables: plan.tables.map((load) => load.table),
      discards: discardRows,
    };
    this.#logger.debug({ dataset: batch.schema, ...summary }, 'bigquery load done');
    return summary;
  }

  /** The tables of `names` that exist. */
  async #tables(dataset: Dataset, names: string[]): Promise<Map<string, TableState>> {
    const found = await inParallel(names, PARALLEL_REQUESTS, async (name) => {
      try {
        const [metadata] = await dataset.table(name).getMetadata();
        return [name, { fields: metadata.schema?.fields ?? [], etag: metadata.etag }] as const;
      } catch (error) {
        if ((error as { code?: unknown }).code === 404) return undefined;
        throw error;
      }
    });
    return new Map(found.filter((entry) => entry !== undefined));
  }

  async #alter(
    dataset: Dataset,
    creates: Map<string, Map<string, ColumnType>>,
    adds: Map<string, Map<string, ColumnType>>,
    tables: Map<string, TableState>,
  ): Promise<void> {
    const fieldsOf = (columns: Map<string, ColumnType>) =>
      [...columns].map(([column, type]) => fieldOf(column, type));
    await inParallel([...creates], PARALLEL_REQUESTS, async ([table, columns]) => {
      const partitioned = columns.get('received_at') === 'timestamp';
      // Another loader creating the table at once makes this fail (409): the load is retried
      // and then plans with the table as that loader made it.
      await dataset.createTable(table, {
        schema: { fields: fieldsOf(columns) },
        ...(partitioned && { timePartitioning: { type: 'DAY', field: 'received_at' } }),
      });
    });
    await inParallel([...adds], PARALLEL_REQUESTS, async ([table, columns]) => {
      const state = tables.get(table)!;
      // The etag makes BigQuery refuse the patch (412) if the table changed since it was read:
      // the fields sent are all the table's, and older ones would drop a column added meanwhile.
      await dataset.table(table).setMetadata({
        schema: { fields: [...state.fields, ...fieldsOf(columns)] },
        ...(state.etag !== undefined && { etag: state.etag }),
      });
    });
  }

  async #stageAndMerge(dataset: Dataset, staged: Staged[]): Promise<void> {
    const loadId = randomBytes(8).toString('hex');
    const stagingOf = (load: TableLoad) => `_sluice_load_${loadId}_${load.table}`;
    try {
      await inParallel(staged, PARALLEL_REQUESTS, async ({ load, ndjson }) => {
        const fields = load.columns.map((column, index) => fieldOf(column, load.types[index]));
        const [staging] = await dataset.createTable(stagingOf(load), {
          schema: { fields },
          expirationTime: String(Date.now() + STAGING_TTL_MS),
        });
        await runLoadJob(staging, ndjson, fields);
      });
      const path = (table: string) => `\`${this.#projectId}.${dataset.id}.${table}\``;
      const statements = staged.map(({ load }) =>
        mergeStatement({
          target: path(load.table),
          staging: path(stagingOf(load)),
          keys: load.table === DISCARDS_TABLE ? DISCARDS_KEYS : ['id'],
          columns: load.columns,
          write: load.write,
          since: dedupWindowStart(load),
        }),
      );
      for (const script of transactionScripts(statements)) {
        await runQueryJob(this.#client, script, this.#location);
      }
    } finally {
      await inParallel(staged, PARALLEL_REQUESTS, async ({ load }) => {
        try {
          await dataset.table(stagingOf(load)).delete({ ignoreNotFound: true });
        } catch (error) {
          // It expires by itself; failing the load for it would only load the rows again.
          this.#logger.warn({ err: error, table: stagingOf(load) }, 'staging table not dropped');
        }
      });
    }
  }
}

/** A value written as NULL (a timestamp BigQuery cannot hold), as a discard. */
function rejectedDiscard(
  load: TableLoad,
  rejected: { row: number; column: string; value: unknown },
): Discard {
  const values = load.rows[rejected.row];
  const receivedAt = values[load.columns.indexOf('received_at')];
  return {
    table: load.table,
    column: rejected.column,
    rowId: String(values[load.columns.indexOf('id')]),
    value: JSON.stringify(rejected.value),
    receivedAt: typeof receivedAt === 'string' ? receivedAt : '',
    reason: 'a timestamp outside the years BigQuery holds (1 to 9999, in UTC)',
  };
}
