/**
 * CORS for browser SDKs: reflect the Origin (credentials allowed), allow whatever headers the
 * preflight asks for (a `*` would not cover Authorization, which analytics-next sends), and let
 * browsers cache the preflight for a day.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Headers every response to a cross-origin request carries. */
export function applyCorsHeaders(request: IncomingMessage, response: ServerResponse): void {
  const origin = request.headers.origin;
  if (!origin) return;
  response.setHeader('Access-Control-Allow-Origin', origin);
  response.setHeader('Access-Control-Allow-Credentials', 'true');
  response.setHeader('Vary', 'Origin');
}

/** Answers a preflight (OPTIONS) request. */
export function answerPreflight(request: IncomingMessage, response: ServerResponse): void {
  applyCorsHeaders(request, response);
  response.setHeader('Access-Control-Allow-Methods', 'GET, POST, PUT, OPTIONS');
  const requested = request.headers['access-control-request-headers'];
  response.setHeader(
    'Access-Control-Allow-Headers',
    requested ?? 'Authorization, Content-Type, Content-Encoding, X-Retry-Count',
  );
  if (requested) response.setHeader('Vary', 'Origin, Access-Control-Request-Headers');
  response.setHeader('Access-Control-Max-Age', '86400');
  response.writeHead(204).end();
}
