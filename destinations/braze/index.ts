/**
 * The Braze destination, through `POST /users/track` on the workspace's REST endpoint with a
 * Bearer REST API key: identify updates user attributes, track logs custom events, page and
 * screen views are custom events named like `Viewed {name} Page`, `Order Completed` logs one
 * purchase per product, and a group call whose groupId is mapped to a subscription group sets
 * the user's state in it. Users are their userId (external_id); anonymous users get an alias
 * (alias_name = anonymousId) or are not sent, by config. An identify that carries both ids
 * merges the alias into the identified user (`/users/identify`); alias merges the previous user
 * into the new one (`/users/identify` for Sluice's alias-only user, `/users/merge` for a
 * previous userId).
 *
 * Batching: /users/track takes at most 75 attribute, 75 event and 75 purchase objects. Every
 * batchable request carries at most one object of each kind, so 75 requests combine into one
 * within every limit; an order of several purchases is sent as its own requests instead.
 *
 * Attributes are sent as the event carries them, changed or not: skipping unchanged ones needs
 * to know what Braze holds, which Sluice cannot (see destinations/README.md, Braze).
 */
import { z } from 'zod';
import type { SegmentEvent } from '../../src/event';
import {
  defineDestination,
  DestinationMappingError,
  type DestinationRequest,
  type TransformContext,
  type Verdict,
} from '../destination';
import { httpsUrl, secret, viewNames } from '../shared/config';
import { eventNameOf, viewEventName } from '../shared/events';
import {
  batchableRequest,
  excerpt,
  joinUrl,
  jsonBatching,
  jsonBodyOf,
  jsonRequest,
  type RequestTarget,
} from '../shared/requests';
import { firstString, isRecord, type JsonObject } from '../shared/values';
import { indexIn, perItemVerdict } from '../shared/verdicts';
import {
  attributesOf,
  eventObjectOf,
  purchasesOf,
  subscriptionObjectOf,
  type BrazeIdentity,
} from './objects';

/** Objects of each kind per /users/track request. */
const MAX_OBJECTS = 75;
/** Braze states no byte limit for /users/track; this keeps a request far from proxy limits. */
const MAX_BYTES = 4 * 1000 * 1000;

export const BrazeConfig = z.strictObject({
  /** The REST endpoint of the workspace's cluster, e.g. https://rest.iad-01.braze.com. */
  restEndpoint: httpsUrl(),
  /**
   * A REST API key with the users.track permission, and users.identify and users.merge for
   * anonymous users' aliases and for alias calls.
   */
  apiKey: secret(),
  /** Sent as `app_id` with events and purchases, when set. */
  appId: z.string().min(1).optional(),
  /** Events without a userId: sent for an alias-only user (`alias`) or not at all (`drop`). */
  anonymousUsers: z.enum(['alias', 'drop']).default('alias'),
  aliasLabel: z.string().min(1).default('anonymous_id'),
  /** Names of the custom events page and screen views become (`{name}`, `{category}`). */
  pageNames: viewNames('Page'),
  screenNames: viewNames('Screen'),
  /**
   * The product field a purchase's `product_id` is: the product's `name` (Braze's suggestion),
   * its `category`, or its `id` (product_id, else sku).
   */
  purchaseProductId: z.enum(['name', 'category', 'id']).default('name'),
  /** Segment groupIds whose group calls set the user's state in a Braze subscription group. */
  subscriptionGroups: z.record(z.string().min(1), z.string().min(1)).default({}),
});

export type BrazeConfig = z.infer<typeof BrazeConfig>;

type Context = TransformContext<BrazeConfig>;

/** One request's share of a /users/track body: at most one object of each kind. */
interface TrackFragment {
  attributes?: JsonObject[];
  events?: JsonObject[];
  purchases?: JsonObject[];
}

const KINDS = ['attributes', 'events', 'purchases'] as const;

