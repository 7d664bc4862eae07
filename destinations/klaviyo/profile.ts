/**
 * A Segment user as the attributes of a Klaviyo profile resource (Create or Update Profile, and the
 * `profile` of Create Event): the identifiers (`external_id` from the userId, `email`,
 * `phone_number`), Klaviyo's standard fields from Segment's reserved traits, `location` from the
 * address trait and the event's context, and every other trait under `properties`.
 */
import type { SegmentEvent } from '../../src/event';
import { addressOf, renameTraits, traitOf, userTraits } from '../shared/traits';
import {
  compact,
  firstString,
  isRecord,
  stringOf,
  valueAt,
  type JsonObject,
} from '../shared/values';

/** Reserved traits that become standard profile fields, not `properties`. */
const STANDARD_TRAITS = {
  email: null,
  phone: null,
  firstName: null,
  lastName: null,
  title: null,
  avatar: null,
  company: null,
  address: null,
  // The userId is the profile's external_id; an `id` trait would only repeat it.
  id: null,
} as const;

/** The identifiers Klaviyo finds a profile by. */
const IDENTIFIERS = ['external_id', 'email', 'phone_number', 'anonymous_id'] as const;

/**
 * The profile attributes of the event's user. `anonymousId` adds the `anonymous_id` identifier,
 * which events' profiles take and Create or Update Profile does not.
 */
export function profileOf(event: SegmentEvent, options: { anonymousId: boolean }): JsonObject {
  const traits = userTraits(event);
  const text = (name: string) => stringOf(traitOf(traits, name));
  const company = traitOf(traits, 'company');
  const address = addressOf(traits);
  const location = compact({
    address1: address.street,
    city: address.city,
    region: address.state,
    zip: address.postalCode,
    country: address.country,
    timezone: firstString(valueAt(event.context, 'timezone')),
    ip: firstString(valueAt(event.context, 'ip')),
  });
  const properties = renameTraits(traits, STANDARD_TRAITS);
  return compact({
    external_id: firstString(event.userId),
    email: text('email'),
    phone_number: text('phone'),
    anonymous_id: options.anonymousId ? firstString(event.anonymousId) : undefined,
    first_name: text('firstName'),
    last_name: text('lastName'),
    organization: isRecord(company) ? stringOf(company.name) : stringOf(company),
    title: text('title'),
    image: text('avatar'),
    locale: firstString(valueAt(event.context, 'locale')),
    location: Object.keys(location).length ? location : undefined,
    properties: Object.keys(properties).length ? properties : undefined,
  });
}

/** True when the attributes carry an identifier Klaviyo can find or create a profile by. */
export function hasIdentifier(attributes: JsonObject): boolean {
  return IDENTIFIERS.some((identifier) => attributes[identifier] !== undefined);
}
