/**
 * The processor: reads the ingest queue of the partitions it leases, in order, and turns each
 * event into per-destination work — admitted per connection (integrations, supported types,
 * filters), passed through the connection's transformations, written as delivery rows — then
 * hands the chunk off in one transaction (hand-off.ts). One chunk is in flight at a time. No
 * event can stall a partition: a chunk that fails is split until the event at fault is alone,
 * and that event is recorded as failed (see #handleIsolatingFailures).
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Workspace } from '../config/workspace';
import { userKeyOf, type SegmentEvent } from '../event';
import type { Metrics } from '../metrics';
import { isTransientDatabaseError } from '../db/transient-errors';
import { PollLoop } from '../poll-loop';
import { messageKey } from '../queue/message-ids';
import type { TransformationSandbox } from '../sandbox/transformation-sandbox';
import { connectionOutput, type ConnectionInput } from './connection-output';
import { handOff, handOffIsolated, type HandOffResult, type IsolatedOutput } from './hand-off';
import { PartitionLeases } from './partition-leases';
import {
  readIngestChunk,
  splitChunk,
  type Cursor,
  type IngestChunk,
  type IngestRecord,
} from './read-ingest-chunk';
import { rejection, routingTable, type DestinationRegistry, type Route } from './routing';
import type { DeliveryRow, FailedEventRow } from './write-output';

/** The failed event recorded for a connection when the processor itself failed on the event. */
function failedInProcessor(
  record: IngestRecord,
  userKey: string,
  route: Route,
  error: unknown,
): FailedEventRow {
  const message = error instanceof Error ? error.message : String(error);
  return {
    eventKey: messageKey(record.sourceId, record.messageId),
    sourceId: record.sourceId,
    destinationId: route.destination.id,
    transformationId: null,
    messageId: record.messageId,
    userKey,
    receivedAt: record.receivedAt.toISOString(),
    error: `The processor could not hand this event on: ${message}`,
    stack: error instanceof Error ? error.stack : undefined,
    event: record.payload,
  };
}

export interface ProcessorOptions {
  /** Most events read per chunk (spread over the leased partitions). */
  chunkSize: number;
  /** How long to wait before polling again when there was nothing to read. */
  idleMs: number;
  leaseTtlMs: number;
  dedup: boolean;
}

export const DEFAULT_PROCESSOR_OPTIONS: ProcessorOptions = {
  chunkSize: 2000,
  idleMs: 50,
  leaseTtlMs: 15_000,
  dedup: true,
};

export interface ProcessorDeps {
  pool: pg.Pool;
  workspace: () => Workspace;
  destinations: DestinationRegistry;
  sandbox: TransformationSandbox;
  logger: Logger;
  metrics: Metrics;
}

export class Processor {
  readonly leases: PartitionLeases;
  readonly #options: ProcessorOptions;
  readonly #loop: PollLoop;
  #lastLeaseRefresh = 0;

