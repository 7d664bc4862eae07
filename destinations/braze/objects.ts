/**
 * Segment events as the objects of Braze's /users/track (braze.com/docs/api/endpoints/user_data/
 * post_user_track): user attribute objects from identify traits (Braze's standard profile fields
 * from Segment's reserved traits, the rest as custom attributes), event objects from track
 * calls (and page and screen views), and purchase objects from the products of an `Order
 * Completed`.
 */
import type { SegmentEvent } from '../../src/event';
import { DestinationMappingError } from '../destination';
import { currencyOf, orderOf, productsOf } from '../shared/ecommerce';
import { addressOf, renameTraits, userTraits } from '../shared/traits';
import {
  calendarDate,
  compact,
  recordOf,
  stringOf,
  truncate,
  type JsonObject,
} from '../shared/values';

/** Who an object updates: `{ external_id }` or `{ user_alias, _update_existing_only: false }`. */
export type BrazeIdentity = JsonObject;

/** Segment's reserved traits as Braze's standard attributes (`null`: mapped below). */
const STANDARD_ATTRIBUTES = {
  email: 'email',
  firstName: 'first_name',
  lastName: 'last_name',
  phone: 'phone',
  gender: 'gender',
  birthday: 'dob',
  avatar: 'image_url',
  address: null,
  id: null,
} as const;

/** Braze's gender codes: M, F, O (other), N (not applicable), P (prefer not to say). */
const GENDERS: Record<string, string> = {
  m: 'M',
  male: 'M',
  man: 'M',
  f: 'F',
  female: 'F',
  woman: 'F',
  o: 'O',
  other: 'O',
  'non-binary': 'O',
  nonbinary: 'O',
  n: 'N',
  'not applicable': 'N',
  p: 'P',
  'prefer not to say': 'P',
};

/** An attribute object: standard fields renamed and normalized, custom attributes as sent. */
export function attributesOf(event: SegmentEvent, identity: BrazeIdentity): JsonObject {
  const traits = userTraits(event);
  const attributes = renameTraits(traits, STANDARD_ATTRIBUTES);
  const gender = stringOf(attributes.gender);
  if (gender !== undefined) {
    // A value Braze does not know would be rejected with the whole object.
    const code = GENDERS[gender.trim().toLowerCase()];
    if (code) attributes.gender = code;
    else delete attributes.gender;
  }
  if (attributes.dob !== undefined) {
    const dob = calendarDate(attributes.dob);
    if (dob) attributes.dob = dob;
    else delete attributes.dob;
  }
  const address = addressOf(traits);
  return {
    ...identity,
    ...attributes,
    ...compact({ country: address.country, home_city: address.city }),
  };
}

/** A custom event object. */
export function eventObjectOf(
  event: SegmentEvent,
  identity: BrazeIdentity,
  name: string,
  appId: string | undefined,
): JsonObject {
  return {
    ...identity,
    ...(appId ? { app_id: appId } : {}),
    name,
    time: event.timestamp,
    properties: recordOf(event.properties),
  };
}

/** Which product field names a Braze product (`product_id`); the others follow it. */
export type ProductKey = 'name' | 'category' | 'id';

const PRODUCT_ID_ORDER: Record<ProductKey, ReadonlyArray<'name' | 'category' | 'id' | 'sku'>> = {
  name: ['name', 'id', 'sku'],
  category: ['category', 'name', 'id', 'sku'],
  id: ['id', 'sku', 'name'],
};

/** Braze keeps product ids of up to 255 characters. */
const MAX_PRODUCT_ID = 255;
/** Braze's most `quantity` in one purchase object. */
const MAX_QUANTITY = 100;

/**
 * Most purchase objects one order is sent as (10 requests of 75): quantities over 100 multiply
 * them, and nothing else bounds a quantity.
 */
export const MAX_PURCHASES = 750;

/** A product's whole quantity, at least 1. */
function unitsOf(quantity: number | undefined): number {
  return Math.max(1, Math.round(quantity ?? 1));
}

/** The units of a product in purchase objects of at most MAX_QUANTITY each. */
function quantitiesOf(units: number): number[] {
  return Array.from({ length: Math.ceil(units / MAX_QUANTITY) }, (_, index) =>
    Math.min(MAX_QUANTITY, units - index * MAX_QUANTITY),
  );
}

/**
 * Purchase objects for the products of an order. Braze requires a product id and a price, so
 * products without either are left out. The product id is the product's name by default, as
 * Braze suggests ("simplistic names such as the product name or product category (instead of
 * SKUs)", at most 5,000 of them), else its category or id by config, each falling back to the
 * next field the product has. The product's fields (name, category, id, sku, brand, ...) and the
 * order id travel in the purchase's properties. A quantity over Braze's 100 is logged as several
 * purchases of at most 100 (Braze counts quantity X as X purchases of one), so revenue is kept;
 * an order that would make more than MAX_PURCHASES objects fails to map instead.
 */
export function purchasesOf(
  event: SegmentEvent,
  identity: BrazeIdentity,
  options: { appId?: string; productKey: ProductKey },
): JsonObject[] {
  const currency = currencyOf(event.properties);
  const { orderId } = orderOf(event.properties);
  const products = productsOf(event.properties);
  const count = products.reduce(
    (sum, product) => sum + Math.ceil(unitsOf(product.quantity) / MAX_QUANTITY),
    0,
  );
  if (count > MAX_PURCHASES) {
    throw new DestinationMappingError(
      `the order makes ${count} Braze purchase objects (at most ${MAX_QUANTITY} units each); more than ${MAX_PURCHASES} are not sent`,
    );
  }
  return products.flatMap((product) => {
    const key = PRODUCT_ID_ORDER[options.productKey].find((field) => product[field] !== undefined);
    if (key === undefined || product.price === undefined) return [];
    const properties = {
      ...product.extra,
      ...compact({
        product_id: product.id,
        sku: product.sku,
        name: product.name,
        category: product.category,
        brand: product.brand,
        variant: product.variant,
        coupon: product.coupon,
        url: product.url,
        image_url: product.imageUrl,
        position: product.position,
        order_id: orderId,
      }),
    };
    return quantitiesOf(unitsOf(product.quantity)).map((quantity) => ({
      ...identity,
      ...(options.appId ? { app_id: options.appId } : {}),
      product_id: truncate(product[key]!, MAX_PRODUCT_ID),
      currency,
      price: product.price,
      quantity,
      time: event.timestamp,
      properties,
    }));
  });
}

/**
 * An attribute object that sets the user's state in a subscription group (the `subscription_groups`
 * field of /users/track's attributes, as in Braze's "Set subscription groups" example): the
 * group's `subscription_state` trait when it is `unsubscribed`, else `subscribed` (joining the
 * group subscribes the user).
 */
export function subscriptionObjectOf(
  event: SegmentEvent,
  identity: BrazeIdentity,
  subscriptionGroupId: string,
): JsonObject {
  const state = stringOf(recordOf(event.traits).subscription_state);
  return {
    ...identity,
    subscription_groups: [
      {
        subscription_group_id: subscriptionGroupId,
        subscription_state: state === 'unsubscribed' ? 'unsubscribed' : 'subscribed',
      },
    ],
  };
}
