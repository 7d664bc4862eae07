/**
 * CORS for browser SDKs, on the routes they call (the POST paths, settings, sourceConfig,
 * analytics.js, the pixel) and nowhere else: the admin API, metrics and health checks answer no
 * CORS, so no web page can read them with a visitor's credentials. On SDK routes: reflect the
 * Origin (credentials allowed), allow whatever headers the preflight asks for (a `*` would not
 * cover Authorization, which analytics-next sends), and let browsers cache the preflight for a day.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Headers every response of an SDK route carries. */
export function applyCorsHeaders(request: IncomingMessage, response: ServerResponse): void {
  // Even without an Origin: a shared cache must not serve this response to a cross-origin request.
  response.setHeader('Vary', 'Origin');
  const origin = request.headers.origin;
  if (!origin) return;
  response.setHeader('Access-Control-Allow-Origin', origin);
  response.setHeader('Access-Control-Allow-Credentials', 'true');
}

/** Answers a preflight (OPTIONS) request to an SDK route. */
export function answerPreflight(request: IncomingMessage, response: ServerResponse): void {
  applyCorsHeaders(request, response);
  response.setHeader('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
  const requested = request.headers['access-control-request-headers'];
  response.setHeader(
    'Access-Control-Allow-Headers',
    requested ?? 'Authorization, Content-Type, Content-Encoding, X-Retry-Count',
  );
  if (requested) response.setHeader('Vary', 'Origin, Access-Control-Request-Headers');
  response.setHeader('Access-Control-Max-Age', '86400');
  response.writeHead(204).end();
}
