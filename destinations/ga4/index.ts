/**
 * The Google Analytics 4 destination, through the Measurement Protocol for web streams
 * (`/mp/collect?measurement_id=&api_secret=`, EU collection on region1.google-analytics.com):
 * Segment e-commerce events become GA4 recommended events with `items[]`, other track events
 * snake_case custom events, pages `page_view`, groups `join_group`. Up to 25 events of one
 * client and user share a request.
 *
 * GA4 answers 2xx to every well-formed request, valid or not, and drops invalid events without a
 * word (only /debug/mp/collect reports them). So the rules are enforced here (see params.ts), and
 * a 2xx from GA4 means "received", not "recorded". Events older than 72 hours are dropped too.
 */
import { z } from 'zod';
import type { SegmentEvent } from '../../src/event';
import { defineDestination, DestinationMappingError } from '../destination';
import { secret } from '../shared/config';
import { userTraits } from '../shared/traits';
import { eventNameOf, pageOf } from '../shared/events';
import { batchableRequest, jsonBatching, withQuery } from '../shared/requests';
import {
  compact,
  epochMicros,
  firstString,
  omit,
  recordOf,
  valueAt,
  type JsonObject,
} from '../shared/values';
import { eventParams, userProperties } from './params';
import { trackEventOf } from './recommended-events';

const HOSTS = {
  global: 'https://www.google-analytics.com',
  eu: 'https://region1.google-analytics.com',
} as const;

/** A request holds at most 25 events and must be smaller than 130 kB. */
const MAX_EVENTS = 25;
const MAX_BYTES = 130_000 - 4_096;

export const Ga4Config = z.strictObject({
  measurementId: z.string().regex(/^G-[A-Z0-9]{4,20}$/, 'must be a GA4 measurement id (G-...)'),
  apiSecret: secret(),
  /** `eu`: collect in the EU (region1.google-analytics.com). */
  region: z.enum(['global', 'eu']).default('global'),
  /** Where the event holds the gtag client id (a dotted path): the web client's `_ga` id. */
  clientIdPath: z.string().min(1).default('anonymousId'),
  /** For events without a client id: use the userId as one instead of failing the event. */
  userIdAsClientId: z.boolean().default(false),
  /**
   * GA4 has no identify: when set, an identify sends this event carrying the traits as user
   * properties; unset, identify calls send nothing.
   */
  identifyEventName: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9_]{0,39}$/, 'must be a valid GA4 event name')
    .optional(),
});

export type Ga4Config = z.infer<typeof Ga4Config>;

/** One event's part of a request; requests combine the items of one client and user. */
interface Ga4Item {
  client_id: string;
  user_id?: string;
  event: JsonObject;
  user_properties?: JsonObject;
}

const batching = jsonBatching<Ga4Config>({
  maxItems: MAX_EVENTS,
  maxBytes: MAX_BYTES,
  envelope(items) {
    const ga4Items = items as Ga4Item[];
    const userProperties = Object.assign({}, ...ga4Items.map((item) => item.user_properties));
    return compact({
      client_id: ga4Items[0].client_id,
      user_id: ga4Items[0].user_id,
      user_properties: Object.keys(userProperties).length ? userProperties : undefined,
      events: ga4Items.map((item) => item.event),
    });
  },
});

/** The GA4 event of a Segment event, or undefined when it sends nothing. */
function ga4EventOf(event: SegmentEvent, config: Ga4Config): JsonObject | undefined {
  const properties = recordOf(event.properties);
  switch (event.type) {
    case 'track': {
      const { name, params, custom } = trackEventOf(eventNameOf(event), properties);
      return { name, params: eventParams(params, custom) };
    }
    case 'page': {
      const page = pageOf(event);
      const standard = compact({
        page_location: page.url,
        page_title: page.title ?? firstString(event.name),
        page_referrer: page.referrer,
      });
      const custom = omit(properties, ['url', 'title', 'referrer', 'path', 'search', 'name']);
      return { name: 'page_view', params: eventParams(standard, custom) };
    }
    case 'group':
      return { name: 'join_group', params: eventParams({ group_id: event.groupId }) };
    case 'identify':
      return config.identifyEventName ? { name: config.identifyEventName, params: {} } : undefined;
    default:
      return undefined;
  }
}

/** The gtag client id: at `clientIdPath`, else (if allowed) the userId. */
function clientIdOf(event: SegmentEvent, config: Ga4Config): string {
  const clientId =
    firstString(valueAt(event, config.clientIdPath)) ??
    (config.userIdAsClientId ? firstString(event.userId) : undefined);
  if (clientId === undefined) {
    throw new DestinationMappingError(
      `GA4 needs a client id, and the event has none at "${config.clientIdPath}"`,
    );
  }
  return clientId;
}

export const ga4 = defineDestination<Ga4Config>({
  type: 'ga4',
  kind: 'tool',
  integrationName: 'Google Analytics 4',
  configSchema: Ga4Config,
  supportedTypes: ['track', 'page', 'group', 'identify'],
  transform(event, context) {
    const { config } = context;
    const ga4Event = ga4EventOf(event, config);
    if (!ga4Event) return [];
    const userId = firstString(event.userId);
    const item: Ga4Item = {
      client_id: clientIdOf(event, config),
      ...(userId ? { user_id: userId } : {}),
      event: { ...ga4Event, timestamp_micros: epochMicros(event.timestamp) },
    };
    if (event.type === 'identify') item.user_properties = userProperties(userTraits(event));
    const url = withQuery(`${HOSTS[config.region]}/mp/collect`, {
      measurement_id: config.measurementId,
      api_secret: config.apiSecret,
    });
    return [
      batchableRequest(batching, context, { method: 'POST', url, headers: {} }, item, {
        keyParts: [item.client_id, userId ?? ''],
      }),
    ];
  },
  batching,
  credentialsOf: (config) => [config.apiSecret],
});
