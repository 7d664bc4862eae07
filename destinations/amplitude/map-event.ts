/**
 * One Segment event as Amplitude HTTP V2 event objects (amplitude.com/docs/apis/analytics/http-v2,
 * "Keys for the event argument"): ids, time, insert_id, device and location from the context,
 * revenue fields, and the `$identify` / `$groupidentify` events Amplitude's own SDKs send to set
 * user and group properties through the same endpoint.
 */
import type { SegmentEvent } from '../../src/event';
import { DestinationMappingError } from '../destination';
import { eventNameOf, fieldsFrom, personOf, viewEventName, type ViewNames } from '../shared/events';
import { userTraits } from '../shared/traits';
import {
  epochMillis,
  firstNumber,
  firstString,
  numberOf,
  recordOf,
  valueAt,
  type JsonObject,
} from '../shared/values';

export interface AmplitudeMapping {
  minIdLength: number;
  pageNames: ViewNames;
  screenNames: ViewNames;
  groupType: string;
}

/** Event keys filled straight from the Segment context. */
const CONTEXT_FIELDS = {
  app_version: 'context.app.version',
  os_name: 'context.os.name',
  os_version: 'context.os.version',
  device_manufacturer: 'context.device.manufacturer',
  device_model: 'context.device.model',
  carrier: 'context.network.carrier',
  country: 'context.location.country',
  region: 'context.location.region',
  city: 'context.location.city',
  location_lat: 'context.location.latitude',
  location_lng: 'context.location.longitude',
  language: 'context.locale',
  ip: 'context.ip',
} as const;

/** Amplitude's platform names for Segment's `context.device.type`. */
const PLATFORMS = new Map([
  ['ios', 'iOS'],
  ['android', 'Android'],
  ['web', 'Web'],
]);

/**
 * The platforms an app's `context.os.name` tells (Segment's and RudderStack's mobile SDKs name the
 * OS even where they send no `device.type`). A desktop OS name tells nothing: a browser sends one.
 */
const MOBILE_OS_PLATFORMS = new Map([
  ['android', 'Android'],
  ['ios', 'iOS'],
  ['ipados', 'iOS'],
  ['iphone os', 'iOS'],
]);

/** The Amplitude events (one, or two for a group call) an event becomes. */
export function amplitudeEventsOf(event: SegmentEvent, mapping: AmplitudeMapping): JsonObject[] {
  const base = baseOf(event, mapping.minIdLength);
  switch (event.type) {
    case 'track':
      return [
        {
          ...base,
          event_type: eventNameOf(event),
          event_properties: recordOf(event.properties),
          ...revenueOf(event),
        },
      ];
    case 'page':
    case 'screen':
      return [
        {
          ...base,
          event_type: viewEventName(
            event,
            event.type === 'page' ? mapping.pageNames : mapping.screenNames,
          ),
          event_properties: recordOf(event.properties),
        },
      ];
    case 'identify':
      return [{ ...base, event_type: '$identify', user_properties: { $set: userTraits(event) } }];
    case 'group': {
      // The user joins the group (as Amplitude's setGroup does), then the group gets its traits.
      const groups = { [mapping.groupType]: event.groupId };
      return [
        {
          ...base,
          event_type: '$identify',
          groups,
          user_properties: { $set: groups },
        },
        {
          ...base,
          insert_id: `${event.messageId}-group`,
          event_type: '$groupidentify',
          groups,
          group_properties: { $set: recordOf(event.traits) },
        },
      ];
    }
    default:
      return [];
  }
}

/**
 * Ids, time, dedup id and context. Amplitude drops a user_id or device_id shorter than
 * `min_id_length` (sent in the request's options) and rejects the whole request when an event is
 * left with neither, so short ids are dropped here first and an event without a usable id fails
 * alone instead of taking its batch down.
 */
function baseOf(event: SegmentEvent, minIdLength: number): JsonObject {
  const person = personOf(event, 'Amplitude');
  const usable = (id: string | undefined) => (id && id.length >= minIdLength ? id : undefined);
  const userId = usable(person.userId);
  const deviceId = usable(person.anonymousId);
  if (!userId && !deviceId) {
    throw new DestinationMappingError(
      `Amplitude ignores ids shorter than ${minIdLength} characters (minIdLength), and this event has no longer userId or anonymousId`,
    );
  }
  const base: JsonObject = {
    ...(userId ? { user_id: userId } : {}),
    ...(deviceId ? { device_id: deviceId } : {}),
    time: epochMillis(event.timestamp),
    insert_id: event.messageId,
    ...fieldsFrom(event, CONTEXT_FIELDS),
  };
  const platform = platformOf(event);
  if (platform) base.platform = platform;
  const advertisingId = firstString(valueAt(event.context, 'device.advertisingId'));
  if (advertisingId && platform === 'iOS') base.idfa = advertisingId;
  if (advertisingId && platform === 'Android') base.adid = advertisingId;
  const library = firstString(valueAt(event.context, 'library.name'));
  if (library) {
    const version = firstString(valueAt(event.context, 'library.version'));
    base.library = version ? `${library}/${version}` : library;
  }
  // Segment's convention for Amplitude sessions: integrations.Amplitude.session_id (ms).
  const sessionId = numberOf(valueAt(event.integrations, 'Amplitude.session_id'));
  if (sessionId !== undefined) base.session_id = sessionId;
  return base;
}

/**
 * Amplitude's `platform` (its SDKs send `iOS`, `Android` or `Web`): the device type, else the
 * mobile OS an app names, else Web for an event with a browser's user agent. An app's HTTP client
 * sends a user agent too, which is why the OS is asked first.
 */
function platformOf(event: SegmentEvent): string | undefined {
  const deviceType = firstString(valueAt(event.context, 'device.type'))?.toLowerCase();
  if (deviceType) return PLATFORMS.get(deviceType) ?? deviceType;
  const os = firstString(valueAt(event.context, 'os.name'))?.toLowerCase();
  const mobile = os && MOBILE_OS_PLATFORMS.get(os);
  if (mobile) return mobile;
  return valueAt(event.context, 'userAgent') !== undefined ? 'Web' : undefined;
}

/**
 * Amplitude's revenue keys, for events that report `revenue` (or an `Order Completed` with only a
 * `total`). A `price` there is sent too, with `quantity` (default 1): Amplitude then counts
 * price × quantity. A `price` alone (`Product Viewed`) is not revenue and stays a property.
 */
function revenueOf(event: SegmentEvent): JsonObject {
  const properties = recordOf(event.properties);
  const revenue = firstNumber(
    properties.revenue,
    event.event === 'Order Completed' ? properties.total : undefined,
  );
  if (revenue === undefined) return {};
  const fields: JsonObject = { revenue };
  const price = numberOf(properties.price);
  if (price !== undefined)
    Object.assign(fields, { price, quantity: numberOf(properties.quantity) ?? 1 });
  const productId = firstString(properties.productId, properties.product_id, properties.sku);
  if (productId) fields.productId = productId;
  const revenueType = firstString(properties.revenueType, properties.revenue_type);
  if (revenueType) fields.revenueType = revenueType;
  return fields;
}
