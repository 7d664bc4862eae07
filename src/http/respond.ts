/**
 * Writing responses without Express, for the hot ingestion paths and the error handler alike:
 * JSON bodies with an exact Content-Length, errors rendered from the error catalog.
 */
import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { asSluiceError } from '../errors';

export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  response.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  response.end(text);
}

/**
 * Answers with the catalog entry for `error`; server errors are logged with their stack, under
 * the route's label (a path can hold a write key). A 503 is a known state (database lost,
 * shutting down) that clients retry, not a failure to log.
 */
export function sendError(
  response: ServerResponse,
  error: unknown,
  logger: Logger,
  route: string,
): void {
  const sluiceError = asSluiceError(error);
  if (sluiceError.status >= 500 && sluiceError.status !== 503) {
    logger.error({ err: error, route }, 'request failed');
  }
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const headers: Record<string, string> = { ...sluiceError.headers };
  // The rest of an oversized or unreadable body is never read: close instead of draining it.
  if (sluiceError.status === 413 || sluiceError.status === 415) headers.Connection = 'close';
  sendJson(response, sluiceError.status, sluiceError.toJSON(), headers);
}
