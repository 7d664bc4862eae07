/**
 * Per-source token buckets, in events per second, held by each gateway process. With several
 * gateway replicas each enforces the full limit, so divide the configured rate by the replica
 * count for a cluster-wide limit.
 *
 * A request is let in when the bucket holds enough tokens for it (or is full, for a request
 * larger than the burst); only the events then accepted are taken, and the bucket never goes
 * below empty, so the wait a client is told never exceeds the time the burst takes to refill.
 * (A debt for a large batch would have told the next request to wait for minutes.)
 */
export interface RateLimit {
  eventsPerSecond: number;
  burst?: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export class RateLimiter {
  #buckets = new Map<string, Bucket>();

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** 0 when a request of `events` may go ahead, else the seconds to wait (at least 1). */
  wait(sourceId: string, events: number, limit: RateLimit | undefined): number {
    if (!limit) return 0;
    const bucket = this.#refill(sourceId, limit);
    const needed = Math.min(events, capacityOf(limit)) - bucket.tokens;
    return needed <= 0 ? 0 : Math.max(1, Math.ceil(needed / limit.eventsPerSecond));
  }

  /** Takes `events` tokens for events accepted (a negative count gives tokens back). */
  take(sourceId: string, events: number, limit: RateLimit | undefined): void {
    if (!limit) return;
    const bucket = this.#refill(sourceId, limit);
    bucket.tokens = Math.min(capacityOf(limit), Math.max(0, bucket.tokens - events));
  }

  #refill(sourceId: string, limit: RateLimit): Bucket {
    const capacity = capacityOf(limit);
    const now = this.now();
    const bucket = this.#buckets.get(sourceId) ?? { tokens: capacity, updatedAt: now };
    bucket.tokens = Math.min(
      capacity,
      bucket.tokens + ((now - bucket.updatedAt) / 1000) * limit.eventsPerSecond,
    );
    bucket.updatedAt = now;
    this.#buckets.set(sourceId, bucket);
    return bucket;
  }
}

function capacityOf(limit: RateLimit): number {
  return Math.max(limit.burst ?? limit.eventsPerSecond, 1);
}
