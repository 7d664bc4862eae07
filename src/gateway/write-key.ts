/**
 * Finds the write key of a request in the places SDKs put it: HTTP Basic (username, with or
 * without the trailing colon), the JSON body (batch level, then event level), then `?writeKey=`
 * for beacon and pixel requests.
 */
import type { IncomingHttpHeaders } from 'node:http';

export function writeKeyFromHeader(headers: IncomingHttpHeaders): string | undefined {
  const header = headers.authorization;
  if (!header) return undefined;
  const match = /^basic\s+(\S+)\s*$/i.exec(header);
  if (!match) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) return decoded || undefined;
  // Username is the key; some clients put it in the password instead.
  return decoded.slice(0, colon) || decoded.slice(colon + 1) || undefined;
}

export function writeKeyFromBody(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const record = body as Record<string, unknown>;
  if (typeof record.writeKey === 'string' && record.writeKey) return record.writeKey;
  if (Array.isArray(record.batch)) {
    for (const item of record.batch) {
      const key = (item as Record<string, unknown> | null)?.writeKey;
      if (typeof key === 'string' && key) return key;
    }
  }
  return undefined;
}

export function writeKeyFromQuery(query: URLSearchParams): string | undefined {
  return query.get('writeKey') || undefined;
}
