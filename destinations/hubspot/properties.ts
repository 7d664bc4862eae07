/**
 * Segment data as HubSpot property values: contact properties from a user's traits (Segment's
 * reserved traits as HubSpot's default contact properties, others as configured) and custom event
 * properties from an event's properties. HubSpot takes every property value as a string
 * (developers.hubspot.com, CRM objects and "Send event occurrences"), and multiple-checkbox values
 * as `a;b`; internal names are lower-case letters, digits and `_`, starting with a letter.
 */
import type { SegmentEvent } from '../../src/event';
import { addressOf, renameTraits, userTraits } from '../shared/traits';
import { isRecord, recordOf, stringOf, valueAt, type JsonObject } from '../shared/values';

/** Properties HubSpot takes per event occurrence ("New property limits", HubSpot changelog). */
export const MAX_EVENT_PROPERTIES = 50;

/** HubSpot limits property internal names to 50 characters. */
const MAX_NAME_LENGTH = 50;

/**
 * Segment's reserved traits as HubSpot's default contact properties; `null`: read below (address,
 * company) or not sent, as HubSpot has no default property for them.
 */
const DEFAULT_PROPERTIES = {
  email: 'email',
  firstName: 'firstname',
  lastName: 'lastname',
  phone: 'phone',
  title: 'jobtitle',
  website: 'website',
  address: null,
  company: null,
  age: null,
  avatar: null,
  birthday: null,
  createdAt: null,
  description: null,
  gender: null,
  id: null,
  name: null,
  username: null,
} as const;

/** A value as HubSpot stores it: text, numbers and booleans written out, lists joined by `;`. */
export function propertyValue(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    const parts = value.map(stringOf);
    return parts.every((part) => part !== undefined) ? parts.join(';') : undefined;
  }
  return stringOf(value);
}

/** `Plan Name` → `plan_name`; undefined when no valid internal name remains. */
export function propertyName(name: string): string | undefined {
  const normalized = name
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .slice(0, MAX_NAME_LENGTH);
  return /^[a-z]/.test(normalized) ? normalized : undefined;
}

/** Sets `name` to the value's HubSpot form, when it has one. */
function put(properties: Record<string, string>, name: string, value: unknown): void {
  const text = propertyValue(value);
  if (text !== undefined) properties[name] = text;
}

/**
 * A contact's properties from the event's traits: HubSpot's default properties from the reserved
 * traits, the traits named in `mapped` (trait path → property), and with `allTraits` every other
 * trait under its normalized name.
 */
export function contactPropertiesOf(
  event: SegmentEvent,
  mapped: Readonly<Record<string, string>>,
  allTraits: boolean,
): Record<string, string> {
  const traits = userTraits(event);
  const properties: Record<string, string> = {};
  const renamed = renameTraits(traits, DEFAULT_PROPERTIES);
  const standard = new Set<string>(Object.values(DEFAULT_PROPERTIES).flatMap((name) => name ?? []));
  for (const [key, value] of Object.entries(renamed)) {
    if (standard.has(key)) put(properties, key, value);
    else if (allTraits && !Object.hasOwn(mapped, key)) {
      const name = propertyName(key);
      if (name) put(properties, name, value);
    }
  }
  const company = isRecord(traits.company) ? traits.company.name : traits.company;
  put(properties, 'company', company);
  const address = addressOf(traits);
  const addressFields = {
    address: address.street,
    city: address.city,
    state: address.state,
    zip: address.postalCode,
    country: address.country,
  };
  for (const [name, value] of Object.entries(addressFields)) put(properties, name, value);
  for (const [path, name] of Object.entries(mapped)) put(properties, name, valueAt(traits, path));
  return properties;
}

/**
 * An event occurrence's properties: the `mapped` ones (event property path → HubSpot property)
 * when the event's mapping names them, else every property under its normalized name, the first
 * MAX_EVENT_PROPERTIES of them.
 */
export function eventPropertiesOf(
  source: JsonObject,
  mapped: Readonly<Record<string, string>> | undefined,
): Record<string, string> {
  const properties: Record<string, string> = {};
  if (mapped) {
    for (const [path, name] of Object.entries(mapped)) put(properties, name, valueAt(source, path));
    return properties;
  }
  for (const [key, value] of Object.entries(recordOf(source))) {
    if (Object.keys(properties).length >= MAX_EVENT_PROPERTIES) break;
    const name = propertyName(key);
    if (name && !Object.hasOwn(properties, name)) put(properties, name, value);
  }
  return properties;
}
