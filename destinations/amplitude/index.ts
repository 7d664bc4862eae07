/**
 * The Amplitude destination: every event type but alias goes to one endpoint, the HTTP V2 API
 * (or, by config, the Batch Event Upload API, which takes the same JSON and throttles per user
 * less), in the US or EU data centre. Identify and group become `$identify` / `$groupidentify`
 * events there rather than calls to the separate Identify and Group Identify APIs, so a user's
 * property updates and events travel in one request and keep their order.
 */
import { z } from 'zod';
import {
  defineDestination,
  type DestinationResponse,
  type ResponseVerdict,
  type Verdict,
} from '../destination';
import { secret, viewNames } from '../shared/config';
import { oneOperationPerTrait, traitListFields } from '../shared/trait-operations';
import { batchableRequest, headerOf, jsonBatching, jsonBodyOf } from '../shared/requests';
import { isRecord, recordOf } from '../shared/values';
import { indexIn, perItemVerdict } from '../shared/verdicts';
import { amplitudeEventsOf } from './map-event';

const BASE_URLS = { us: 'https://api2.amplitude.com', eu: 'https://api.eu.amplitude.com' } as const;
const PATHS = { httpapi: '/2/httpapi', batch: '/batch' } as const;

/**
 * HTTP V2 takes fewer than 2000 events and under 1 MB per request (Batch Event Upload: 20 MB);
 * the byte limit is the smaller of the two APIs', less room for the envelope. An item (one Segment
 * event) holds one or two events (a group call), hence 999 items; items holding more (an order
 * counted per product) batch apart, fewer to a request (see slotOf).
 */
const MAX_EVENTS = 1999;
const EVENTS_PER_ITEM = 2;
const MAX_ITEMS = Math.floor(MAX_EVENTS / EVENTS_PER_ITEM);
const MAX_BYTES = 1_000_000 - 16_384;

/** Amplitude asks senders to pause a throttled user or device for 30 s. */
const THROTTLE_PAUSE_MS = 30_000;
/** A user or device over its daily event quota stays throttled for hours. */
const DAILY_QUOTA_PAUSE_MS = 60 * 60_000;

export const AmplitudeConfig = z
  .strictObject({
    apiKey: secret(),
    residency: z.enum(['us', 'eu']).default('us'),
    /** `batch`: the Batch Event Upload API, for high-volume users and backfills. */
    api: z.enum(['httpapi', 'batch']).default('httpapi'),
    /** Amplitude's min_id_length: shorter user and device ids are dropped (its default is 5). */
    minIdLength: z.number().int().min(1).max(100).default(5),
    pageNames: viewNames('Page'),
    screenNames: viewNames('Screen'),
    /** The group type a Segment group call's groupId belongs to (Accounts add-on). */
    groupType: z.string().min(1).default('company'),
    /** Revenue counted once per order, or per product of `products[]` (see revenue.ts). */
    revenuePer: z.enum(['order', 'product']).default('order'),
    /** Identify traits sent with `$add`, `$setOnce`, `$append` and `$postInsert`, not `$set`. */
    ...traitListFields(),
  })
  .superRefine(oneOperationPerTrait);

export type AmplitudeConfig = z.infer<typeof AmplitudeConfig>;

const batching = jsonBatching<AmplitudeConfig>({
  maxItems: MAX_ITEMS,
  maxBytes: MAX_BYTES,
  envelope: (items, { config }) => ({
    api_key: config.apiKey,
    events: items.flat(),
    options: { min_id_length: config.minIdLength },
  }),
});

export const amplitude = defineDestination<AmplitudeConfig>({
  type: 'amplitude',
  kind: 'tool',
  integrationName: 'Amplitude',
  configSchema: AmplitudeConfig,
  supportedTypes: ['identify', 'track', 'page', 'screen', 'group'],
  transform(event, context) {
    const { config } = context;
    const events = amplitudeEventsOf(event, config);
    if (events.length === 0) return [];
    const url = `${BASE_URLS[config.residency]}${PATHS[config.api]}`;
    const target = { method: 'POST' as const, url, headers: {} };
    return [batchableRequest(batching, context, target, events, slotOf(events.length))];
  },
  batching,
  credentialsOf: (config) => [config.apiKey],
  interpretResponse(response, sent) {
    if (response.status === 429) return throttled(response, sent.items);
    if (response.status === 400) return rejected(response, sent.items);
    return undefined;
  },
});

/**
 * How an item of `eventCount` events batches: items of up to two events share the default key;
 * larger ones batch with items of the same size class (a power of two), few enough to a request
 * that their events stay under Amplitude's limit.
 */
function slotOf(eventCount: number): { keyParts?: string[]; limits?: { maxItems: number } } {
  if (eventCount <= EVENTS_PER_ITEM) return {};
  const sizeClass = 2 ** Math.ceil(Math.log2(eventCount));
  return {
    keyParts: [`${sizeClass} events`],
    limits: { maxItems: Math.floor(MAX_EVENTS / sizeClass) },
  };
}

/** An event of a request body as Amplitude identifies it in its answers. */
interface SentEvent {
  /** The item (Segment event) it came from: an item holds one or two events. */
  item: number;
  user_id?: unknown;
  device_id?: unknown;
}

/** The request body's events, in order, each with the item it came from. */
function eventsOf(items: readonly unknown[]): SentEvent[] {
  return items.flatMap((events, item) =>
    (events as Array<Record<string, unknown>>).map((event) => ({
      item,
      user_id: event.user_id,
      device_id: event.device_id,
    })),
  );
}