  constructor(
    private readonly deps: ProcessorDeps,
    options: Partial<ProcessorOptions> = {},
  ) {
    this.#options = { ...DEFAULT_PROCESSOR_OPTIONS, ...options };
    this.#loop = new PollLoop(() => this.processOnce(), {
      idleMs: this.#options.idleMs,
      onError: (error) => deps.logger.error({ err: error }, 'processing a chunk failed; retrying'),
    });
    this.leases = new PartitionLeases(
      deps.pool,
      `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
      {
        ttlMs: this.#options.leaseTtlMs,
      },
    );
  }

  start(): void {
    this.#loop.start();
  }

  /** Finishes the chunk in flight, gives the leases back and stops. */
  async stop(): Promise<void> {
    await this.#loop.stop();
    await this.leases
      .releaseAll()
      .catch((error) => this.deps.logger.warn({ err: error }, 'releasing partition leases failed'));
  }

  /** Processes chunks until the leased partitions hold nothing readable; returns events read. */
  async processAvailable(): Promise<number> {
    let total = 0;
    for (;;) {
      const read = await this.processOnce();
      if (read === 0) return total;
      total += read;
    }
  }

  /** Reads and hands off one chunk; returns how many ingest events it read. */
  async processOnce(): Promise<number> {
    await this.#refreshLeasesIfDue();
    const partitions = this.leases.owned;
    if (partitions.length === 0) return 0;
    const perPartition = Math.max(50, Math.ceil(this.#options.chunkSize / partitions.length));
    const chunk = await readIngestChunk(this.deps.pool, partitions, perPartition);
    if (chunk.records.length === 0) return 0;
    await this.#handleIsolatingFailures(chunk);
    return chunk.records.length;
  }

  /**
   * Hands the chunk off; when that fails for any reason but a lost database, the chunk is split
   * in halves, each handled the same way, until the event at fault is alone: it is then handed
   * off connection by connection (#handleAlone), so one event can never hold its partition back.
   * A lost database throws, and the whole chunk is read again once the database is back.
   */
  async #handleIsolatingFailures(chunk: IngestChunk): Promise<void> {
    try {
      await this.#handleChunk(chunk);
    } catch (error) {
      if (isTransientDatabaseError(error)) throw error;
      if (chunk.records.length === 1) return this.#handleAlone(chunk, error);
      this.deps.logger.warn(
        { err: error, events: chunk.records.length },
        'a chunk failed; splitting it to find the event at fault',
      );
      for (const half of splitChunk(chunk)) await this.#handleIsolatingFailures(half);
    }
  }

  /**
   * The one event of a chunk that failed: each connection's output is made and written on its
   * own; a connection whose output cannot be made, or that the database refuses, gets a failed
   * event (replayable) with the error instead.
   */
  async #handleAlone(chunk: IngestChunk, chunkError: unknown): Promise<void> {
    const [record] = chunk.records;
    const workspace = this.deps.workspace();
    const routes = routingTable(workspace, this.deps.destinations).get(record.sourceId) ?? [];
    let item: ConnectionInput | undefined;
    try {
      item = this.#parse(chunk).events[0];
    } catch {
      // Recorded below for every connection, with the error that failed the chunk.
    }
    const userKey = item?.userKey ?? record.messageId;
    const outputs: IsolatedOutput[] = [];
    for (const route of routes) {
      const asFailure = (error: unknown) => failedInProcessor(record, userKey, route, error);
      try {
        if (!item) throw chunkError;
        if (rejection(route, item.event) !== undefined) continue;
        const output = await connectionOutput(route, [item], {
          sandbox: this.deps.sandbox,
          workspace,
        });
        outputs.push({ ...output, asFailure });
      } catch (error) {
        outputs.push({ deliveries: [], failures: [asFailure(error)], asFailure });
      }
    }
    const endCursors = new Map([[record.partition, { txid: record.txid, id: record.id }]]);
    const result = await handOffIsolated(this.deps.pool, {
      startCursors: chunk.startCursors,
      endCursors,
      eventKeys: this.#options.dedup
        ? [
            {
              key: messageKey(record.sourceId, record.messageId),
              receivedAt: record.receivedAt.toISOString(),
            },
          ]
        : undefined,
      outputs,
    });
    if (!result.committed) return;
    this.deps.logger.warn(
      {
        err: chunkError,
        sourceId: record.sourceId,
        messageId: record.messageId,
        failures: result.failures,
      },
      'an event failed its chunk; handed off on its own, what could not be handed on recorded as failed events',
    );
    this.#recordMetrics(chunk, 1, result);
  }

  async #refreshLeasesIfDue(): Promise<void> {
    if (Date.now() - this.#lastLeaseRefresh < this.#options.leaseTtlMs / 3) return;
    await this.leases.refresh();
    this.#lastLeaseRefresh = Date.now();
  }

  async #handleChunk(chunk: IngestChunk): Promise<void> {
    const workspace = this.deps.workspace();
    const { events, endCursors } = this.#parse(chunk);
    const deliveries: DeliveryRow[] = [];
    const failures: FailedEventRow[] = [];
    const routes = routingTable(workspace, this.deps.destinations);
    // Group events by route so each transformation runs once per chunk with all its events.
    const perRoute = new Map<Route, ConnectionInput[]>();
    for (const item of events) {
      for (const route of routes.get(item.sourceId) ?? []) {
        if (rejection(route, item.event) !== undefined) continue;
        const list = perRoute.get(route) ?? [];
        list.push(item);
        perRoute.set(route, list);
      }
    }
    for (const [route, items] of perRoute) {
      const output = await connectionOutput(route, items, {
        sandbox: this.deps.sandbox,
        workspace,
      });
      // Loops, not push(...rows): a chunk's outputs can outnumber what the call stack takes.
      for (const row of output.deliveries) deliveries.push(row);
      for (const row of output.failures) failures.push(row);
    }
    const result = await handOff(this.deps.pool, {
      startCursors: chunk.startCursors,
      endCursors,
      eventKeys: this.#options.dedup
        ? events.map(({ eventKey, receivedAt }) => ({ key: eventKey, receivedAt }))
        : undefined,
      deliveries,
      failures,
    });
    if (!result.committed) {
      this.deps.logger.warn(
        'a partition cursor moved under this processor; chunk left to its new owner',
      );
      this.#lastLeaseRefresh = 0;
      return;
    }
    this.#recordMetrics(chunk, events.length, result);
  }

  #recordMetrics(
    chunk: IngestChunk,
    events: number,
    result: Extract<HandOffResult, { committed: true }>,
  ): void {
    const { metrics } = this.deps;
    metrics.processorEvents.inc(events - result.duplicates);
    if (result.duplicates) metrics.ingestDuplicates.inc(result.duplicates);
    metrics.processorFailures.inc(result.failures);
    const newest = chunk.records[chunk.records.length - 1].receivedAt.getTime();
    metrics.processorLagSeconds.set(Math.max(0, (Date.now() - newest) / 1000));
  }

  /** Parses the chunk's events, drops repeats of a messageId within it, notes the end cursors. */
  #parse(chunk: IngestChunk): { events: ConnectionInput[]; endCursors: Map<number, Cursor> } {
    const events: ConnectionInput[] = [];
    const seen = new Set<string>();
    const endCursors = new Map<number, Cursor>();
    for (const record of chunk.records) {
      endCursors.set(record.partition, { txid: record.txid, id: record.id });
      const key = messageKey(record.sourceId, record.messageId);
      if (seen.has(key)) continue;
      seen.add(key);
      const event = JSON.parse(record.payload) as SegmentEvent;
      events.push({
        event,
        eventText: record.payload,
        eventKey: key,
        sourceId: record.sourceId,
        messageId: record.messageId,
        userKey: userKeyOf(event),
        receivedAt: record.receivedAt.toISOString(),
      });
    }
    return { events, endCursors };
  }
}
