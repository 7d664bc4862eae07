/**
 * Loads one warehouse destination's staged events, every `syncIntervalSeconds` and once more at
 * graceful shutdown:
 * - One load at a time per destination across all processes: a session advisory lock taken with
 *   try-lock, so a second process skips the round instead of loading the same rows.
 * - Staged rows are read in order in batches, mapped to Segment's tables (event-rows.ts), grouped
 *   by the schema of their source, and loaded; only then are they removed from staging, in the
 *   transaction that records the load (queue/warehouse-staging.ts). A crash in between reloads
 *   them, which the warehouse's upsert by `id` makes harmless.
 * - A load the warehouse refuses because of the rows themselves (Warehouse.isDataError) is split
 *   until the event at fault is alone; that event becomes a failed event (listed and replayable,
 *   as the processor's are) and the others load. Any other failure (the warehouse is down, access
 *   refused) keeps everything staged and is retried with backoff; other warehouses and the tool
 *   destinations are unaffected.
 */
import type pg from 'pg';
import type { Logger } from 'pino';
import type { WarehouseDestination } from '../../destinations/destination';
import type { Source } from '../config/workspace';
import { holdConnection, releaseConnection } from '../db/held-connection';
import { storableText } from '../db/storable-text';
import type { SegmentEvent } from '../event';
import type { Metrics } from '../metrics';
import { messageKey } from '../queue/message-ids';
import { CredentialMask } from '../router/mask-credentials';
import {
  readStaged,
  recordLoad,
  recordLoadFailure,
  stagedBacklog,
  type StagedRow,
} from '../queue/warehouse-staging';
import type { FailedEventRow } from '../processor/write-output';
import { eventRows } from './event-rows';
import type { Warehouse } from './warehouse';

export interface LoaderOptions {
  /** Most staged rows per load. */
  batchRows: number;
  /** The wait after a first failed load, doubled after each further one up to maxRetryMs. */
  minRetryMs: number;
  maxRetryMs: number;
}

export const DEFAULT_LOADER_OPTIONS: LoaderOptions = {
  batchRows: 20_000,
  minRetryMs: 5_000,
  maxRetryMs: 300_000,
};

/** What one sync did. */
export interface SyncReport {
  destinationId: string;
  /** Another process was loading this destination; nothing was done. */
  busy: boolean;
  /** Staged events taken out of staging: loaded or refused. */
  events: number;
  /** Rows written to warehouse tables. */
  rows: number;
  tables: string[];
  discards: number;
  /** Events the warehouse refused, now failed events. */
  refused: number;
}

export interface LoaderDeps {
  pool: pg.Pool;
  logger: Logger;
  metrics: Metrics;
  sources: () => readonly Source[];
}

interface Loaded {
  rows: number;
  tables: Set<string>;
  discards: number;
  refused: Array<{ row: StagedRow; error: unknown }>;
}

export class WarehouseLoader {
  readonly #warehouse: Warehouse;
  /** The warehouse's credentials, masked in the errors recorded and logged. */
  readonly #mask: CredentialMask;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<SyncReport> | undefined;
  #failures = 0;
  #stopped = false;

  constructor(
    private readonly deps: LoaderDeps,
    readonly destinationId: string,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    private readonly module: WarehouseDestination<any>,
    private readonly config: unknown,
    private readonly options: LoaderOptions = DEFAULT_LOADER_OPTIONS,
  ) {
    this.#warehouse = module.connect(config, { logger: deps.logger });
    this.#mask = new CredentialMask(module.credentialsOf?.(config) ?? []);
  }

  /** Loads every `syncIntervalSeconds` (sooner after a failure, with backoff). */
  start(): void {
    this.#schedule(this.module.syncIntervalSeconds(this.config) * 1000);
  }

