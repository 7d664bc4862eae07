/**
 * Segment's reserved identify traits (spec: identify.md), read under either spelling SDKs use
 * (`firstName` or `first_name`), and renamed to a vendor's profile fields by a table the
 * destination declares. Traits the table does not name pass through unchanged.
 */
import type { SegmentEvent } from '../../src/event';
import { isRecord, recordOf, stringOf, type JsonObject } from './values';

export type ReservedTrait =
  | 'address'
  | 'age'
  | 'avatar'
  | 'birthday'
  | 'company'
  | 'createdAt'
  | 'description'
  | 'email'
  | 'firstName'
  | 'gender'
  | 'id'
  | 'lastName'
  | 'name'
  | 'phone'
  | 'title'
  | 'username'
  | 'website';

/** `firstName` → `first_name`. */
function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

/** The spellings a trait may arrive under, camelCase first (it wins when both are present). */
function spellingsOf(name: string): string[] {
  const snake = snakeCase(name);
  return snake === name ? [name] : [name, snake];
}

/** The value of a reserved trait under either spelling (`firstName` or `first_name`). */
export function traitOf(traits: unknown, name: string): unknown {
  const record = recordOf(traits);
  for (const key of spellingsOf(name)) {
    if (record[key] !== undefined && record[key] !== null) return record[key];
  }
  return undefined;
}

/**
 * Traits with the reserved ones in `renames` moved to the vendor's field name (`null`: dropped,
 * because the destination maps them itself). Both spellings of a renamed trait are removed.
 */
export function renameTraits(
  traits: unknown,
  renames: Partial<Record<ReservedTrait, string | null>>,
): JsonObject {
  const result: JsonObject = { ...recordOf(traits) };
  const renamed: JsonObject = {};
  for (const [name, target] of Object.entries(renames)) {
    const value = traitOf(result, name);
    for (const key of spellingsOf(name)) delete result[key];
    if (target !== null && target !== undefined && value !== undefined) renamed[target] = value;
  }
  return { ...result, ...renamed };
}

export interface Address {
  city?: string;
  country?: string;
  postalCode?: string;
  state?: string;
  street?: string;
}

/** The `address` trait's fields, under either spelling. */
export function addressOf(traits: unknown): Address {
  const address = traitOf(traits, 'address');
  if (!isRecord(address)) return {};
  const field = (name: keyof Address) => stringOf(traitOf(address, name));
  return {
    city: field('city'),
    country: field('country'),
    postalCode: field('postalCode'),
    state: field('state'),
    street: field('street'),
  };
}

/**
 * A user's traits as an event carries them: `traits` and `context.traits`, the explicit `traits`
 * winning. RudderStack's browser and mobile SDKs send identify traits in `context.traits` only,
 * and Segment's spec puts the user's traits there on every other call.
 */
export function userTraits(event: Pick<SegmentEvent, 'traits' | 'context'>): JsonObject {
  return { ...recordOf(event.context?.traits), ...recordOf(event.traits) };
}

/** Segment's reserved traits that identify a person: contact details, names, birthday, address. */
const PERSONAL_TRAITS: readonly ReservedTrait[] = [
  'address',
  'birthday',
  'email',
  'firstName',
  'lastName',
  'name',
  'phone',
  'username',
];

/**
 * The traits without those that identify a person, under either spelling, for vendors whose
 * terms forbid receiving them (Google Analytics: no personally identifiable information).
 */
export function withoutPersonalTraits(traits: unknown): JsonObject {
  return renameTraits(traits, Object.fromEntries(PERSONAL_TRAITS.map((name) => [name, null])));
}
