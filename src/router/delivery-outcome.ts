/**
 * What happened to a delivery, as a value: ok, retry (when, and why) or abort (why). Decided by
 * one function from the response, honouring Retry-After; a destination may override it for its
 * vendor's quirks (Destination.interpretResponse).
 */
import type { Destination, DestinationResponse } from '../../destinations/destination';

export type DeliveryOutcome =
  | { kind: 'ok' }
  | { kind: 'retry'; reason: string; afterMs?: number }
  | { kind: 'abort'; reason: string };

/** 2xx ok; 408, 429, 5xx retry (Retry-After honoured); any other status aborts. */
export function classifyResponse(
  response: DestinationResponse,
  destination?: Pick<Destination<unknown>, 'interpretResponse'>,
  now: () => number = Date.now,
): DeliveryOutcome {
  const verdict = destination?.interpretResponse?.(response);
  if (verdict) {
    if (verdict.outcome === 'ok') return { kind: 'ok' };
    if (verdict.outcome === 'abort') return { kind: 'abort', reason: verdict.reason };
    return {
      kind: 'retry',
      reason: verdict.reason,
      afterMs: verdict.afterMs ?? retryAfterMs(response.headers, now),
    };
  }
  const { status } = response;
  if (status >= 200 && status < 300) return { kind: 'ok' };
  const reason = `HTTP ${status}${response.body ? `: ${truncate(response.body, 300)}` : ''}`;
  if (status === 408 || status === 429 || status >= 500) {
    return { kind: 'retry', reason, afterMs: retryAfterMs(response.headers, now) };
  }
  return { kind: 'abort', reason };
}

/** A request that got no response (connection refused, reset, timeout) is always retried. */
export function networkFailure(error: unknown): DeliveryOutcome {
  const cause = (error as { cause?: { code?: string } })?.cause?.code;
  const message = (error as Error)?.message ?? String(error);
  return { kind: 'retry', reason: `network error: ${cause ? `${cause} ` : ''}${message}` };
}

/** Retry-After as seconds or an HTTP date, in milliseconds from now; undefined if absent. */
export function retryAfterMs(
  headers: Record<string, string>,
  now: () => number = Date.now,
): number | undefined {
  const value = headers['retry-after'];
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now());
}

function truncate(text: string, length: number): string {
  return text.length <= length ? text : `${text.slice(0, length)}…`;
}
