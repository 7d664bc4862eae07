/**
 * The Iterable destination (api.iterable.com or api.eu.iterable.com, the `Api-Key` header):
 * identify updates the user's profile, track tracks a custom event, `Order Completed` tracks a
 * purchase (`POST /api/commerce/trackPurchase`). Users are identified as the project's type
 * requires (see users.ts).
 *
 * `api: bulk` (default) sends every profile update to `POST /api/users/bulkUpdate` and every event
 * to `POST /api/events/trackBulk`, batched, one item or many; `api: single` sends each to
 * `POST /api/users/update` and `POST /api/events/track`. Never both for one destination: Iterable
 * processes its bulk and single endpoints separately, so mixing them can reorder a user's events
 * and leave a profile inconsistent ("only use single-user calls or bulk update calls").
 */
import { z } from 'zod';
import type { SegmentEvent } from '../../src/event';
import { defineDestination, type DestinationRequest, type TransformContext } from '../destination';
import { secret } from '../shared/config';
import { eventNameOf } from '../shared/events';
import {
  batchableRequest,
  jsonBodyOf,
  jsonRequest,
  type Batching,
  type RequestTarget,
} from '../shared/requests';
import { specEventKey } from '../shared/spec-events';
import { epochSeconds, recordOf, type JsonObject } from '../shared/values';
import { bulkVerdict } from './bulk-failures';
import { iterableIdOf, purchaseOf } from './purchase';
import { dataFieldsOf, eventUserOf, userOf, type IterableUser } from './users';

const HOSTS = { us: 'https://api.iterable.com', eu: 'https://api.eu.iterable.com' } as const;

/**
 * bulkUpdate: "Max size of request body: 4MB"; trackBulk states no limit, and gets the same.
 * Iterable states no item count: 1,000 keeps a failed request's retry small.
 */
const MAX_ITEMS = 1000;
const MAX_BYTES = 4_000_000 - 100_000;

export const IterableConfig = z.strictObject({
  /** A server-side API key of the project. */
  apiKey: secret(),
  /** The project's data center: US (USDC) or EU (EDC); a key works only in its own. */
  dataCenter: z.enum(['us', 'eu']).default('us'),
  /** How the project identifies users, chosen when it was created. */
  projectType: z.enum(['hybrid', 'userId', 'email']).default('hybrid'),
  /** Bulk endpoints, batched (10 and 5 requests/s), or single ones (2,000 and 500 requests/s). */
  api: z.enum(['bulk', 'single']).default('bulk'),
});

export type IterableConfig = z.infer<typeof IterableConfig>;

type Context = TransformContext<IterableConfig>;

/** The envelope a bulk endpoint takes its items in. */
const batching: Batching<IterableConfig> = {
  maxItems: MAX_ITEMS,
  maxBytes: MAX_BYTES,
  combine(items, first) {
    const { method, url, headers } = first;
    const users = new URL(url).pathname === '/api/users/bulkUpdate';
    return jsonRequest({ method, url, headers }, users ? { users: items } : { events: items });
  },
};

function target(config: IterableConfig, path: string): RequestTarget {
  return {
    method: 'POST',
    url: `${HOSTS[config.dataCenter]}${path}`,
    headers: { 'Api-Key': config.apiKey },
  };
}

/** One item of the project's API: batchable to the bulk endpoint, or alone to the single one. */
function itemRequest(
  context: Context,
  paths: { bulk: string; single: string },
  item: JsonObject,
): DestinationRequest {
  const { config } = context;
  if (config.api === 'single') return jsonRequest(target(config, paths.single), item);
  return batchableRequest(batching, context, target(config, paths.bulk), item);
}

function userUpdate(event: SegmentEvent, user: IterableUser, context: Context) {
  const dataFields = dataFieldsOf(event, user);
  return itemRequest(
    context,
    { bulk: '/api/users/bulkUpdate', single: '/api/users/update' },
    { ...user, ...(Object.keys(dataFields).length ? { dataFields } : {}) },
  );
}

function trackEvent(event: SegmentEvent, user: IterableUser, name: string, context: Context) {
  return itemRequest(
    context,
    { bulk: '/api/events/trackBulk', single: '/api/events/track' },
    {
      ...eventUserOf(user),
      eventName: name,
      id: iterableIdOf(event.messageId),
      createdAt: epochSeconds(event.timestamp),
      dataFields: recordOf(event.properties),
    },
  );
}

function requestsOf(event: SegmentEvent, context: Context): DestinationRequest[] {
  const { config } = context;
  // Users the project cannot identify (anonymous ones, in most projects) are not sent.
  const user = userOf(event, config.projectType);
  if (!user) return [];
  if (event.type === 'identify') return [userUpdate(event, user, context)];
  if (event.type !== 'track') return [];
  const name = eventNameOf(event);
  if (specEventKey(name) === 'order completed') {
    const purchase = purchaseOf(event, user);
    // An order without a product Iterable can record is kept as a custom event.
    if (purchase) {
      return [jsonRequest(target(config, '/api/commerce/trackPurchase'), purchase)];
    }
  }
  return [trackEvent(event, user, name, context)];
}

export const iterable = defineDestination<IterableConfig>({
  type: 'iterable',
  kind: 'tool',
  integrationName: 'Iterable',
  configSchema: IterableConfig,
  supportedTypes: ['identify', 'track'],
  transform: requestsOf,
  batching,
  credentialsOf: (config) => [config.apiKey],
  interpretResponse(response, sent) {
    // Bulk answers 200 naming the items that failed; every other answer is judged by status.
    if (response.status !== 200 || sent.items.length === 0) return undefined;
    return bulkVerdict(jsonBodyOf(response), sent.items);
  },
});
