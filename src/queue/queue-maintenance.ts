/**
 * Keeps the queues small: rotates and drops segments of the ingest and delivery queues every
 * second and expires old messageIds every minute. Failures are logged and retried next tick.
 */
import type pg from 'pg';
import type { Logger } from 'pino';
import { expireMessageIds } from './message-ids';
import {
  DEFAULT_SEGMENT_POLICY,
  DELIVERY_QUEUE,
  dropFinishedSegments,
  INGEST_QUEUE,
  rotateSegment,
} from './segments';

const INTERVAL_MS = 1000;
const EXPIRY_INTERVAL_MS = 60_000;

export interface QueueMaintenanceOptions {
  dedupWindowHours: number;
}

export class QueueMaintenance {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #lastExpiry = 0;

  constructor(
    private readonly pool: pg.Pool,
    private readonly logger: Logger,
    private readonly options: QueueMaintenanceOptions,
  ) {}

  start(): void {
    this.#timer = setInterval(() => {
      this.#running ??= this.#runOnce().finally(() => (this.#running = undefined));
    }, INTERVAL_MS);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }

  /** One round of maintenance. */
  async #runOnce(): Promise<void> {
    try {
      for (const queue of [INGEST_QUEUE, DELIVERY_QUEUE]) {
        const rotated = await rotateSegment(this.pool, queue, DEFAULT_SEGMENT_POLICY);
        if (rotated !== undefined)
          this.logger.debug({ queue: queue.jobs, segment: rotated }, 'segment started');
        const dropped = await dropFinishedSegments(this.pool, queue);
        if (dropped.length)
          this.logger.debug({ queue: queue.jobs, segments: dropped }, 'segments dropped');
      }
      if (
        this.options.dedupWindowHours > 0 &&
        Date.now() - this.#lastExpiry >= EXPIRY_INTERVAL_MS
      ) {
        this.#lastExpiry = Date.now();
        const expired = await expireMessageIds(this.pool, this.options.dedupWindowHours);
        if (expired) this.logger.debug({ expired }, 'expired remembered messageIds');
      }
    } catch (error) {
      this.logger.warn({ err: error }, 'queue maintenance failed; retrying');
    }
  }
}
