/**
 * Sends one request to a destination and decides its outcome. Network errors and 5xx answers are
 * retried a couple of times in-process right away (p-retry, short jittered delays) before the
 * outcome is handed back for a persistent retry; 429 and Retry-After are never retried in-process:
 * the vendor asked for a pause, and the persistent schedule honours it.
 */
import pRetry from 'p-retry';
import type {
  Destination,
  DestinationRequest,
  DestinationResponse,
} from '../../destinations/destination';
import { classifyResponse, networkFailure, type DeliveryOutcome } from './delivery-outcome';

export interface SendOptions {
  timeoutMs: number;
  /** The HTTP client; tests pass one that sends every vendor's requests to a local server. */
  fetch?: typeof fetch;
  /** In-process attempts after the first for network errors and 5xx. */
  quickRetries: number;
  quickRetryMinMs: number;
}

export interface SendResult {
  outcome: DeliveryOutcome;
  /** The last response, when there was one (for dead letters and throttling). */
  response?: DestinationResponse;
  durationMs: number;
}

class RetryNow extends Error {
  constructor(readonly result: SendResult) {
    super(result.outcome.kind === 'retry' ? result.outcome.reason : 'retry');
  }
}

export async function sendRequest(
  request: DestinationRequest,
  destination: Pick<Destination<unknown>, 'interpretResponse'>,
  options: SendOptions,
): Promise<SendResult> {
  const attempt = async (): Promise<SendResult> => {
    const started = performance.now();
    let response: DestinationResponse;
    try {
      response = await fetchOnce(request, options.timeoutMs, options.fetch ?? fetch);
    } catch (error) {
      throw new RetryNow({
        outcome: networkFailure(error),
        durationMs: performance.now() - started,
      });
    }
    const result = {
      outcome: classifyResponse(response, destination),
      response,
      durationMs: performance.now() - started,
    };
    const quick =
      result.outcome.kind === 'retry' &&
      response.status >= 500 &&
      result.outcome.afterMs === undefined;
    if (quick) throw new RetryNow(result);
    return result;
  };
  try {
    return await pRetry(attempt, {
      retries: options.quickRetries,
      minTimeout: options.quickRetryMinMs,
      factor: 3,
      randomize: true,
    });
  } catch (error) {
    if (error instanceof RetryNow) return error.result;
    throw error;
  }
}

async function fetchOnce(
  request: DestinationRequest,
  timeoutMs: number,
  fetchImpl: typeof fetch,
): Promise<DestinationResponse> {
  const response = await fetchImpl(request.url, {
    method: request.method,
    headers: request.headers,
    body: request.body,
    signal: AbortSignal.timeout(timeoutMs),
    redirect: 'follow',
  });
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => (headers[name] = value));
  return { status: response.status, headers, body: await response.text() };
}