  /** Loads what is staged now; waits for a load in flight first. Throws when the load fails. */
  async sync(): Promise<SyncReport> {
    while (this.#inFlight) await this.#inFlight.catch(() => undefined);
    const run = this.#syncAll();
    this.#inFlight = run;
    try {
      return await run;
    } finally {
      this.#inFlight = undefined;
    }
  }

  /** Stops the schedule, loads once more what is staged, and closes the warehouse client. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    try {
      await this.sync();
    } catch (error) {
      this.deps.logger.warn(
        { err: error, destination: this.destinationId },
        'the last warehouse load before stopping failed; the rows stay staged',
      );
    }
    await this.close();
  }

  /** Stops the schedule and closes the warehouse client, once a load in flight has ended. */
  async close(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#inFlight?.catch(() => undefined);
    await this.#warehouse.close();
  }

  /**
   * Syncs start every interval, counted from the start of the last one (a load that takes part of
   * the interval does not push the next one back), and sooner after a failure, with backoff.
   */
  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      const started = Date.now();
      this.sync().then(
        () => {
          const interval = this.module.syncIntervalSeconds(this.config) * 1000;
          this.#schedule(Math.max(0, interval - (Date.now() - started)));
        },
        () => {
          const { minRetryMs, maxRetryMs } = this.options;
          this.#schedule(Math.min(maxRetryMs, minRetryMs * 2 ** (this.#failures - 1)));
        },
      );
    }, delayMs);
  }

  /** Loads batch after batch until staging is empty, under the destination's lock. */
  async #syncAll(): Promise<SyncReport> {
    const report: SyncReport = {
      destinationId: this.destinationId,
      busy: false,
      events: 0,
      rows: 0,
      tables: [],
      discards: 0,
      refused: 0,
    };
    const { pool, logger, metrics } = this.deps;
    const lock = await holdConnection(pool);
    let broken = false;
    try {
      const key = ['sluice-warehouse-loader', this.destinationId];
      const { rows } = await lock.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_lock(hashtext($1), hashtext($2)) AS locked',
        key,
      );
      if (!rows[0].locked) return { ...report, busy: true };
      try {
        const tables = new Set<string>();
        const { batchRows } = this.options;
        let next = readStaged(pool, this.destinationId, batchRows);
        let recording: Promise<void> = Promise.resolve();
        for (;;) {
          const staged = await next;
          if (staged.length === 0) break;
          // The next batch is read while this one loads. A row staged meanwhile with a lower id
          // (its transaction committed late) waits for the next sync.
          next =
            staged.length < batchRows
              ? Promise.resolve([])
              : readStaged(pool, this.destinationId, batchRows, staged[staged.length - 1].id);
          next.catch(() => undefined); // awaited above, unless this batch fails first
          const loaded = await this.#loadBatch(staged);
          // Recorded while the next batch loads (Sluice's database beside the warehouse); the
          // one before is recorded by now, so records stay in order.
          await recording;
          const refusedIds = new Set(loaded.refused.map(({ row }) => row.id));
          recording = recordLoad(pool, this.destinationId, {
            loaded: staged.filter((row) => !refusedIds.has(row.id)).map((row) => row.id),
            refused: loaded.refused.map(({ row, error }) => ({
              id: row.id,
              failure: this.#failedEvent(row, error),
            })),
            rows: loaded.rows,
            tables: [...loaded.tables],
          });
          recording.catch(() => undefined); // awaited below, unless the next batch fails first
          report.events += staged.length;
          report.rows += loaded.rows;
          report.discards += loaded.discards;
          report.refused += loaded.refused.length;
          for (const table of loaded.tables) tables.add(table);
          metrics.warehouseLoadedRows.inc({ destination: this.destinationId }, loaded.rows);
        }
        await recording;
        report.tables = [...tables].sort();
        this.#failures = 0;
        metrics.warehouseLastLoadTimestamp.set(
          { destination: this.destinationId },
          Date.now() / 1000,
        );
      } catch (error) {
        this.#failures += 1;
        metrics.warehouseLoadFailures.inc({ destination: this.destinationId });
        const message = this.#mask.mask(messageOf(error));
        logger.warn(
          { error: message, destination: this.destinationId, failures: this.#failures },
          'warehouse load failed; the rows stay staged and are retried',
        );
        await recordLoadFailure(pool, this.destinationId, storableText(message)).catch(
          () => undefined,
        );
        throw error;
      } finally {
        await lock
          .query('SELECT pg_advisory_unlock(hashtext($1), hashtext($2))', key)
          .catch(() => (broken = true));
        await this.#updateBacklog();
      }
    } finally {
      releaseConnection(lock, broken);
    }
    if (report.events > 0) {
      logger.info({ ...report, tables: report.tables.length }, 'warehouse load');
    }
    return report;
  }

  /** Loads a batch of staged rows, each into the schema of its source. */
  async #loadBatch(staged: StagedRow[]): Promise<Loaded> {
    const loaded: Loaded = { rows: 0, tables: new Set(), discards: 0, refused: [] };
    const sources = new Map(this.deps.sources().map((source) => [source.id, source]));
    const bySchema = new Map<string, StagedRow[]>();
    for (const row of staged) {
      const source = sources.get(row.sourceId) ?? { id: row.sourceId };
      const schema = this.module.schemaOf(this.config, source);
      const rows = bySchema.get(schema) ?? [];
      rows.push(row);
      bySchema.set(schema, rows);
    }
    const loadedAt = new Date().toISOString();
    for (const [schema, rows] of bySchema)
      await this.#loadIsolating(schema, rows, loadedAt, loaded);
    return loaded;
  }

  /**
   * Loads rows into one schema; when the warehouse refuses them for their contents, halves them
   * until the refused event is alone (see the comment at the top).
   */
  async #loadIsolating(
    schema: string,
    staged: StagedRow[],
    loadedAt: string,
    loaded: Loaded,
  ): Promise<void> {
    try {
      const rows = staged.flatMap((row) =>
        eventRows(JSON.parse(row.payload) as SegmentEvent, this.module.dialect, loadedAt),
      );
      const summary = await this.#warehouse.load({ schema, rows });
      loaded.rows += summary.rows;
      loaded.discards += summary.discards;
      for (const table of summary.tables) loaded.tables.add(`${schema}.${table}`);
    } catch (error) {
      const aboutTheRows = error instanceof SyntaxError || this.#warehouse.isDataError(error);
      if (!aboutTheRows) throw error;
      if (staged.length === 1) {
        loaded.refused.push({ row: staged[0], error });
        return;
      }
      const half = Math.ceil(staged.length / 2);
      await this.#loadIsolating(schema, staged.slice(0, half), loadedAt, loaded);
      await this.#loadIsolating(schema, staged.slice(half), loadedAt, loaded);
    }
  }

  #failedEvent(row: StagedRow, error: unknown): FailedEventRow {
    return {
      eventKey: messageKey(row.sourceId, row.messageId),
      sourceId: row.sourceId,
      destinationId: this.destinationId,
      transformationId: null,
      messageId: row.messageId,
      userKey: row.userKey,
      receivedAt: row.receivedAt.toISOString(),
      error: `The warehouse refused this event: ${this.#mask.mask(messageOf(error))}`,
      stack: undefined,
      event: row.payload,
    };
  }

  async #updateBacklog(): Promise<void> {
    const backlog = await stagedBacklog(this.deps.pool, this.destinationId).catch(() => undefined);
    if (!backlog) return;
    const labels = { destination: this.destinationId };
    this.deps.metrics.warehouseStagedRows.set(labels, backlog.rows);
    this.deps.metrics.warehouseOldestStagedSeconds.set(
      labels,
      backlog.oldest ? (Date.now() - backlog.oldest.getTime()) / 1000 : 0,
    );
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