/** The pause Amplitude asks for, unless a Retry-After header says otherwise (the router's). */
function pauseOf(response: DestinationResponse, overQuota: boolean): number | undefined {
  if (headerOf(response, 'retry-after')) return undefined;
  return overQuota ? DAILY_QUOTA_PAUSE_MS : THROTTLE_PAUSE_MS;
}

const THROTTLED = 'Amplitude throttled a user or device in the request';
const OVER_QUOTA = 'Amplitude: a user or device exceeded its daily event quota';

/**
 * 429: Amplitude rejected the request because of some users or devices (`throttled_events`
 * indexes, `throttled_users` / `throttled_devices`, `exceeded_daily_quota_users` / `_devices`).
 * Their events pause (30 s, or an hour over a daily quota); the other events were not taken
 * either and are sent again soon, without them. When no event can be told, all pause.
 */
function throttled(response: DestinationResponse, items: readonly unknown[]): ResponseVerdict {
  const body = recordOf(jsonBodyOf(response));
  const listed = new Set(Array.isArray(body.throttled_events) ? body.throttled_events : []);
  const [users, devices, quotaUsers, quotaDevices] = [
    body.throttled_users,
    body.throttled_devices,
    body.exceeded_daily_quota_users,
    body.exceeded_daily_quota_devices,
  ].map((map) => new Set(Object.keys(recordOf(map))));
  const of = (ids: Set<string>, id: unknown) => typeof id === 'string' && ids.has(id);
  const paused = new Map<number, Verdict>();
  eventsOf(items).forEach((event, index) => {
    const overQuota = of(quotaUsers, event.user_id) || of(quotaDevices, event.device_id);
    const throttledEvent =
      listed.has(index) || of(users, event.user_id) || of(devices, event.device_id);
    if (overQuota || (throttledEvent && !paused.has(event.item))) {
      const reason = overQuota ? OVER_QUOTA : THROTTLED;
      paused.set(event.item, { outcome: 'retry', reason, afterMs: pauseOf(response, overQuota) });
    }
  });
  if (paused.size === 0) {
    const overQuota = quotaUsers.size + quotaDevices.size > 0;
    return {
      outcome: 'retry',
      reason: overQuota ? OVER_QUOTA : THROTTLED,
      afterMs: pauseOf(response, overQuota),
    };
  }
  return perItemVerdict(items.length, paused, {
    outcome: 'retry',
    reason:
      'Amplitude refused the request for other users’ events (HTTP 429); sent again without them',
  });
}

/**
 * 400 naming events by index (`events_with_invalid_fields`, `events_with_missing_fields`,
 * `silenced_events`, or a device in `silenced_devices`): those events are aborted, since sending
 * them again cannot help. Amplitude took none of the request, so the others are sent again
 * without them, as its docs ask (throttled ones after the pause). A 400 about the request itself
 * (`missing_field`, an invalid API key) aborts it whole by the router's rule.
 */
function rejected(
  response: DestinationResponse,
  items: readonly unknown[],
): ResponseVerdict | undefined {
  const body = jsonBodyOf(response);
  if (!isRecord(body) || body.missing_field) return undefined;
  const events = eventsOf(items);
  // Each refused item's problems: `note` answers false for an index outside the request.
  const problems = new Map<number, string[]>();
  const note = (index: unknown, problem: string): boolean => {
    const at = indexIn(index, events.length);
    if (at === undefined) return false;
    const { item } = events[at];
    problems.set(item, [...(problems.get(item) ?? []), problem]);
    return true;
  };
  const lists: Array<[unknown, string]> = [
    ...Object.entries(recordOf(body.events_with_invalid_fields)).map(
      ([field, indexes]): [unknown, string] => [indexes, `invalid ${field}`],
    ),
    ...Object.entries(recordOf(body.events_with_missing_fields)).map(
      ([field, indexes]): [unknown, string] => [indexes, `missing ${field}`],
    ),
    [body.silenced_events, 'its device is silenced'],
  ];
  for (const [indexes, problem] of lists) {
    // An index outside the request: the answer is not about these events; judge it whole.
    if (Array.isArray(indexes) && !indexes.every((index) => note(index, problem))) return undefined;
  }
  const silenced = new Set(Array.isArray(body.silenced_devices) ? body.silenced_devices : []);
  events.forEach((event, index) => {
    if (silenced.has(event.device_id)) note(index, 'its device is silenced');
  });
  const verdicts = new Map<number, Verdict>();
  for (const [item, found] of problems) {
    const reason = `Amplitude rejected the event: ${[...new Set(found)].join(', ')}`;
    verdicts.set(item, { outcome: 'abort', reason });
  }
  const throttledEvents = Array.isArray(body.throttled_events) ? body.throttled_events : [];
  for (const index of throttledEvents) {
    const at = indexIn(index, events.length);
    if (at === undefined || verdicts.has(events[at].item)) continue;
    verdicts.set(events[at].item, {
      outcome: 'retry',
      reason: THROTTLED,
      afterMs: pauseOf(response, false),
    });
  }
  if (verdicts.size === 0) return undefined;
  return perItemVerdict(items.length, verdicts, {
    outcome: 'retry',
    reason:
      'Amplitude refused the request for other events in it (HTTP 400); sent again without them',
  });
}
