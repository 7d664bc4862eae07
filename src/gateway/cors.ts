/**
 * CORS for browser SDKs: reflect the Origin (credentials allowed), allow whatever headers the
 * preflight asks for (a `*` would not cover Authorization, which analytics-next sends), and let
 * browsers cache the preflight for a day.
 */
import type { NextFunction, Request, Response } from 'express';

export function cors(request: Request, response: Response, next: NextFunction): void {
  const origin = request.headers.origin;
  if (origin) {
    response.setHeader('Access-Control-Allow-Origin', origin);
    response.setHeader('Access-Control-Allow-Credentials', 'true');
    response.setHeader('Vary', 'Origin');
  }
  if (request.method !== 'OPTIONS') return next();
  response.setHeader('Access-Control-Allow-Methods', 'GET, POST, PUT, OPTIONS');
  const requested = request.headers['access-control-request-headers'];
  response.setHeader(
    'Access-Control-Allow-Headers',
    requested ?? 'Authorization, Content-Type, Content-Encoding, X-Retry-Count',
  );
  if (requested) response.vary('Access-Control-Request-Headers');
  response.setHeader('Access-Control-Max-Age', '86400');
  response.status(204).end();
}
