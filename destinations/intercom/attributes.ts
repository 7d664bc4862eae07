/**
 * Segment data as Intercom's objects (developers.intercom.com, REST API 2.14): a contact's
 * attributes from a user's traits, a company from a group's traits, and a data event's metadata
 * from an event's properties within Intercom's limits (20 items; strings up to 255 characters; no
 * nested objects but rich links `{url, value}` and amounts `{amount, currency}`; keys without `.`,
 * `$` and the other characters Intercom refuses).
 */
import type { SegmentEvent } from '../../src/event';
import { currencyOf, revenueOf } from '../shared/ecommerce';
import { renameTraits, userTraits } from '../shared/traits';
import {
  compact,
  epochSeconds,
  firstNumber,
  firstString,
  isRecord,
  omit,
  recordOf,
  truncate,
  type JsonObject,
} from '../shared/values';

/** Metadata items per event ("Set up event tracking in Intercom"). */
export const MAX_METADATA = 20;
/** Characters of a metadata string. */
const MAX_STRING = 255;
/** Characters Intercom refuses in metadata and attribute names, replaced by `_`. */
// eslint-disable-next-line no-control-regex -- NUL is one of the refused characters
const REFUSED_IN_KEYS = /[.$~`!@#%^&*'{}|\\"\u0000]/g;

/** Reserved traits Intercom has contact fields for, or that are read below (`null`). */
const CONTACT_FIELDS = {
  email: null,
  phone: null,
  name: null,
  firstName: null,
  lastName: null,
  avatar: null,
  createdAt: null,
  id: null,
  company: null,
  address: null,
} as const;

/** Group traits Intercom has company fields for, or that are no company attribute. */
const COMPANY_FIELDS = [
  'name',
  'plan',
  'employees',
  'website',
  'industry',
  'monthly_spend',
  'monthlySpend',
  'createdAt',
  'created_at',
  'id',
  'address',
];

/** `a.b$c` → `a_b_c`. */
function keyOf(name: string): string {
  return name.replace(REFUSED_IN_KEYS, '_');
}

/** Scalars as custom attributes; nested objects and lists are left out (Intercom keeps none). */
function customAttributesOf(values: JsonObject): JsonObject {
  const attributes: JsonObject = {};
  for (const [name, value] of Object.entries(values)) {
    const scalar =
      typeof value === 'string' || typeof value === 'boolean' || Number.isFinite(value);
    if (scalar && !Object.hasOwn(attributes, keyOf(name))) attributes[keyOf(name)] = value;
  }
  return attributes;
}

/** A contact's fields from the event's traits; `last_seen_at` unless the call is not active. */
export function contactAttributesOf(event: SegmentEvent): JsonObject {
  const traits = userTraits(event);
  const fullName = [
    firstString(traits.firstName, traits.first_name),
    firstString(traits.lastName, traits.last_name),
  ]
    .filter(Boolean)
    .join(' ');
  const custom = customAttributesOf(renameTraits(traits, CONTACT_FIELDS));
  return compact({
    email: firstString(traits.email),
    phone: firstString(traits.phone),
    name: firstString(traits.name) ?? (fullName || undefined),
    avatar: firstString(traits.avatar),
    signed_up_at: epochSeconds(traits.createdAt ?? traits.created_at),
    last_seen_at: event.context?.active === false ? undefined : epochSeconds(event.timestamp),
    custom_attributes: Object.keys(custom).length ? custom : undefined,
  });
}

/** A company from a group call: Intercom's fields from the reserved traits, the rest custom. */
export function companyOf(event: SegmentEvent, companyId: string): JsonObject {
  const traits = recordOf(event.traits);
  const custom = customAttributesOf(omit(traits, COMPANY_FIELDS));
  return compact({
    company_id: companyId,
    name: firstString(traits.name),
    plan: firstString(traits.plan),
    size: firstNumber(traits.employees),
    website: firstString(traits.website),
    industry: firstString(traits.industry),
    monthly_spend: firstNumber(traits.monthly_spend, traits.monthlySpend),
    remote_created_at: epochSeconds(traits.createdAt ?? traits.created_at),
    custom_attributes: Object.keys(custom).length ? custom : undefined,
  });
}

/** A metadata value Intercom keeps, or undefined. */
function metadataValue(value: unknown): unknown {
  if (typeof value === 'string') return truncate(value, MAX_STRING);
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'boolean') return String(value);
  if (!isRecord(value)) return undefined;
  const { url, value: text, amount, currency } = value;
  if (typeof url === 'string' && typeof text === 'string' && Object.keys(value).length === 2) {
    return { url, value: truncate(text, MAX_STRING) };
  }
  if (Number.isFinite(amount) && typeof currency === 'string' && Object.keys(value).length === 2) {
    return { amount, currency };
  }
  return undefined;
}

/**
 * An event's metadata: its revenue first as Intercom's amount (`price`, in cents), then its
 * properties in order, up to MAX_METADATA items.
 */
export function metadataOf(event: SegmentEvent): JsonObject {
  const properties = recordOf(event.properties);
  const metadata: JsonObject = {};
  const revenue = revenueOf(properties);
  if (revenue !== undefined && properties.price === undefined) {
    metadata.price = {
      amount: Math.round(revenue * 100),
      currency: currencyOf(properties).toLowerCase(),
    };
  }
  for (const [name, value] of Object.entries(properties)) {
    if (Object.keys(metadata).length >= MAX_METADATA) break;
    const key = keyOf(name);
    const kept = metadataValue(value);
    if (kept !== undefined && !Object.hasOwn(metadata, key)) metadata[key] = kept;
  }
  return metadata;
}
