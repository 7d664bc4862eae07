/**
 * The webhook destination: every event, as Sluice stores it, sent as JSON to a URL of the user's
 * choosing. With `batchSize` 1 each event is one request whose body is the event object; with a
 * larger `batchSize` every request's body is a JSON array of events (one or more), so receivers
 * always see one shape. A user and password in the URL are sent as Basic auth (HTTP clients do
 * not send a URL's credentials), unless the headers set Authorization.
 */
import { z } from 'zod';
import { EVENT_TYPES } from '../../src/event';
import { defineDestination } from '../destination';
import { count, headerMap, httpUrl } from '../shared/config';
import {
  basicAuth,
  batchableRequest,
  jsonBatching,
  jsonRequest,
  type RequestTarget,
} from '../shared/requests';

/** Most events in one request; the config's `batchSize` chooses up to this. */
const MAX_BATCH_SIZE = 1000;

/**
 * A webhook has no vendor limit; this keeps one request a size that common HTTP servers and
 * proxies accept by default (many stop at 5-10 MB).
 */
const MAX_BATCH_BYTES = 4 * 1024 * 1024;

/** Headers that describe the body and never authenticate: not masked as credentials. */
const REPRESENTATION_HEADERS = new Set([
  'accept',
  'accept-encoding',
  'content-encoding',
  'content-type',
  'user-agent',
]);

export const WebhookConfig = z.strictObject({
  url: httpUrl(),
  method: z.enum(['POST', 'PUT', 'PATCH']).default('POST'),
  /** Sent with every request; `Content-Type` is application/json unless set here. */
  headers: headerMap().default({}),
  /** Events per request; 1 sends each event as an object, more send arrays. */
  batchSize: count(MAX_BATCH_SIZE).default(1),
});

export type WebhookConfig = z.infer<typeof WebhookConfig>;

const batching = jsonBatching<WebhookConfig>({
  maxItems: MAX_BATCH_SIZE,
  maxBytes: MAX_BATCH_BYTES,
  envelope: (items) => items,
});

export const webhook = defineDestination<WebhookConfig>({
  type: 'webhook',
  kind: 'tool',
  integrationName: 'Webhooks',
  configSchema: WebhookConfig,
  supportedTypes: EVENT_TYPES,
  transform(event, context) {
    const { config } = context;
    const target = targetOf(config);
    if (config.batchSize === 1) return [jsonRequest(target, event)];
    return [
      batchableRequest(batching, context, target, event, {
        limits: { maxItems: config.batchSize },
      }),
    ];
  },
  batching,
  // Which header or query parameter holds a secret is the user's choice: every value may.
  credentialsOf(config) {
    const url = new URL(config.url);
    const headers = Object.entries(config.headers)
      .filter(([name]) => !REPRESENTATION_HEADERS.has(name.toLowerCase()))
      .map(([, value]) => value);
    const userinfo = [url.username, url.password].map((part) => decodeURIComponent(part));
    return [...headers, ...url.searchParams.values(), ...userinfo].filter((value) => value);
  },
});

/** Where the config sends events: the URL without its user and password, sent as Basic auth. */
function targetOf(config: WebhookConfig): RequestTarget {
  const url = new URL(config.url);
  if (!url.username && !url.password) {
    return { method: config.method, url: config.url, headers: config.headers };
  }
  const user = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  url.username = '';
  url.password = '';
  const authorized = Object.keys(config.headers).some(
    (name) => name.toLowerCase() === 'authorization',
  );
  return {
    method: config.method,
    url: url.toString(),
    headers: authorized
      ? config.headers
      : { ...config.headers, Authorization: basicAuth(user, password) },
  };
}
