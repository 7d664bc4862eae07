/** Exponential backoff with jitter and a cap: the one place retry delays are computed. */

export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1000, maxMs: 30 * 60_000 };

/**
 * Delay before attempt `attempt + 1` after `attempt` failures (1-based): base·2^(attempt−1),
 * capped, with "equal jitter" (half fixed, half random) so that retries of many jobs failed at
 * once spread out instead of arriving together. `random` is injectable for tests.
 */
export function backoffMs(
  attempt: number,
  policy: BackoffPolicy = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): number {
  const exponential = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exponential / 2 + random() * (exponential / 2));
}