const batching = jsonBatching<BrazeConfig>({
  maxItems: MAX_OBJECTS,
  maxBytes: MAX_BYTES,
  envelope(items) {
    const body: Record<string, JsonObject[]> = {};
    for (const kind of KINDS) {
      const objects = (items as TrackFragment[]).flatMap((item) => item[kind] ?? []);
      if (objects.length) body[kind] = objects;
    }
    return body;
  },
});

function target(config: BrazeConfig, path: string): RequestTarget {
  return {
    method: 'POST',
    url: joinUrl(config.restEndpoint, path),
    headers: { Authorization: `Bearer ${config.apiKey}` },
  };
}

/** The Braze user an event is about, or undefined when it is anonymous and not sent. */
function identityOf(event: SegmentEvent, config: BrazeConfig): BrazeIdentity | undefined {
  const userId = firstString(event.userId);
  if (userId) return { external_id: userId };
  const anonymousId = firstString(event.anonymousId);
  if (!anonymousId || config.anonymousUsers === 'drop') return undefined;
  // Braze only updates existing alias-only users unless told to create them.
  return {
    user_alias: { alias_name: anonymousId, alias_label: config.aliasLabel },
    _update_existing_only: false,
  };
}

function trackRequest(context: Context, fragment: TrackFragment): DestinationRequest {
  return batchableRequest(batching, context, target(context.config, '/users/track'), fragment);
}

/** Purchases of an order: batchable when there is one, else sent in chunks of 75. */
function purchaseRequests(context: Context, purchases: JsonObject[]): DestinationRequest[] {
  if (purchases.length === 1) return [trackRequest(context, { purchases })];
  const requests: DestinationRequest[] = [];
  for (let start = 0; start < purchases.length; start += MAX_OBJECTS) {
    const chunk = purchases.slice(start, start + MAX_OBJECTS);
    requests.push(jsonRequest(target(context.config, '/users/track'), { purchases: chunk }));
  }
  return requests;
}

/**
 * `/users/identify`: the alias-only user Sluice made of `anonymousId` becomes (is merged into)
 * the user `userId`.
 */
function identifyAlias(
  config: BrazeConfig,
  userId: string,
  anonymousId: string,
): DestinationRequest {
  return jsonRequest(target(config, '/users/identify'), {
    aliases_to_identify: [
      {
        external_id: userId,
        user_alias: { alias_name: anonymousId, alias_label: config.aliasLabel },
      },
    ],
    merge_behavior: 'merge',
  });
}

/**
 * Alias: the previous user is merged into the new one. A previousId that is the event's
 * anonymousId names the alias-only user Sluice made of it (merged by `/users/identify`; none
 * exists when anonymous users are dropped); any other previousId is a userId, an external_id
 * merged by `/users/merge` (whose two users must be referenced the same way).
 */
function aliasRequests(event: SegmentEvent, config: BrazeConfig): DestinationRequest[] {
  const userId = firstString(event.userId);
  const previousId = firstString(event.previousId);
  if (!userId || !previousId) {
    throw new DestinationMappingError(
      'Braze merges users on alias, which needs a userId and a previousId',
    );
  }
  if (previousId === userId) return [];
  if (previousId === firstString(event.anonymousId)) {
    return config.anonymousUsers === 'alias' ? [identifyAlias(config, userId, previousId)] : [];
  }
  return [
    jsonRequest(target(config, '/users/merge'), {
      merge_updates: [
        {
          identifier_to_merge: { external_id: previousId },
          identifier_to_keep: { external_id: userId },
        },
      ],
    }),
  ];
}

function customEventRequest(
  event: SegmentEvent,
  context: Context,
  identity: BrazeIdentity,
  name: string,
): DestinationRequest {
  const object = eventObjectOf(event, identity, name, context.config.appId);
  return trackRequest(context, { events: [object] });
}

