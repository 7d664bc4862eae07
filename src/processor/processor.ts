/**
 * The processor: reads the ingest queue of the partitions it leases, in order, and turns each
 * event into per-destination work — admitted per connection (integrations, supported types,
 * filters), passed through the connection's transformations, written as delivery rows — then
 * hands the chunk off in one transaction (hand-off.ts). One chunk is in flight at a time.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Workspace } from '../config/workspace';
import { userKeyOf, type SegmentEvent } from '../event';
import type { Metrics } from '../metrics';
import { PollLoop } from '../poll-loop';
import { messageKey } from '../queue/message-ids';
import type { TransformationSandbox } from '../sandbox/transformation-sandbox';
import { connectionOutput, type ConnectionInput } from './connection-output';
import { handOff } from './hand-off';
import { PartitionLeases } from './partition-leases';
import { readIngestChunk, type Cursor, type IngestChunk } from './read-ingest-chunk';
import { rejection, routingTable, type DestinationRegistry, type Route } from './routing';
import type { DeliveryRow, FailedEventRow } from './write-output';

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
    await this.#handleChunk(chunk);
    return chunk.records.length;
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
      deliveries.push(...output.deliveries);
      failures.push(...output.failures);
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
    const { metrics } = this.deps;
    metrics.processorEvents.inc(events.length - result.duplicates);
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
