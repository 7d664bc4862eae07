/**
 * Segment's spec events read as conversions for ad platforms (Meta's Conversions API, TikTok's
 * Events API): which standard event a track event is, by a table of spec names matched the way
 * people write them (`Order Completed`, `order completed`, `order_completed`), and what it
 * reports: its value and currency, its products, order id and search query.
 */
import type { SegmentEvent } from '../../src/event';
import { currencyOf, orderOf, productOf, productsOf, type Product } from './ecommerce';
import { firstString, recordOf } from './values';

/** The form names are compared in: lower case, one space between words. */
export function eventKey(name: string): string {
  return name
    .trim()
    .toLowerCase()
    .replace(/[\s_-]+/g, ' ');
}

/**
 * The vendor's name for a track event: the config's `overrides` (Segment name → vendor name),
 * then `table` (spec name → vendor standard event), both matched by eventKey; undefined when
 * neither names it.
 */
export function mappedEventName(
  name: string,
  table: Readonly<Record<string, string>>,
  overrides: Readonly<Record<string, string>>,
): string | undefined {
  const key = eventKey(name);
  const lookup = (names: Readonly<Record<string, string>>) =>
    Object.entries(names).find(([specName]) => eventKey(specName) === key)?.[1];
  return lookup(overrides) ?? lookup(table);
}

/** What a conversion event reports. */
export interface Conversion {
  /** `value`, else the order's revenue or total, else a single product's price × quantity. */
  value?: number;
  /** ISO 4217, upper case; the spec's default USD when a value has no currency. */
  currency?: string;
  /** `products[]`, or the event's properties when they describe one product. */
  products: Product[];
  /** The sum of the products' quantities (1 where a product has none). */
  numItems?: number;
  orderId?: string;
  /** `Products Searched`'s query. */
  query?: string;
  /** A product list's category (`Product List Viewed`). */
  category?: string;
}

/** A single product's properties name it by id, sku or name. */
function isProduct(properties: Record<string, unknown>): boolean {
  return ['product_id', 'productId', 'sku', 'name'].some((key) => properties[key] !== undefined);
}

/** The conversion a track event reports (empty for events without such properties). */
export function conversionOf(event: SegmentEvent): Conversion {
  const properties = recordOf(event.properties);
  const listed = productsOf(properties);
  const products = listed.length ? listed : isProduct(properties) ? [productOf(properties)] : [];
  const order = orderOf(properties);
  const single = listed.length === 0 && products.length === 1 ? products[0] : undefined;
  const value =
    order.value ??
    order.revenue ??
    order.total ??
    (single?.price === undefined ? undefined : single.price * (single.quantity ?? 1));
  const numItems = products.length
    ? products.reduce((sum, product) => sum + (product.quantity ?? 1), 0)
    : undefined;
  return {
    value,
    currency: value === undefined ? undefined : currencyOf(properties),
    products,
    numItems,
    orderId: order.orderId,
    query: firstString(properties.query),
    category: listed.length ? firstString(properties.category) : undefined,
  };
}

/**
 * Spec events both Meta and TikTok have a standard event for, under the same name (Meta's
 * standard events reference; TikTok's "Supported standard events"). Each destination adds its
 * own (page views, trials).
 */
export const SPEC_CONVERSIONS: Readonly<Record<string, string>> = {
  'Order Completed': 'Purchase',
  'Product Added': 'AddToCart',
  'Product Added to Wishlist': 'AddToWishlist',
  'Checkout Started': 'InitiateCheckout',
  'Payment Info Entered': 'AddPaymentInfo',
  'Product Viewed': 'ViewContent',
  'Product List Viewed': 'ViewContent',
  'Products Searched': 'Search',
  'Signed Up': 'CompleteRegistration',
};
