/**
 * Segment events as the objects of Braze's /users/track (braze.com/docs/api/endpoints/user_data/
 * post_user_track): user attribute objects from identify traits (Braze's standard profile fields
 * from Segment's reserved traits, the rest as custom attributes), event objects from track
 * calls, and purchase objects from the products of an `Order Completed`.
 */
import type { SegmentEvent } from '../../src/event';
import { currencyOf, orderOf, productsOf } from '../shared/ecommerce';
import { addressOf, renameTraits, userTraits } from '../shared/traits';
import { calendarDate, compact, recordOf, stringOf, type JsonObject } from '../shared/values';

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

/**
 * One purchase object per product of an order. Braze requires a product id and a price, so
 * products without either are left out; the order id travels in each purchase's properties.
 */
export function purchasesOf(
  event: SegmentEvent,
  identity: BrazeIdentity,
  appId: string | undefined,
): JsonObject[] {
  const currency = currencyOf(event.properties);
  const { orderId } = orderOf(event.properties);
  return productsOf(event.properties).flatMap((product) => {
    const productId = product.id ?? product.sku ?? product.name;
    if (productId === undefined || product.price === undefined) return [];
    return [
      {
        ...identity,
        ...(appId ? { app_id: appId } : {}),
        product_id: productId,
        currency,
        price: product.price,
        quantity: Math.max(1, Math.round(product.quantity ?? 1)),
        time: event.timestamp,
        properties: { ...product.extra, ...compact({ order_id: orderId }) },
      },
    ];
  });
}
