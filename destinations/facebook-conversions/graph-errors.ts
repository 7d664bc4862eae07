/**
 * Meta's answers read as verdicts. The Graph API reports errors as `{"error": {message, type,
 * code, error_subcode, is_transient, error_user_title, error_user_msg, fbtrace_id}}`
 * (developers.facebook.com/docs/graph-api/guides/error-handling), rate limits included, which
 * come as HTTP 400 or 403 with a throttling code rather than as 429:
 *
 * - throttling (codes 4, 17, 32, 341, 613 and the Business Use Case codes 80000–80014): retried
 *   after Retry-After, else the `estimated_time_to_regain_access` (minutes) of the
 *   X-Business-Use-Case-Usage header, else a minute;
 * - temporary errors (codes 1 and 2, or `is_transient: true`): retried with the router's backoff;
 * - everything else is left to the router's status rules: a 4xx (an invalid parameter, an
 *   expired token) aborts, a 5xx retries.
 *
 * Meta rejects a whole request when one of its events is invalid and does not say which, so a
 * verdict is always for the whole request.
 */
import type { DestinationResponse, Verdict } from '../destination';
import { excerpt, headerOf, jsonBodyOf } from '../shared/requests';
import { isRecord, numberOf, recordOf, stringOf } from '../shared/values';

/** Application, user, page and custom-level throttling; 341 application limit reached. */
const THROTTLING_CODES = new Set([4, 17, 32, 341, 613]);
/** Business Use Case rate limits (Marketing API, Pages, Instagram, catalog ...). */
const BUC_CODES = { from: 80000, to: 80014 };
/** Temporary issues due to downtime: wait and retry. */
const TEMPORARY_CODES = new Set([1, 2]);

/** The pause after throttling when Meta gives no time: its rate limits count rolling windows. */
export const THROTTLE_PAUSE_MS = 60_000;

interface GraphError {
  code?: number;
  subcode?: number;
  message: string;
  transient: boolean;
}

function graphErrorOf(response: DestinationResponse): GraphError | undefined {
  const body = jsonBodyOf(response);
  if (!isRecord(body) || !isRecord(body.error)) return undefined;
  const error = body.error;
  const message = [stringOf(error.message), stringOf(error.error_user_msg)]
    .filter((text) => text !== undefined)
    .join(': ');
  return {
    code: numberOf(error.code),
    subcode: numberOf(error.error_subcode),
    message: excerpt(message || JSON.stringify(error)),
    transient: error.is_transient === true,
  };
}

function isThrottling(code: number | undefined): boolean {
  if (code === undefined) return false;
  return THROTTLING_CODES.has(code) || (code >= BUC_CODES.from && code <= BUC_CODES.to);
}

/**
 * The longest `estimated_time_to_regain_access` (minutes) in X-Business-Use-Case-Usage, which
 * maps business ids to lists of usage entries; undefined when none is positive.
 */
function regainAccessMs(response: DestinationResponse): number | undefined {
  const header = headerOf(response, 'x-business-use-case-usage');
  if (!header) return undefined;
  let usage: unknown;
  try {
    usage = JSON.parse(header);
  } catch {
    return undefined;
  }
  const minutes = Object.values(recordOf(usage))
    .flatMap((entries) => (Array.isArray(entries) ? entries : []))
    .map((entry) => numberOf(recordOf(entry).estimated_time_to_regain_access) ?? 0);
  const longest = Math.max(0, ...minutes);
  return longest > 0 ? longest * 60_000 : undefined;
}

/** The verdict on Meta's answer, or undefined to leave it to the router's status rules. */
export function graphVerdict(response: DestinationResponse): Verdict | undefined {
  const error = graphErrorOf(response);
  const code = error?.code;
  const label = error && `(code ${code ?? '?'}${error.subcode ? `/${error.subcode}` : ''})`;
  if (isThrottling(code) || (response.status === 429 && error)) {
    return {
      outcome: 'retry',
      reason: `Meta rate limit ${label}: ${error?.message}`,
      afterMs: headerOf(response, 'retry-after')
        ? undefined
        : (regainAccessMs(response) ?? THROTTLE_PAUSE_MS),
    };
  }
  if (error && (error.transient || (code !== undefined && TEMPORARY_CODES.has(code)))) {
    return { outcome: 'retry', reason: `Meta temporary error ${label}: ${error.message}` };
  }
  return undefined;
}
