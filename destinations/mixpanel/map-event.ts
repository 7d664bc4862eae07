/**
 * Segment events as Mixpanel's objects: events for /import (docs.mixpanel.com/reference/import-events:
 * `time`, `distinct_id`, `$insert_id` required), profile updates for /engage and group updates for
 * /groups. Identity follows the project's ID Merge API: Simplified links `$device_id` and
 * `$user_id` (docs "Identifying Users (Simplified)"), Original uses `$identify` / `$create_alias`.
 */
import type { SegmentEvent } from '../../src/event';
import { revenueOf } from '../shared/ecommerce';
import { fieldsFrom, pageOf, personOf } from '../shared/events';
import { specEventKey } from '../shared/spec-events';
import { traitsByOperation, vendorOperations, type TraitLists } from '../shared/trait-operations';
import { renameTraits, userTraits } from '../shared/traits';
import {
  compact,
  epochMillis,
  recordOf,
  sha256Hex,
  stringOf,
  type JsonObject,
} from '../shared/values';

export type IdentityMerge = 'simplified' | 'original';

/** Mixpanel's reserved properties, as far as the Segment context states them outright. */
const CONTEXT_PROPERTIES = {
  $os: 'context.os.name',
  $os_version: 'context.os.version',
  $app_version_string: 'context.app.version',
  $app_build_number: 'context.app.build',
  $manufacturer: 'context.device.manufacturer',
  $model: 'context.device.model',
  $carrier: 'context.network.carrier',
  $wifi: 'context.network.wifi',
  $screen_width: 'context.screen.width',
  $screen_height: 'context.screen.height',
  $current_url: 'context.page.url',
  $referrer: 'context.page.referrer',
  $city: 'context.location.city',
  $region: 'context.location.region',
  utm_source: 'context.campaign.source',
  utm_medium: 'context.campaign.medium',
  utm_campaign: 'context.campaign.name',
  utm_term: 'context.campaign.term',
  utm_content: 'context.campaign.content',
  // Mixpanel geolocates from `ip` (and drops it); without it /import would use Sluice's address.
  ip: 'context.ip',
} as const;

/** Segment's reserved traits under Mixpanel's reserved profile property names. */
export const PROFILE_TRAITS = {
  email: '$email',
  firstName: '$first_name',
  lastName: '$last_name',
  name: '$name',
  phone: '$phone',
  avatar: '$avatar',
  createdAt: '$created',
} as const;

/** Values Mixpanel refuses as ids because they usually mean a bug (import-events docs). */
const INVALID_IDS = new Set([
  '00000000-0000-0000-0000-000000000000',
  'anon',
  'anonymous',
  'nil',
  'none',
  'null',
  'n/a',
  'na',
  'undefined',
  'unknown',
  '<nil>',
  '0',
  '-1',
  'true',
  'false',
  '[]',
  '{}',
]);

/**
 * `$insert_id`: at most 36 letters, digits or dashes. A messageId that does not fit is replaced
 * by the first 36 hex digits of its SHA-256, the same for every retry of the event.
 */
export function insertIdOf(messageId: string): string {
  const fits = /^[A-Za-z0-9-]{1,36}$/.test(messageId) && !INVALID_IDS.has(messageId.toLowerCase());
  return fits ? messageId : sha256Hex(messageId).slice(0, 36);
}

/**
 * The distinct_id and identity properties of an event. Simplified ID Merge: the userId, else
 * `$device:<anonymousId>` (the id Mixpanel gives an anonymous device's events), with `$user_id`
 * and `$device_id` so that the first event carrying both merges them. Original: userId, else
 * anonymousId.
 */
export function identityOf(event: SegmentEvent, merge: IdentityMerge): JsonObject {
  const { userId, anonymousId } = personOf(event, 'Mixpanel');
  if (merge === 'original') return { distinct_id: userId ?? anonymousId };
  return compact({
    distinct_id: userId ?? `$device:${anonymousId}`,
    $user_id: userId,
    $device_id: anonymousId,
  });
}

/** An /import event: context properties, then the event's, then the required ones. */
export function importEventOf(
  event: SegmentEvent,
  name: string,
  merge: IdentityMerge,
  properties: JsonObject = recordOf(event.properties),
): JsonObject {
  const page = event.type === 'page' ? compact({ $current_url: pageOf(event).url }) : {};
  return {
    event: name,
    properties: {
      ...fieldsFrom(event, CONTEXT_PROPERTIES),
      ...page,
      ...properties,
      ...identityOf(event, merge),
      time: epochMillis(event.timestamp),
      $insert_id: insertIdOf(event.messageId),
    },
  };
}

/** An /import identity event (`$identify`, `$create_alias`) with its own properties. */
export function identityEventOf(event: SegmentEvent, name: string, properties: JsonObject) {
  return {
    event: name,
    properties: {
      ...properties,
      time: epochMillis(event.timestamp),
      $insert_id: insertIdOf(event.messageId),
    },
  };
}

/** An /engage update of the event's user profile with one operation (`$set`, `$union`). */
export function profileUpdateOf(
  event: SegmentEvent,
  token: string,
  merge: IdentityMerge,
  operation: Record<string, unknown>,
): JsonObject {
  const ip = stringOf(event.context?.ip);
  return {
    $token: token,
    $distinct_id: identityOf(event, merge).distinct_id,
    ...operation,
    // Locates the profile at the user's address, not at Sluice's (the request's).
    ...(ip ? { $ip: ip } : {}),
  };
}

/** Mixpanel's /engage operations for the traits config names (Set Property Once, ...). */
const OPERATION_NAMES = {
  setOnce: '$set_once',
  increment: '$add',
  append: '$append',
  union: '$union',
} as const;

/**
 * An identify's /engage updates: the `$set` of its traits, then one update per other operation
 * that config names traits for (Mixpanel's updates carry one operation each). Reserved traits are
 * renamed in every one. `$union` merges lists: a single value is unioned as a list of one.
 */
export function identifyUpdatesOf(
  event: SegmentEvent,
  token: string,
  merge: IdentityMerge,
  lists: TraitLists,
): JsonObject[] {
  const split = traitsByOperation(userTraits(event), lists);
  const operations: Array<[string, JsonObject]> = [
    ['$set', split.set],
    ...vendorOperations(split, OPERATION_NAMES),
  ];
  return operations.map(([operation, traits]) => {
    const values = operation === '$union' ? listsOf(traits) : traits;
    return profileUpdateOf(event, token, merge, {
      [operation]: renameTraits(values, PROFILE_TRAITS),
    });
  });
}

/** Each value as a list: lists as they are, any other value as a list of one. */
function listsOf(traits: JsonObject): JsonObject {
  return Object.fromEntries(
    Object.entries(traits).map(([name, value]) => [name, Array.isArray(value) ? value : [value]]),
  );
}

/**
 * An `Order Completed`'s charge on the user's profile, as Mixpanel's libraries record one
 * (`track_charge`): an `$append` to the `$transactions` list, with the order's revenue (else its
 * total) as `$amount` and its time as `$time` (UTC, to the second). None for an order without
 * either amount.
 */
export function chargeOf(
  event: SegmentEvent,
  token: string,
  merge: IdentityMerge,
): JsonObject | undefined {
  if (specEventKey(event.event ?? '') !== 'order completed') return undefined;
  const amount = revenueOf(event.properties);
  const ms = epochMillis(event.timestamp);
  if (amount === undefined || ms === undefined) return undefined;
  const charge = { $time: new Date(ms).toISOString().slice(0, 19), $amount: amount };
  return profileUpdateOf(event, token, merge, { $append: { $transactions: charge } });
}
