/**
 * Building the HTTP requests destinations hand to the router: JSON and form bodies, auth headers,
 * batch keys, and the combine function of APIs that wrap an array of items in a JSON envelope.
 * A lone batchable request is built by the same combine as a batch, so both look alike on the
 * wire (see `batching.combine` in ../destination.ts).
 */
import type {
  BatchLimits,
  Destination,
  DestinationRequest,
  DestinationResponse,
  HttpMethod,
  TransformContext,
} from '../destination';
import { sha256Hex } from './values';

/** Where a request goes: everything but its body. */
export interface RequestTarget {
  method: HttpMethod;
  url: string;
  headers: Record<string, string>;
}

export type Batching<Config> = NonNullable<Destination<Config>['batching']>;

/** `Authorization` value for HTTP Basic auth. */
export function basicAuth(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

/** A request whose body is `body` as JSON (`Content-Type` added unless the target sets one). */
export function jsonRequest(target: RequestTarget, body: unknown): DestinationRequest {
  const typed = Object.keys(target.headers).some((name) => name.toLowerCase() === 'content-type');
  return {
    method: target.method,
    url: target.url,
    headers: typed
      ? { ...target.headers }
      : { 'Content-Type': 'application/json', ...target.headers },
    body: JSON.stringify(body),
  };
}

/** `url` with `query` appended as a query string (values encoded). */
export function withQuery(url: string, query: Record<string, string | undefined>): string {
  const parsed = new URL(url);
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined) parsed.searchParams.set(name, value);
  }
  return parsed.toString();
}

/** `base` (an origin, maybe with a path) joined with `path`, with exactly one slash between. */
export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

/**
 * A key that groups requests which may share one batched request: same method, URL and headers,
 * plus any `parts` the destination adds (GA4 batches per client). Readable up to the path; the
 * query and headers, which can hold credentials, enter only through a hash.
 */
export function batchKey(target: RequestTarget, parts: readonly string[] = []): string {
  const headers = Object.entries(target.headers).sort(([a], [b]) => a.localeCompare(b));
  const identity = JSON.stringify([target.method, target.url, headers, parts]);
  // Consecutive requests of a destination mostly share their key: skip the URL parse and hash.
  if (identity !== lastKey.identity) {
    const url = new URL(target.url);
    const digest = sha256Hex(identity);
    lastKey = {
      identity,
      key: `${target.method} ${url.origin}${url.pathname} ${digest.slice(0, 16)}`,
    };
  }
  return lastKey.key;
}

let lastKey = { identity: '', key: '' };

/**
 * Batching for APIs that take one JSON body around an array of items: `envelope` builds that body
 * from the items (and the context, for credentials in the body).
 */
export function jsonBatching<Config>(options: {
  maxItems: number;
  maxBytes: number;
  envelope(items: unknown[], context: TransformContext<Config>): unknown;
}): Batching<Config> {
  return {
    maxItems: options.maxItems,
    maxBytes: options.maxBytes,
    combine(items, first, context) {
      const { method, url, headers } = first;
      return jsonRequest({ method, url, headers }, options.envelope(items, context));
    },
  };
}

/**
 * A request carrying `item` alone, built by `batching.combine` from `target`, and marked as
 * batchable under the key of `target` and `keyParts`.
 */
export function batchableRequest<Config>(
  batching: Batching<Config>,
  context: TransformContext<Config>,
  target: RequestTarget,
  item: unknown,
  options: { keyParts?: readonly string[]; limits?: BatchLimits } = {},
): DestinationRequest {
  const request = batching.combine([item], { ...target }, context);
  const key = batchKey(request, options.keyParts);
  return {
    ...request,
    batch: options.limits ? { key, item, limits: options.limits } : { key, item },
  };
}

/** The response body parsed as JSON, or undefined when it is not JSON. */
export function jsonBodyOf(response: DestinationResponse): unknown {
  try {
    return JSON.parse(response.body) as unknown;
  } catch {
    return undefined;
  }
}

/** A response header by case-insensitive name. */
export function headerOf(response: DestinationResponse, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(response.headers)) {
    if (key.toLowerCase() === wanted) return value;
  }
  return undefined;
}

/** At most `max` characters of a response body, for verdict reasons that end up in logs. */
export function excerpt(body: string, max = 300): string {
  const flat = body.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max)}…`;
}
