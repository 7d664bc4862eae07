/**
 * Sends one request to a destination and decides its outcome. Network errors and 5xx answers are
 * retried a couple of times in-process right away (p-retry, short jittered delays) before the
 * outcome is handed back for a persistent retry; 429 and Retry-After are never retried in-process:
 * the vendor asked for a pause, and the persistent schedule honours it.
 *
 * Whatever the vendor does, a send ends with an outcome within the timeout: redirects are followed
 * by hand and only as redirects.ts allows, the body is read up to MAX_RESPONSE_BYTES
 * (read-response.ts), and the response is masked before anything is derived from it.
 */
import pRetry from 'p-retry';
import type { Destination, DestinationResponse, SentRequest } from '../../destinations/destination';
import { classifyResponse, networkFailure, type ResponseOutcome } from './delivery-outcome';
import type { CredentialMask } from './mask-credentials';
import { readResponse } from './read-response';
import { isRedirect, MAX_REDIRECTS, redirectDecision } from './redirects';

export interface SendOptions {
  timeoutMs: number;
  /** The HTTP client; tests pass one that sends every vendor's requests to a local server. */
  fetch?: typeof fetch;
  /** In-process attempts after the first for network errors and 5xx. */
  quickRetries: number;
  quickRetryMinMs: number;
  /** The destination's credentials, masked in the response before it is judged or kept. */
  mask: CredentialMask;
}

export interface SendResult {
  outcome: ResponseOutcome;
  /** The last response, when there was one (for dead letters and throttling), masked. */
  response?: DestinationResponse;
  durationMs: number;
}

class RetryNow extends Error {
  constructor(readonly result: SendResult) {
    super(result.outcome.kind === 'retry' ? result.outcome.reason : 'retry');
  }
}

export async function sendRequest(
  sent: SentRequest,
  destination: Pick<Destination<unknown>, 'interpretResponse'>,
  options: SendOptions,
): Promise<SendResult> {
  const mask = options.mask.forRequest(sent.request);
  const attempt = async (): Promise<SendResult> => {
    const started = performance.now();
    let response: DestinationResponse;
    try {
      response = mask.maskResponse(
        await fetchOnce(sent, options.timeoutMs, options.fetch ?? fetch),
      );
    } catch (error) {
      throw new RetryNow({
        outcome: networkFailure(error),
        durationMs: performance.now() - started,
      });
    }
    const result = {
      outcome: classifyResponse(response, sent, destination),
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

/**
 * The request's response, following the redirects redirects.ts allows; a redirect it refuses is
 * returned as the response (classifyResponse words why). One timeout covers every hop and body.
 */
async function fetchOnce(
  { request }: SentRequest,
  timeoutMs: number,
  fetchImpl: typeof fetch,
): Promise<DestinationResponse> {
  const signal = AbortSignal.timeout(timeoutMs);
  let url = request.url;
  for (let redirects = 0; ; redirects++) {
    const response = await fetchImpl(url, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      signal,
      redirect: 'manual',
    });
    if (isRedirect(response.status) && redirects < MAX_REDIRECTS) {
      const decision = redirectDecision(
        response.status,
        response.headers.get('location') ?? undefined,
        url,
        request.url,
      );
      if ('follow' in decision) {
        await response.body?.cancel().catch(() => undefined);
        url = decision.follow.toString();
        continue;
      }
    }
    return readResponse(response);
  }
}