function requestsOf(event: SegmentEvent, context: Context): DestinationRequest[] {
  const { config } = context;
  if (event.type === 'alias') return aliasRequests(event, config);
  const identity = identityOf(event, config);
  if (!identity) return [];
  switch (event.type) {
    case 'identify': {
      const requests: DestinationRequest[] = [];
      const anonymousId = firstString(event.anonymousId);
      if (event.userId && anonymousId && config.anonymousUsers === 'alias') {
        // The alias-only user's data moves to the identified user before its attributes change.
        requests.push(identifyAlias(config, event.userId, anonymousId));
      }
      requests.push(trackRequest(context, { attributes: [attributesOf(event, identity)] }));
      return requests;
    }
    case 'page':
    case 'screen': {
      const names = event.type === 'page' ? config.pageNames : config.screenNames;
      return [customEventRequest(event, context, identity, viewEventName(event, names))];
    }
    case 'group': {
      const groupId = firstString(event.groupId);
      const subscriptionGroupId = groupId && config.subscriptionGroups[groupId];
      if (!subscriptionGroupId) return [];
      const object = subscriptionObjectOf(event, identity, subscriptionGroupId);
      return [trackRequest(context, { attributes: [object] })];
    }
    case 'track': {
      const name = eventNameOf(event);
      if (name === 'Order Completed') {
        const purchases = purchasesOf(event, identity, {
          appId: config.appId,
          productKey: config.purchaseProductId,
        });
        if (purchases.length) return purchaseRequests(context, purchases);
        // No product Braze can log as a purchase: the order is kept as a custom event.
      }
      return [customEventRequest(event, context, identity, name)];
    }
    default:
      return [];
  }
}

export const braze = defineDestination<BrazeConfig>({
  type: 'braze',
  kind: 'tool',
  integrationName: 'Braze',
  configSchema: BrazeConfig,
  supportedTypes: ['identify', 'track', 'page', 'screen', 'group', 'alias'],
  transform: requestsOf,
  batching,
  credentialsOf: (config) => [config.apiKey],
  interpretResponse(response, sent) {
    // 2xx with `errors`: Braze processed the valid objects and dropped the listed ones; a 4xx is
    // fatal for the whole request and judged by its status.
    if (response.status < 200 || response.status >= 300) return undefined;
    const body = jsonBodyOf(response);
    if (!isRecord(body) || !Array.isArray(body.errors) || body.errors.length === 0) {
      return undefined;
    }
    const dropped = droppedItems(body.errors, sent.items as TrackFragment[]);
    if (!dropped) {
      return {
        outcome: 'abort',
        reason:
          `Braze dropped ${body.errors.length} object(s) and processed the others` +
          ` (replaying would log those again): ${excerpt(JSON.stringify(body.errors))}`,
      };
    }
    const verdicts = new Map<number, Verdict>(
      [...dropped].map(([item, errors]) => [
        item,
        { outcome: 'abort', reason: `Braze dropped the object: ${excerpt(errors.join('; '))}` },
      ]),
    );
    return perItemVerdict(sent.items.length, verdicts, { outcome: 'ok' });
  },
});

/**
 * The items whose objects Braze dropped, with its errors, from `errors[]` entries naming the
 * array (`input_array`) and the object's index in it; undefined when an error names no object of
 * the request (its objects are unknown, so every item is judged by the whole response).
 */
function droppedItems(
  errors: unknown[],
  items: TrackFragment[],
): Map<number, string[]> | undefined {
  const dropped = new Map<number, string[]>();
  for (const error of errors) {
    if (!isRecord(error)) return undefined;
    const kind = KINDS.find((name) => name === error.input_array);
    // Which item each object of the request body's `kind` array came from, in order.
    const owners = kind ? items.flatMap((item, index) => (item[kind] ?? []).map(() => index)) : [];
    const position = indexIn(error.index, owners.length);
    if (position === undefined) return undefined;
    const item = owners[position];
    dropped.set(item, [...(dropped.get(item) ?? []), `${kind} ${String(error.type ?? 'error')}`]);
  }
  return dropped;
}
