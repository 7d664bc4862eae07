/**
 * The tracking pixel: `GET /v1/pixel/<type>?data=<base64 JSON>` or the flat form
 * `?userId=...&event=...&properties.plan=pro&writeKey=...`. The response is always a 1×1 GIF.
 */
import { SluiceError } from '../errors';
import { isPlainObject } from './normalize-event';
import { parseMessage } from './parse-message';

/** A transparent 1×1 GIF. */
export const PIXEL_GIF = Buffer.from(
  'R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7',
  'base64',
);

const RESERVED = new Set(['__proto__', 'prototype', 'constructor']);

/**
 * The event a pixel request describes, held to the same nesting limit as a POSTed body (the
 * URL's length, capped by Node's header limit, bounds its size).
 */
export function pixelMessage(query: URLSearchParams, maxDepth: number): Record<string, unknown> {
  const data = query.get('data');
  if (data !== null) {
    const text = Buffer.from(data, 'base64').toString('utf8');
    let decoded: unknown;
    try {
      decoded = parseMessage(text, { maxDepth, maxItemBytes: Infinity }).message;
    } catch (error) {
      if (error instanceof SluiceError && error.code !== 'SLUICE_E_INVALID_JSON') throw error;
      throw new SluiceError('SLUICE_E_INVALID_JSON', '"data" is not base64-encoded JSON', {
        cause: error,
      });
    }
    if (!isPlainObject(decoded)) {
      throw new SluiceError('SLUICE_E_INVALID_EVENT', '"data" must encode a JSON object');
    }
    return decoded;
  }
  const message: Record<string, unknown> = {};
  for (const [key, value] of query) {
    const path = key.split('.');
    if (path.some((part) => part === '' || RESERVED.has(part))) continue;
    // `a.b.c` is three levels of objects (the event, a, b), as a JSON body's depth counts them.
    if (path.length > maxDepth) {
      throw new SluiceError('SLUICE_E_TOO_DEEP', `the limit is ${maxDepth} levels`);
    }
    let target = message;
    for (const part of path.slice(0, -1)) {
      if (!isPlainObject(target[part])) target[part] = {};
      target = target[part] as Record<string, unknown>;
    }
    target[path[path.length - 1]] = value;
  }
  return message;
}
