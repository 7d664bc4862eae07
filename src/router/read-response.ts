/**
 * Reads a destination's response with a bound: whatever a vendor sends (an endless body, a 10 MB
 * error page, a gzip bomb), the router keeps at most MAX_RESPONSE_BYTES of the body, stops
 * reading there and cancels the rest of the stream, which closes the connection.
 */
import type { DestinationResponse } from '../../destinations/destination';
import { storableText } from '../db/storable-text';

/**
 * Most bytes of a response body read, judged and stored. Vendors' answers are far smaller:
 * Braze's and Amplitude's per-item errors list at most a few thousand indexes; Mixpanel's
 * `failed_records` for a 2000-event batch can pass it only when hundreds of events fail, and a
 * body cut short is judged by its status alone.
 */
export const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * The response's status, headers and the first `limit` bytes of its body as text, `truncated`
 * when there was more. The body is diagnostic text: characters PostgreSQL cannot store (NUL,
 * lone surrogates) are replaced, so the body can be stored as read.
 */
export async function readResponse(
  response: Response,
  limit = MAX_RESPONSE_BYTES,
): Promise<DestinationResponse> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => (headers[name] = value));
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  const reader = response.body?.getReader();
  if (reader) {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        size += value.length;
        if (size > limit) {
          truncated = true;
          break;
        }
      }
    } finally {
      if (truncated) await reader.cancel().catch(() => undefined);
      reader.releaseLock();
    }
  }
  const bytes = Buffer.concat(chunks).subarray(0, limit);
  const body = storableText(new TextDecoder().decode(bytes));
  return {
    status: response.status,
    headers,
    body,
    ...(truncated ? { truncated } : {}),
  };
}
