/**
 * One Segment event as a Meta Conversions API server event (developers.facebook.com/docs/
 * marketing-api/conversions-api/parameters): `event_name` (a standard event for the spec events
 * Meta has one for, the event's own name otherwise), `event_time`, `event_id` = messageId (Meta
 * deduplicates it against the pixel's eventID), `action_source`, `event_source_url`,
 * `user_data` (customer information, hashed where Meta requires it), `custom_data` and, for app
 * events, `app_data`.
 *
 * Events Meta would refuse fail here, alone, instead of in Meta's answer, where one invalid event
 * rejects its whole batch: an `event_time` over 7 days before the event was received, a website
 * event without the browser's user agent or URL, an event with no customer information, a
 * Purchase without a value.
 */
import type { SegmentEvent } from '../../src/event';
import { DestinationMappingError } from '../destination';
import { conversionOf, mappedEventName, SPEC_CONVERSIONS } from '../shared/conversions';
import { eventNameOf, pageOf } from '../shared/events';
import {
  birthDateDigits,
  clickIdOf,
  contactOf,
  hashed,
  normalisedCity,
  normalisedEmail,
  normalisedGender,
  normalisedName,
  normalisedState,
  normalisedZip,
  phoneDigits,
} from '../shared/user-data';
import {
  compact,
  epochMillis,
  firstString,
  isRecord,
  recordOf,
  stringOf,
  valueAt,
  type JsonObject,
} from '../shared/values';

/** Where conversions happen, as Meta names it (`action_source`). */
export const ACTION_SOURCES = [
  'website',
  'app',
  'email',
  'phone_call',
  'chat',
  'physical_store',
  'system_generated',
  'business_messaging',
  'other',
] as const;

export type ActionSource = (typeof ACTION_SOURCES)[number];

export interface ServerEventMapping {
  actionSource: ActionSource;
  phoneCountryCode?: string;
  eventNames: Readonly<Record<string, string>>;
}

/** Spec events Meta has a standard event for (Meta's standard events reference). */
const STANDARD_EVENTS: Readonly<Record<string, string>> = {
  ...SPEC_CONVERSIONS,
  'Trial Started': 'StartTrial',
};

/** Meta takes events up to 7 days old; an older one fails its whole request. */
const MAX_AGE_MS = 7 * 24 * 3600_000;

/** Property names that may carry contact details, which Meta does not accept unhashed. */
const CONTACT_PROPERTY = /mail|phone|name|address|birth|zip|postal|^ip$/i;

/** The server event an event maps to, or undefined for events Meta has no use for. */
export function serverEventOf(
  event: SegmentEvent,
  mapping: ServerEventMapping,
): JsonObject | undefined {
  if (event.type !== 'track' && event.type !== 'page') return undefined;
  const eventMs = epochMillis(event.timestamp);
  if (eventMs === undefined) throw new DestinationMappingError('the event has no valid timestamp');
  const receivedMs = epochMillis(event.receivedAt) ?? eventMs;
  if (receivedMs - eventMs > MAX_AGE_MS) {
    throw new DestinationMappingError(
      'Meta takes events up to 7 days old, and this one happened more than 7 days before it was received',
    );
  }
  const name = event.type === 'page' ? 'PageView' : eventNameOf(event);
  const eventName =
    event.type === 'page'
      ? name
      : (mappedEventName(name, STANDARD_EVENTS, mapping.eventNames) ?? name);
  const actionSource = actionSourceOf(event, mapping.actionSource);
  const sourceUrl = pageOf(event).url;
  const userData = userDataOf(event, actionSource, eventMs, mapping.phoneCountryCode);
  if (actionSource === 'website' && (!userData.client_user_agent || !sourceUrl)) {
    throw new DestinationMappingError(
      'Meta requires the browser’s user agent (context.userAgent) and URL (context.page.url) for website events; set actionSource for events from servers',
    );
  }
  if (Object.keys(userData).length === 0) {
    throw new DestinationMappingError(
      'Meta needs at least one customer information parameter, and this event has none',
    );
  }
  const customData = customDataOf(event, eventName, name);
  if (eventName === 'Purchase' && customData.value === undefined) {
    throw new DestinationMappingError(
      'Meta requires a value for Purchase events (revenue, total or value), and this one has none',
    );
  }
  return compact({
    event_name: eventName,
    event_time: Math.floor(eventMs / 1000),
    event_id: event.messageId,
    action_source: actionSource,
    event_source_url: sourceUrl,
    user_data: userData,
    custom_data: Object.keys(customData).length ? customData : undefined,
    app_data: actionSource === 'app' ? appDataOf(event) : undefined,
  });
}

/** An app's SDK (`context.device.type` ios or android) makes an app event. */
function mobilePlatformOf(event: SegmentEvent): 'ios' | 'android' | undefined {
  const type = firstString(valueAt(event.context, 'device.type'))?.toLowerCase();
  return type === 'ios' || type === 'android' ? type : undefined;
}

