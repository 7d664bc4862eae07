/**
 * Per-destination request pacing: a token bucket at the configured requests per second, which
 * halves its rate on every 429 and creeps back up (5% per success) towards the configured rate —
 * or, with no configured rate, towards unthrottled. One per destination per router process.
 */
export class Throttle {
  #rate: number;
  #tokens: number;
  #updatedAt: number;

  constructor(
    private readonly configuredRate: number | undefined,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.#rate = configuredRate ?? Infinity;
    this.#tokens = this.#burst();
    this.#updatedAt = now();
  }

  /** Current requests per second (Infinity when unthrottled). */
  get rate(): number {
    return this.#rate;
  }

  /** Milliseconds to wait before the next request may go; takes its token. */
  reserve(): number {
    if (this.#rate === Infinity) return 0;
    const now = this.now();
    this.#tokens = Math.min(
      this.#burst(),
      this.#tokens + ((now - this.#updatedAt) / 1000) * this.#rate,
    );
    this.#updatedAt = now;
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : Math.ceil((-this.#tokens / this.#rate) * 1000);
  }

  /** Tokens the bucket holds at most: up to a second's worth, at least one, at most 10. */
  #burst(): number {
    return Math.max(1, Math.min(this.#rate, 10));
  }

  async acquire(): Promise<void> {
    const wait = this.reserve();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }

  /** The vendor said 429: halve the rate (from the observed rate when unthrottled). */
  onRateLimited(observedPerSecond: number): void {
    const from = this.#rate === Infinity ? Math.max(1, observedPerSecond) : this.#rate;
    this.#rate = Math.max(0.2, from / 2);
    this.#tokens = Math.min(this.#tokens, 0);
  }

  onSuccess(): void {
    if (this.#rate === Infinity) return;
    const ceiling = this.configuredRate ?? Infinity;
    const next = this.#rate * 1.05;
    this.#rate = next >= ceiling ? ceiling : next > 10_000 ? Infinity : next;
  }
}
