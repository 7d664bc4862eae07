/**
 * The Google Analytics 4 destination, through the Measurement Protocol (`/mp/collect`, EU
 * collection on region1.google-analytics.com) to a web stream (gtag.js: `measurement_id`,
 * `client_id`) and/or a Firebase app stream (`firebase_app_id`, `app_instance_id`): Segment
 * e-commerce events become GA4 recommended events with `items[]`, other track events snake_case
 * custom events, pages `page_view`, screens `screen_view`, groups `join_group`. Every event
 * carries the user's traits as user properties, the session the SDK provides, and the consent
 * the config maps from the event's. Up to 25 events of one device, user and consent share a
 * request.
 *
 * GA4 answers 2xx to every well-formed request, valid or not, and drops invalid events without a
 * word (only /debug/mp/collect reports them). So the rules are enforced here (see params.ts), and
 * a 2xx from GA4 means "received", not "recorded". Events older than 72 hours are dropped too.
 */
import type { SegmentEvent } from '../../src/event';
import { defineDestination } from '../destination';
import { eventNameOf, pageOf } from '../shared/events';
import { batchableRequest, jsonBatching } from '../shared/requests';
import { userTraits } from '../shared/traits';
import {
  compact,
  epochMicros,
  firstString,
  omit,
  recordOf,
  type JsonObject,
} from '../shared/values';
import { Ga4Config } from './config';
import { consentOf } from './consent';
import { eventParams, MAX_USER_PROPERTIES, userProperties } from './params';
import { trackEventOf } from './recommended-events';
import { INTEGRATION_NAME, sessionParams } from './session';
import { streamOf, type Ga4Device } from './streams';

export { Ga4Config } from './config';

/** A request holds at most 25 events and must be smaller than 130 kB. */
const MAX_EVENTS = 25;
const MAX_BYTES = 130_000 - 4_096;

/**
 * One event's part of a request; a request combines the items of one device, user and consent
 * (the batch key says so), so the first item's stand for all.
 */
interface Ga4Item {
  device: Ga4Device;
  user_id?: string;
  consent?: JsonObject;
  event: JsonObject;
  user_properties?: JsonObject;
}

/**
 * The user properties of a request's events: a later event's value wins, and past GA4's 25
 * names the first 25 by name are kept (each event's own are already at most 25).
 */
function mergedUserProperties(items: readonly Ga4Item[]): JsonObject | undefined {
  const merged: JsonObject = Object.assign({}, ...items.map((item) => item.user_properties));
  const names = Object.keys(merged).sort();
  if (!names.length) return undefined;
  return Object.fromEntries(
    names.slice(0, MAX_USER_PROPERTIES).map((name) => [name, merged[name]]),
  );
}

const batching = jsonBatching<Ga4Config>({
  maxItems: MAX_EVENTS,
  maxBytes: MAX_BYTES,
  envelope(items) {
    const ga4Items = items as Ga4Item[];
    const [first] = ga4Items;
    return compact({
      ...first.device,
      user_id: first.user_id,
      consent: first.consent,
      user_properties: mergedUserProperties(ga4Items),
      events: ga4Items.map((item) => item.event),
    });
  },
});

/** The parameters of an event: its own, then the session's, then its other properties. */
function paramsOf(event: SegmentEvent, standard: JsonObject, custom: JsonObject): JsonObject {
  return eventParams({ ...standard, ...sessionParams(event) }, custom);
}

/** The GA4 event of a Segment event, or undefined when it sends nothing. */
function ga4EventOf(event: SegmentEvent, config: Ga4Config): JsonObject | undefined {
  const properties = recordOf(event.properties);
  switch (event.type) {
    case 'track': {
      const { name, params, custom } = trackEventOf(eventNameOf(event), properties);
      return { name, params: paramsOf(event, params, custom) };
    }
    case 'page': {
      const page = pageOf(event);
      const standard = compact({
        page_location: page.url,
        page_title: page.title ?? firstString(event.name),
        page_referrer: page.referrer,
      });
      const custom = omit(properties, ['url', 'title', 'referrer', 'path', 'search', 'name']);
      return { name: 'page_view', params: paramsOf(event, standard, custom) };
    }
    case 'screen': {
      const standard = compact({ screen_name: firstString(event.name, properties.name) });
      return { name: 'screen_view', params: paramsOf(event, standard, omit(properties, ['name'])) };
    }
    case 'group':
      return { name: 'join_group', params: paramsOf(event, { group_id: event.groupId }, {}) };
    case 'identify':
      return config.identifyEventName ? { name: config.identifyEventName, params: {} } : undefined;
    default:
      return undefined;
  }
}

/** The user's traits; a group's own traits describe the group, not the user. */
function traitsOf(event: SegmentEvent): JsonObject {
  return userTraits(event.type === 'group' ? { context: event.context } : event);
}

export const ga4 = defineDestination<Ga4Config>({
  type: 'ga4',
  kind: 'tool',
  integrationName: INTEGRATION_NAME,
  configSchema: Ga4Config,
  supportedTypes: ['track', 'page', 'screen', 'group', 'identify'],
  transform(event, context) {
    const { config } = context;
    const ga4Event = ga4EventOf(event, config);
    if (!ga4Event) return [];
    const { url, device } = streamOf(event, config);
    const userId = firstString(event.userId);
    const consent = consentOf(event, config.consent);
    const properties = userProperties(traitsOf(event));
    const item: Ga4Item = {
      device,
      ...(userId ? { user_id: userId } : {}),
      ...(consent ? { consent } : {}),
      event: { ...ga4Event, timestamp_micros: epochMicros(event.timestamp) },
      ...(Object.keys(properties).length ? { user_properties: properties } : {}),
    };
    return [
      batchableRequest(batching, context, { method: 'POST', url, headers: {} }, item, {
        keyParts: [JSON.stringify(device), userId ?? '', JSON.stringify(consent ?? {})],
      }),
    ];
  },
  batching,
  credentialsOf: (config) =>
    [config.apiSecret, config.firebaseApiSecret].filter(
      (secret): secret is string => secret !== undefined,
    ),
});
