/**
 * The Braze destination: identify updates user attributes, track logs custom events, and
 * `Order Completed` logs one purchase per product, all through `POST /users/track` on the
 * workspace's REST endpoint with a Bearer REST API key. Users are their userId (external_id);
 * anonymous users get an alias (alias_name = anonymousId) or are not sent, by config, and an
 * identify that carries both ids merges the alias into the identified user (`/users/identify`).
 *
 * Batching: /users/track takes at most 75 attribute, 75 event and 75 purchase objects. Every
 * batchable request carries at most one object of each kind, so 75 requests combine into one
 * within every limit; an order of several products is sent as its own requests instead.
 */
import { z } from 'zod';
import type { SegmentEvent } from '../../src/event';
import {
  defineDestination,
  type DestinationRequest,
  type TransformContext,
  type Verdict,
} from '../destination';
import { httpsUrl, secret } from '../shared/config';
import { eventNameOf } from '../shared/events';
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
import { attributesOf, eventObjectOf, purchasesOf, type BrazeIdentity } from './objects';

/** Objects of each kind per /users/track request. */
const MAX_OBJECTS = 75;
/** Braze states no byte limit for /users/track; this keeps a request far from proxy limits. */
const MAX_BYTES = 4 * 1000 * 1000;

export const BrazeConfig = z.strictObject({
  /** The REST endpoint of the workspace's cluster, e.g. https://rest.iad-01.braze.com. */
  restEndpoint: httpsUrl(),
  /** A REST API key with the users.track (and, for aliases, users.identify) permission. */
  apiKey: secret(),
  /** Sent as `app_id` with events and purchases, when set. */
  appId: z.string().min(1).optional(),
  /** Events without a userId: sent for an alias-only user (`alias`) or not at all (`drop`). */
  anonymousUsers: z.enum(['alias', 'drop']).default('alias'),
  aliasLabel: z.string().min(1).default('anonymous_id'),
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

function requestsOf(event: SegmentEvent, context: Context): DestinationRequest[] {
  const { config } = context;
  const identity = identityOf(event, config);
  if (!identity) return [];
  if (event.type === 'identify') {
    const requests: DestinationRequest[] = [];
    const anonymousId = firstString(event.anonymousId);
    if (event.userId && anonymousId && config.anonymousUsers === 'alias') {
      // The alias-only user's data moves to the identified user before its attributes change.
      requests.push(
        jsonRequest(target(config, '/users/identify'), {
          aliases_to_identify: [
            {
              external_id: event.userId,
              user_alias: { alias_name: anonymousId, alias_label: config.aliasLabel },
            },
          ],
          merge_behavior: 'merge',
        }),
      );
    }
    requests.push(trackRequest(context, { attributes: [attributesOf(event, identity)] }));
    return requests;
  }
  if (event.type !== 'track') return [];
  const name = eventNameOf(event);
  if (name === 'Order Completed') {
    const purchases = purchasesOf(event, identity, config.appId);
    if (purchases.length) return purchaseRequests(context, purchases);
    // No product Braze can log as a purchase: the order is kept as a custom event.
  }
  return [trackRequest(context, { events: [eventObjectOf(event, identity, name, config.appId)] })];
}

export const braze = defineDestination<BrazeConfig>({
  type: 'braze',
  kind: 'tool',
  integrationName: 'Braze',
  configSchema: BrazeConfig,
  supportedTypes: ['identify', 'track'],
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
