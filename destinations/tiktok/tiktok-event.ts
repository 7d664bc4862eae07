/**
 * One Segment event as a TikTok Events API (2.0) event: `event` (a standard event for the spec
 * events TikTok has one for, the event's own name otherwise), `event_time` (seconds),
 * `event_id` = messageId (TikTok deduplicates it against the pixel's event_id), `user` (email,
 * phone and external id SHA-256 hashed; click id, cookie id, IP and user agent as they are),
 * `page` for web events, `app` for app events, and `properties` (value, currency, contents,
 * query, order id).
 */
import type { SegmentEvent } from '../../src/event';
import { conversionOf, mappedEventName, SPEC_CONVERSIONS } from '../shared/conversions';
import { eventNameOf, pageOf } from '../shared/events';
import { clickIdOf, contactOf, hashed, normalisedEmail, phoneDigits } from '../shared/user-data';
import { compact, epochSeconds, firstString, recordOf, stringOf, valueAt } from '../shared/values';

/** TikTok's event sources this destination sends: a pixel's web events, an app's events. */
export type EventSource = 'web' | 'app';

export interface TikTokMapping {
  pixelCode?: string;
  appId?: string;
  phoneCountryCode?: string;
  eventNames: Readonly<Record<string, string>>;
  pageEvent: string | null;
}

/** An event for one event source, and the source's id (pixel code or TikTok App ID). */
export interface SourcedEvent {
  source: { event_source: EventSource; event_source_id: string };
  event: Record<string, unknown>;
}

/** Events from an app's SDK (`context.device.type` ios or android) are app events. */
function isAppEvent(event: SegmentEvent): boolean {
  const type = firstString(valueAt(event.context, 'device.type'))?.toLowerCase();
  return type === 'ios' || type === 'android';
}

/**
 * The TikTok event for an event, with its source; undefined when there is nothing to send: a page
 * view with `pageEvent` off, an app event without an `appId`, a web event without a `pixelCode`.
 */
export function tiktokEventOf(
  event: SegmentEvent,
  mapping: TikTokMapping,
): SourcedEvent | undefined {
  if (event.type !== 'track' && event.type !== 'page') return undefined;
  if (event.type === 'page' && mapping.pageEvent === null) return undefined;
  const app = isAppEvent(event);
  const sourceId = app ? mapping.appId : mapping.pixelCode;
  if (!sourceId) return undefined;
  const segmentName = event.type === 'page' ? undefined : eventNameOf(event);
  const name =
    segmentName === undefined
      ? (mapping.pageEvent as string)
      : (mappedEventName(segmentName, SPEC_CONVERSIONS, mapping.eventNames) ?? segmentName);
  const page = pageOf(event);
  const context = recordOf(event.context);
  return {
    source: { event_source: app ? 'app' : 'web', event_source_id: sourceId },
    event: compact({
      event: name,
      event_time: epochSeconds(event.timestamp),
      event_id: event.messageId,
      user: userOf(event, mapping.phoneCountryCode),
      page: app ? undefined : compact({ url: page.url, referrer: page.referrer }),
      app: app
        ? compact({
            app_id: sourceId,
            app_name: stringOf(valueAt(context, 'app.name')),
            app_version: stringOf(valueAt(context, 'app.version')),
          })
        : undefined,
      properties: event.type === 'track' ? propertiesOf(event) : undefined,
    }),
  };
}

/** Who the event is about: hashed contact details, and the ids TikTok's pixel would read. */
function userOf(
  event: SegmentEvent,
  phoneCountryCode: string | undefined,
): Record<string, unknown> {
  const contact = contactOf(event);
  const email = contact.email === undefined ? undefined : normalisedEmail(contact.email);
  const phone =
    contact.phone === undefined ? undefined : phoneDigits(contact.phone, phoneCountryCode);
  const context = recordOf(event.context);
  return compact({
    email: hashed([email])[0],
    // E.164: the country code and number after a plus sign.
    phone: hashed([phone && `+${phone}`])[0],
    external_id: hashed(contact.externalIds.slice(0, 1))[0],
    ttclid: stringOf(context.ttclid) ?? clickIdOf(event, 'ttclid'),
    ttp: stringOf(context.ttp),
    ip: stringOf(context.ip),
    user_agent: stringOf(context.userAgent),
  });
}

/** The conversion: value, currency, contents, search query, order id. */
function propertiesOf(event: SegmentEvent): Record<string, unknown> | undefined {
  const conversion = conversionOf(event);
  const contents = conversion.products.map((product) =>
    compact({
      content_id: product.id ?? product.sku,
      content_type: 'product',
      content_name: product.name,
      content_category: product.category,
      brand: product.brand,
      price: product.price,
      quantity: product.quantity,
    }),
  );
  const properties = compact({
    value: conversion.value,
    currency: conversion.currency,
    contents: contents.length ? contents : undefined,
    query: conversion.query,
    order_id: conversion.orderId,
    description: stringOf(recordOf(event.properties).description),
  });
  return Object.keys(properties).length ? properties : undefined;
}
