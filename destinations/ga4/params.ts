/**
 * The Measurement Protocol's naming and size rules (developers.google.com/analytics/devguides/
 * collection/protocol/ga4/sending-events, "Limitations"), applied before sending: GA4 accepts
 * anything with a 2xx and silently drops what breaks them, so names are made valid, values cut
 * to length and counts capped here, where it can be tested.
 */
import { withoutPersonalTraits } from '../shared/traits';
import { DestinationMappingError } from '../destination';
import { truncate, type JsonObject } from '../shared/values';

const MAX_EVENT_NAME = 40;
const MAX_PARAM_NAME = 40;
const MAX_PARAM_VALUE = 100;
const MAX_PARAMS = 25;
const MAX_USER_PROPERTY_NAME = 24;
const MAX_USER_PROPERTY_VALUE = 36;
export const MAX_USER_PROPERTIES = 25;
export const MAX_ITEMS = 200;

/** Page parameters GA4 stores longer than 100 characters. */
const LONG_PARAMS: Record<string, number> = {
  page_location: 1000,
  page_referrer: 420,
  page_title: 300,
};

/** Names the Measurement Protocol reserves for events GA4 collects itself. */
const RESERVED_EVENT_NAMES = new Set([
  'ad_activeview',
  'ad_click',
  'ad_exposure',
  'ad_impression',
  'ad_query',
  'ad_reward',
  'adunit_exposure',
  'app_background',
  'app_clear_data',
  'app_exception',
  'app_install',
  'app_remove',
  'app_store_refund',
  'app_store_subscription_cancel',
  'app_store_subscription_convert',
  'app_store_subscription_renew',
  'app_update',
  'app_upgrade',
  'dynamic_link_app_open',
  'dynamic_link_app_update',
  'dynamic_link_first_open',
  'error',
  'firebase_campaign',
  'firebase_in_app_message_action',
  'firebase_in_app_message_dismiss',
  'firebase_in_app_message_impression',
  'first_open',
  'first_visit',
  'in_app_purchase',
  'notification_dismiss',
  'notification_foreground',
  'notification_open',
  'notification_receive',
  'os_update',
  'session_start',
  'session_start_with_rollout',
  'user_engagement',
]);

const RESERVED_USER_PROPERTIES = new Set([
  'first_open_time',
  'first_visit_time',
  'last_deep_link_referrer',
  'user_id',
  'first_open_after_install',
]);

const RESERVED_PREFIXES = ['google_', 'ga_', 'firebase_'];

/** What GA4 accepts as a parameter name. */
const VALID_NAME = /^[A-Za-z][A-Za-z0-9_]{0,39}$/;

function reservedPrefix(name: string): boolean {
  return RESERVED_PREFIXES.some((prefix) => name.startsWith(prefix));
}

/**
 * A name made of letters, digits and underscores that starts with a letter: `Order Shipped` →
 * `order_shipped`, `2FA Enabled` → `2fa_enabled` → undefined (no leading letter is invented).
 */
function snakeName(text: string, max: number): string | undefined {
  const snake = text
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  if (!/^[a-z]/.test(snake)) return undefined;
  return snake.slice(0, max).replace(/_+$/, '');
}

/** The GA4 name of a custom event; throws when GA4 would drop it. */
export function customEventName(event: string): string {
  const name = snakeName(event, MAX_EVENT_NAME);
  if (!name) throw new DestinationMappingError(`"${event}" cannot be made a GA4 event name`);
  if (RESERVED_EVENT_NAMES.has(name) || reservedPrefix(name)) {
    throw new DestinationMappingError(`"${name}" is reserved by GA4 and would be dropped`);
  }
  return name;
}

/** A parameter value GA4 keeps: numbers as they are, everything else as text cut to length. */
function paramValue(name: string, value: unknown): string | number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (value === undefined || value === null || value === '') return undefined;
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return truncate(text, LONG_PARAMS[name] ?? MAX_PARAM_VALUE);
}

/** Code-unit order, the same on every machine (localeCompare depends on the locale). */
function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The entries GA4 can name (`Sales Rep` → `sales_rep`) as [GA4 name, value], in the order of
 * their GA4 names, one per name (of two keys making one name, the first in code unit order): the
 * same properties give the same parameters whatever order an SDK wrote them in.
 */
function byGa4Name(
  record: JsonObject,
  maxName: number,
  reserved: ReadonlySet<string>,
): [string, unknown][] {
  const named: [string, string, unknown][] = [];
  for (const [key, value] of Object.entries(record)) {
    const name = snakeName(key, maxName);
    if (name && !reservedPrefix(name) && !reserved.has(name)) named.push([name, key, value]);
  }
  named.sort(([nameA, keyA], [nameB, keyB]) => byName(nameA, nameB) || byName(keyA, keyB));
  return named
    .filter(([name], index) => index === 0 || named[index - 1][0] !== name)
    .map(([name, , value]) => [name, value]);
}

/** Properties that are no custom parameter: `items` only ever holds GA4 items. */
const NOT_CUSTOM = new Set(['items']);

/**
 * Event parameters, at most GA4's 25: the `standard` ones (already GA4 names, `items` kept as an
 * array) in their order, then custom ones from the event's own properties in the order of their
 * names (see byGa4Name). Past 25, the later ones are left out.
 */
export function eventParams(standard: JsonObject, properties: JsonObject = {}): JsonObject {
  const params: JsonObject = {};
  const add = (name: string, value: unknown) => {
    if (name in params || Object.keys(params).length >= MAX_PARAMS) return;
    if (name === 'items' && Array.isArray(value)) {
      if (value.length) params.items = value.slice(0, MAX_ITEMS);
      return;
    }
    const kept = paramValue(name, value);
    if (kept !== undefined) params[name] = kept;
  };
  for (const [name, value] of Object.entries(standard)) add(name, value);
  for (const [name, value] of byGa4Name(properties, MAX_PARAM_NAME, NOT_CUSTOM)) add(name, value);
  return params;
}

/** One `items[]` entry: parameters with valid names, values cut to length, no empty ones. */
export function itemParams(item: JsonObject): JsonObject {
  const result: JsonObject = {};
  for (const [name, value] of Object.entries(item)) {
    if (!VALID_NAME.test(name) || reservedPrefix(name)) continue;
    const kept = paramValue(name, value);
    if (kept !== undefined) result[name] = kept;
  }
  return result;
}

/** A user property's value: numbers as they are, text and booleans as text cut to 36. */
function userPropertyValue(value: unknown): string | number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if ((typeof value === 'string' && value !== '') || typeof value === 'boolean') {
    return truncate(String(value), MAX_USER_PROPERTY_VALUE);
  }
  return undefined;
}

/**
 * Traits as `user_properties` (`{ plan: { value: "pro" } }`) within GA4's limits: names of 24,
 * values of 36, reserved names and values GA4 cannot hold (objects, lists) left out, and past 25
 * the first 25 by name kept.
 */
export function userProperties(traits: unknown): JsonObject {
  // Google's policy forbids personally identifiable information: contact traits stay here.
  const values = Object.entries(withoutPersonalTraits(traits))
    .map(([key, value]) => [key, userPropertyValue(value)] as const)
    .filter(([, value]) => value !== undefined);
  const named = byGa4Name(
    Object.fromEntries(values),
    MAX_USER_PROPERTY_NAME,
    RESERVED_USER_PROPERTIES,
  );
  return Object.fromEntries(
    named.slice(0, MAX_USER_PROPERTIES).map(([name, value]) => [name, { value }]),
  );
}
