/**
 * Per-source token buckets, in events per second, held by each gateway process. With several
 * gateway replicas each enforces the full limit, so divide the configured rate by the replica
 * count for a cluster-wide limit.
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

  /** Takes `events` tokens; returns 0 when allowed, else the seconds to wait (at least 1). */
  take(sourceId: string, events: number, limit: RateLimit | undefined): number {
    if (!limit) return 0;
    const capacity = Math.max(limit.burst ?? limit.eventsPerSecond, 1);
    const now = this.now();
    const bucket = this.#buckets.get(sourceId) ?? { tokens: capacity, updatedAt: now };
    bucket.tokens = Math.min(
      capacity,
      bucket.tokens + ((now - bucket.updatedAt) / 1000) * limit.eventsPerSecond,
    );
    bucket.updatedAt = now;
    this.#buckets.set(sourceId, bucket);
    // A request larger than the burst passes once the bucket is full and leaves a debt behind.
    const needed = Math.min(events, capacity) - bucket.tokens;
    if (needed <= 0) {
      bucket.tokens -= events;
      return 0;
    }
    return Math.max(1, Math.ceil(needed / limit.eventsPerSecond));
  }
}
