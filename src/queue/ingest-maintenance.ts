/**
 * Keeps the ingest queue small: rotates and drops segments every second and expires old
 * messageIds every minute. Failures are logged and retried on the next tick.
 */
import type pg from 'pg';
import type { Logger } from 'pino';
import {
  DEFAULT_SEGMENT_POLICY,
  dropConsumedIngestSegments,
  expireMessageIds,
  rotateIngestSegment,
  type SegmentPolicy,
} from './ingest-segments';

export interface IngestMaintenanceOptions {
  dedupWindowHours: number;
  segmentPolicy?: SegmentPolicy;
  intervalMs?: number;
  expiryIntervalMs?: number;
}

export class IngestMaintenance {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #lastExpiry = 0;

  constructor(
    private readonly pool: pg.Pool,
    private readonly logger: Logger,
    private readonly options: IngestMaintenanceOptions,
  ) {}

  start(): void {
    const interval = this.options.intervalMs ?? 1000;
    this.#timer = setInterval(() => {
      this.#running ??= this.runOnce().finally(() => (this.#running = undefined));
    }, interval);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }

  /** One round of maintenance; exposed for tests and `sluice` commands. */
  async runOnce(): Promise<void> {
    try {
      const rotated = await rotateIngestSegment(
        this.pool,
        this.options.segmentPolicy ?? DEFAULT_SEGMENT_POLICY,
      );
      if (rotated !== undefined) this.logger.debug({ segment: rotated }, 'ingest segment started');
      const dropped = await dropConsumedIngestSegments(this.pool);
      if (dropped.length) this.logger.debug({ segments: dropped }, 'ingest segments dropped');
      const expiryInterval = this.options.expiryIntervalMs ?? 60_000;
      if (this.options.dedupWindowHours > 0 && Date.now() - this.#lastExpiry >= expiryInterval) {
        this.#lastExpiry = Date.now();
        const expired = await expireMessageIds(this.pool, this.options.dedupWindowHours);
        if (expired) this.logger.debug({ expired }, 'expired remembered messageIds');
      }
    } catch (error) {
      this.logger.warn({ err: error }, 'ingest queue maintenance failed; retrying');
    }
  }
}
