/**
 * What happened to a delivery, as a value: ok, retry (when, and why) or abort (why), for the whole
 * request or, where the vendor answers per item, for each item of a batch. Decided by one
 * function from the response, honouring Retry-After and the redirect rule (see redirects.ts); a
 * destination may override it for its vendor's quirks and per-item answers
 * (Destination.interpretResponse).
 */
import type {
  Destination,
  DestinationResponse,
  SentRequest,
  Verdict,
} from '../../destinations/destination';
import { isRedirect, MAX_REDIRECTS, redirectDecision } from './redirects';

export type DeliveryOutcome =
  | { kind: 'ok' }
  | { kind: 'retry'; reason: string; afterMs?: number }
  | { kind: 'abort'; reason: string };

/** A response's outcome: one for the whole request, or one per item it carried, in order. */
export type ResponseOutcome = DeliveryOutcome | { kind: 'per-item'; items: DeliveryOutcome[] };

/**
 * 2xx ok; 408, 429, 5xx retry (Retry-After honoured); a redirect, or any other status, aborts.
 * A redirect that reaches here was not followed: another origin, a status that would drop the
 * body, or one too many (a loop).
 */
export function classifyResponse(
  response: DestinationResponse,
  sent: SentRequest,
  destination?: Pick<Destination<unknown>, 'interpretResponse'>,
  now: () => number = Date.now,
): ResponseOutcome {
  const { status } = response;
  if (isRedirect(status)) {
    // Only same-origin hops were followed: the request's URL resolves a relative Location.
    const decision = redirectDecision(
      status,
      response.headers.location,
      sent.request.url,
      sent.request.url,
    );
    return {
      kind: 'abort',
      reason:
        'refuse' in decision
          ? decision.refuse
          : `HTTP ${status}: more than ${MAX_REDIRECTS} redirects (a redirect loop?)`,
    };
  }
  const verdict = destination?.interpretResponse?.(response, sent);
  if (verdict?.outcome === 'per-item') {
    const expected = sent.items.length;
    if (verdict.items.length !== expected) {
      // A destination's mistake; retrying loses nothing, and the attempt limit ends it.
      return {
        kind: 'retry',
        reason: `the destination judged ${verdict.items.length} items of a request carrying ${expected}`,
      };
    }
    const items = verdict.items.map((item) => outcomeOf(item, response, now));
    return items.every((item) => item.kind === 'ok') ? { kind: 'ok' } : { kind: 'per-item', items };
  }
  if (verdict) return outcomeOf(verdict, response, now);
  if (status >= 200 && status < 300) return { kind: 'ok' };
  const reason = `HTTP ${status}${response.body ? `: ${truncate(response.body, 300)}` : ''}`;
  if (status === 408 || status === 429 || status >= 500) {
    return { kind: 'retry', reason, afterMs: retryAfterMs(response.headers, now) };
  }
  return { kind: 'abort', reason };
}

/** The outcome of item `index` of a request (every item shares a whole-request outcome). */
export function outcomeOfItem(outcome: ResponseOutcome, index: number): DeliveryOutcome {
  return outcome.kind === 'per-item' ? outcome.items[index] : outcome;
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

function outcomeOf(
  verdict: Verdict,
  response: DestinationResponse,
  now: () => number,
): DeliveryOutcome {
  if (verdict.outcome === 'ok') return { kind: 'ok' };
  if (verdict.outcome === 'abort') return { kind: 'abort', reason: verdict.reason };
  return {
    kind: 'retry',
    reason: verdict.reason,
    afterMs: verdict.afterMs ?? retryAfterMs(response.headers, now),
  };
}

function truncate(text: string, length: number): string {
  return text.length <= length ? text : `${text.slice(0, length)}…`;
}
