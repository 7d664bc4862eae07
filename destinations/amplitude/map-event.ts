/**
 * One Segment event as Amplitude HTTP V2 event objects (amplitude.com/docs/apis/analytics/http-v2,
 * "Keys for the event argument"): ids, time, insert_id, device and location from the context,
 * revenue fields, and the `$identify` / `$groupidentify` events Amplitude's own SDKs send to set
 * user and group properties through the same endpoint.
 */
import type { SegmentEvent } from '../../src/event';
import { DestinationMappingError } from '../destination';
import { eventNameOf, fieldsFrom, personOf, viewEventName, type ViewNames } from '../shared/events';
import { traitsByOperation, vendorOperations, type TraitLists } from '../shared/trait-operations';
import { userTraits } from '../shared/traits';
import {
  epochMillis,
  firstString,
  numberOf,
  recordOf,
  valueAt,
  type JsonObject,
} from '../shared/values';
import { withRevenue, type RevenuePer } from './revenue';

export interface AmplitudeMapping extends TraitLists {
  minIdLength: number;
  pageNames: ViewNames;
  screenNames: ViewNames;
  groupType: string;
  revenuePer: RevenuePer;
}

/**
 * Amplitude's names of the trait operations. It has no union: `$postInsert` adds the values a list
 * lacks (at its end) and leaves the ones it has, which is a union.
 */
const OPERATION_NAMES = {
  setOnce: '$setOnce',
  increment: '$add',
  append: '$append',
  union: '$postInsert',
} as const;

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

/**
 * The Amplitude events an event becomes: one; two for a group call; an order counted per product,
 * one more per product (see revenue.ts).
 */
export function amplitudeEventsOf(event: SegmentEvent, mapping: AmplitudeMapping): JsonObject[] {
  const base = baseOf(event, mapping.minIdLength);
  switch (event.type) {
    case 'track': {
      const tracked = {
        ...base,
        event_type: eventNameOf(event),
        event_properties: recordOf(event.properties),
      };
      return withRevenue(event, tracked, mapping.revenuePer);
    }
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
      return [
        { ...base, event_type: '$identify', user_properties: userPropertiesOf(event, mapping) },
      ];
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
 * An identify's user property operations: the traits config names for an operation under it, the
 * others in `$set` (a property takes one operation per update).
 */
function userPropertiesOf(event: SegmentEvent, lists: TraitLists): JsonObject {
  const split = traitsByOperation(userTraits(event), lists);
  return { $set: split.set, ...Object.fromEntries(vendorOperations(split, OPERATION_NAMES)) };
}
