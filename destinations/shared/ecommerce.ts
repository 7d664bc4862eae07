/**
 * Segment's e-commerce v2 spec (spec: ecommerce/v2.md) read into plain objects: the products of
 * an order or list, a single product event's product, and the order-level amounts. Destinations
 * map these to their vendor's purchase, item and revenue fields. Fields are found under their
 * spec name and the camelCase spelling some SDKs send (`product_id` / `productId`).
 */
import { firstNumber, firstString, isRecord, omit, recordOf, type JsonObject } from './values';

export interface Product {
  id?: string;
  sku?: string;
  name?: string;
  brand?: string;
  category?: string;
  variant?: string;
  coupon?: string;
  url?: string;
  imageUrl?: string;
  price?: number;
  quantity?: number;
  position?: number;
  /** The product's other properties, as sent. */
  extra: JsonObject;
}

const PRODUCT_TEXT_FIELDS = {
  id: ['product_id', 'productId', 'id'],
  sku: ['sku'],
  name: ['name'],
  brand: ['brand'],
  category: ['category'],
  variant: ['variant'],
  coupon: ['coupon'],
  url: ['url'],
  imageUrl: ['image_url', 'imageUrl'],
} as const;

const PRODUCT_NUMBER_FIELDS = {
  price: ['price'],
  quantity: ['quantity'],
  position: ['position'],
} as const;

const PRODUCT_KEYS = [
  ...Object.values(PRODUCT_TEXT_FIELDS).flat(),
  ...Object.values(PRODUCT_NUMBER_FIELDS).flat(),
];

/** A product read from one object of `products[]`, or from a single-product event's properties. */
export function productOf(source: unknown): Product {
  const record = recordOf(source);
  const product: Product = { extra: omit(record, PRODUCT_KEYS) };
  for (const [field, keys] of Object.entries(PRODUCT_TEXT_FIELDS)) {
    const value = firstString(...keys.map((key) => record[key]));
    if (value !== undefined) product[field as keyof typeof PRODUCT_TEXT_FIELDS] = value;
  }
  for (const [field, keys] of Object.entries(PRODUCT_NUMBER_FIELDS)) {
    const value = firstNumber(...keys.map((key) => record[key]));
    if (value !== undefined) product[field as keyof typeof PRODUCT_NUMBER_FIELDS] = value;
  }
  return product;
}

/** The objects of `properties.products` (non-objects are skipped). */
export function productsOf(properties: unknown): Product[] {
  const products = recordOf(properties).products;
  if (!Array.isArray(products)) return [];
  return products.filter(isRecord).map(productOf);
}

export interface Order {
  orderId?: string;
  checkoutId?: string;
  affiliation?: string;
  coupon?: string;
  currency?: string;
  total?: number;
  subtotal?: number;
  revenue?: number;
  shipping?: number;
  tax?: number;
  discount?: number;
  value?: number;
}

/** The order-level fields of an order event (`Order Completed`, `Checkout Started`, ...). */
export function orderOf(properties: unknown): Order {
  const record = recordOf(properties);
  const text = (...keys: string[]) => firstString(...keys.map((key) => record[key]));
  const amount = (...keys: string[]) => firstNumber(...keys.map((key) => record[key]));
  return {
    orderId: text('order_id', 'orderId'),
    checkoutId: text('checkout_id', 'checkoutId'),
    affiliation: text('affiliation'),
    coupon: text('coupon'),
    currency: text('currency'),
    total: amount('total'),
    subtotal: amount('subtotal'),
    revenue: amount('revenue'),
    shipping: amount('shipping'),
    tax: amount('tax'),
    discount: amount('discount'),
    value: amount('value'),
  };
}

/**
 * What an event earned: `revenue`, else (for orders that send only a total) `total`. Per the
 * spec `revenue` excludes shipping and tax, so it wins when both are present.
 */
export function revenueOf(properties: unknown): number | undefined {
  const order = orderOf(properties);
  return order.revenue ?? order.total;
}

/** The ISO 4217 currency of an event, upper-cased; the spec's default is USD. */
export function currencyOf(properties: unknown, fallback = 'USD'): string {
  return (orderOf(properties).currency ?? fallback).toUpperCase();
}