/** `properties.action_source` when it is one of Meta's; app events `app`; else the config's. */
function actionSourceOf(event: SegmentEvent, configured: ActionSource): ActionSource {
  const given = firstString(valueAt(event.properties, 'action_source'));
  if (given && (ACTION_SOURCES as readonly string[]).includes(given)) return given as ActionSource;
  return mobilePlatformOf(event) ? 'app' : configured;
}

/** Customer information: contact details normalised and hashed, browser and device ids not. */
function userDataOf(
  event: SegmentEvent,
  actionSource: ActionSource,
  eventMs: number,
  phoneCountryCode: string | undefined,
): JsonObject {
  const contact = contactOf(event);
  const one = (value: string | undefined) => hashed([value])[0];
  const list = (values: string[]) => (values.length ? values : undefined);
  const text = (value: string | undefined, normalise: (text: string) => string | undefined) =>
    value === undefined ? undefined : normalise(value);
  const fbclid = clickIdOf(event, 'fbclid');
  const context = recordOf(event.context);
  const app = actionSource === 'app';
  return compact({
    em: list(hashed([text(contact.email, normalisedEmail)])),
    ph: list(hashed([text(contact.phone, (phone) => phoneDigits(phone, phoneCountryCode))])),
    fn: one(text(contact.firstName, normalisedName)),
    ln: one(text(contact.lastName, normalisedName)),
    ge: one(text(contact.gender, normalisedGender)),
    db: one(birthDateDigits(contact.birthday)),
    ct: one(text(contact.city, normalisedCity)),
    st: one(text(contact.state, normalisedState)),
    zp: one(text(contact.zip, (zip) => normalisedZip(zip, contact.country))),
    country: one(contact.country),
    external_id: list(hashed(contact.externalIds)),
    client_ip_address: stringOf(context.ip),
    client_user_agent: stringOf(context.userAgent),
    // A click id seen on the landing page, as Meta's fbc format wants it when no _fbc cookie
    // was read: subdomain index 1, the time it was seen (ms), the id unchanged.
    fbc: stringOf(context.fbc) ?? (fbclid ? `fb.1.${eventMs}.${fbclid}` : undefined),
    fbp: stringOf(context.fbp),
    madid: app ? stringOf(valueAt(context, 'device.advertisingId')) : undefined,
    anon_id: app ? stringOf(event.anonymousId) : undefined,
  });
}

/** Business data: value and currency, products, order id, search string. */
function customDataOf(event: SegmentEvent, eventName: string, segmentName: string): JsonObject {
  if (event.type === 'page') return {};
  const conversion = conversionOf(event);
  const properties = recordOf(event.properties);
  const identified = conversion.products.filter((product) => product.id ?? product.sku);
  const single = conversion.products.length === 1 ? conversion.products[0] : undefined;
  const mapped = compact({
    value: conversion.value,
    currency: conversion.currency,
    content_ids: identified.length ? identified.map((p) => p.id ?? p.sku) : undefined,
    contents: identified.length
      ? identified.map((p) =>
          compact({ id: p.id ?? p.sku, quantity: p.quantity ?? 1, item_price: p.price }),
        )
      : undefined,
    content_type: identified.length ? 'product' : undefined,
    content_name: single?.name,
    content_category: single?.category ?? conversion.category,
    num_items: eventName === 'InitiateCheckout' ? conversion.numItems : undefined,
    order_id: conversion.orderId,
    search_string: eventName === 'Search' ? conversion.query : undefined,
    status: eventName === 'CompleteRegistration' ? stringOf(properties.status) : undefined,
  });
  if (eventName !== segmentName) return mapped;
  // A custom event keeps its own scalar properties (custom properties), contact details aside.
  const custom = Object.fromEntries(
    Object.entries(properties).filter(
      ([key, value]) =>
        !CONTACT_PROPERTY.test(key) && !isRecord(value) && !Array.isArray(value) && value !== null,
    ),
  );
  return { ...custom, ...mapped };
}

/** Device data Meta requires for app events: tracking consent and extended device info. */
function appDataOf(event: SegmentEvent): JsonObject {
  const at = (path: string) => stringOf(valueAt(event.context, path)) ?? '';
  const tracking = valueAt(event.context, 'device.adTrackingEnabled') === true ? 1 : 0;
  // extinfo: all 16 values, in Meta's order, empty strings where unknown.
  const extinfo = [
    mobilePlatformOf(event) === 'ios' ? 'i2' : 'a2',
    at('app.namespace'),
    at('app.version'),
    at('app.build'),
    at('os.version'),
    at('device.model'),
    at('locale').replace('-', '_'),
    '',
    at('network.carrier'),
    at('screen.width'),
    at('screen.height'),
    at('screen.density'),
    '',
    '',
    '',
    at('timezone'),
  ];
  return { advertiser_tracking_enabled: tracking, extinfo };
}
