/**
 * Segment track events as Klaviyo metric events: the metric name, its properties, the monetary
 * `value` and the `unique_id` Klaviyo deduplicates by. Segment's e-commerce spec events become the
 * metrics Klaviyo's guide "Integrate an ecommerce platform without a pre-built Klaviyo
 * integration" names, with the property names of its examples (`Items`, `ItemNames`,
 * `AddedItemProductName`, ...); `Order Completed` also becomes one `Ordered Product` per product.
 * Every other event keeps its name and properties.
 */
import type { SegmentEvent } from '../../src/event';
import { orderOf, productOf, productsOf, revenueOf, type Product } from '../shared/ecommerce';
import { specEventKey } from '../shared/spec-events';
import { compact, omit, recordOf, truncate, type JsonObject } from '../shared/values';

/** One event to create in Klaviyo. */
export interface MetricEvent {
  name: string;
  properties: JsonObject;
  value?: number;
  currency?: string;
  uniqueId: string;
}

/** Klaviyo: a metric name "must be less than 128 characters". */
const MAX_NAME_LENGTH = 127;
/** Klaviyo's ingestion limit on the items of an array property. */
const MAX_ARRAY_ITEMS = 4000;
/** Ordered Product events one order makes at most (one request each); the rest are not sent. */
export const MAX_ORDERED_PRODUCTS = 100;

type OrderMetric = 'Placed Order' | 'Started Checkout' | 'Refunded Order' | 'Cancelled Order';

/** Klaviyo's e-commerce metric for each spec event, by specEventKey. */
const ECOMMERCE_METRICS: Record<string, 'Viewed Product' | 'Added to Cart' | OrderMetric> = {
  'product viewed': 'Viewed Product',
  'product added': 'Added to Cart',
  'checkout started': 'Started Checkout',
  'order completed': 'Placed Order',
  'order refunded': 'Refunded Order',
  'order cancelled': 'Cancelled Order',
};

/** Order-level keys the order metrics map to Klaviyo's fields; the others pass as sent. */
const ORDER_KEYS = ['products', 'order_id', 'orderId', 'coupon', 'discount', 'currency'];

/**
 * The Klaviyo events of a track event named `name`: its metric, and for `Order Completed` an
 * `Ordered Product` per product (at most MAX_ORDERED_PRODUCTS). `ecommerce` false: spec events
 * keep their own names, like any other event.
 */
export function metricEventsOf(
  event: SegmentEvent,
  name: string,
  ecommerce: boolean,
): MetricEvent[] {
  const properties = recordOf(event.properties);
  const metric = ecommerce ? ECOMMERCE_METRICS[specEventKey(name)] : undefined;
  if (metric === 'Viewed Product' || metric === 'Added to Cart') {
    return [productMetric(event, metric, productOf(properties))];
  }
  if (metric) {
    const order = orderMetric(event, metric);
    return metric === 'Placed Order' ? [order, ...orderedProducts(event)] : [order];
  }
  const value = revenueOf(properties);
  return [
    {
      name: truncate(name, MAX_NAME_LENGTH),
      properties,
      ...withValue(value, orderOf(properties).currency),
      uniqueId: event.messageId,
    },
  ];
}

/** `value` and its currency, both left out when there is no value. */
function withValue(value: number | undefined, currency: string | undefined) {
  if (value === undefined) return {};
  return currency ? { value, currency: currency.toUpperCase() } : { value };
}

/** price × quantity without binary noise (0.1 × 3 is 0.3). */
function lineTotal(product: Product): number | undefined {
  if (product.price === undefined) return undefined;
  return Number((product.price * (product.quantity ?? 1)).toFixed(6));
}

/** Viewed Product: the product's fields; Added to Cart: the same, named `AddedItem...`. */
function productMetric(
  event: SegmentEvent,
  metric: 'Viewed Product' | 'Added to Cart',
  product: Product,
): MetricEvent {
  const prefix = metric === 'Added to Cart' ? 'AddedItem' : '';
  const fields = compact({
    ProductName: product.name,
    ProductID: product.id,
    SKU: product.sku,
    Categories: product.category ? [product.category] : undefined,
    ImageURL: product.imageUrl,
    URL: product.url,
    Brand: product.brand,
    Price: product.price,
    Quantity: metric === 'Added to Cart' ? product.quantity : undefined,
  });
  const named = Object.fromEntries(
    Object.entries(fields).map(([field, value]) => [`${prefix}${field}`, value]),
  );
  const value = metric === 'Added to Cart' ? lineTotal(product) : product.price;
  const currency = orderOf(event.properties).currency;
  return {
    name: metric,
    properties: { ...omit(product.extra, ['currency']), ...named },
    ...withValue(value, currency),
    uniqueId: event.messageId,
  };
}

/** An order's line as an entry of Klaviyo's `Items`. */
function itemOf(product: Product): JsonObject {
  return compact({
    ProductID: product.id,
    SKU: product.sku,
    ProductName: product.name,
    Quantity: product.quantity,
    ItemPrice: product.price,
    RowTotal: lineTotal(product),
    ProductURL: product.url,
    ImageURL: product.imageUrl,
    Categories: product.category ? [product.category] : undefined,
    Brand: product.brand,
  });
}

/** Distinct values in first-seen order; undefined when there are none. */
function distinct(values: Array<string | undefined>): string[] | undefined {
  const found = [...new Set(values.filter((value) => value !== undefined))];
  return found.length ? found : undefined;
}

/**
 * Placed Order, Started Checkout, Refunded Order, Cancelled Order: the order's lines as `Items`
 * with `ItemNames`, `Categories` and `Brands`, the order id and discount; `value` is the order's
 * total (Klaviyo's Placed Order value includes shipping and discounts), else its revenue.
 */
function orderMetric(event: SegmentEvent, metric: OrderMetric): MetricEvent {
  const properties = recordOf(event.properties);
  const order = orderOf(properties);
  const products = productsOf(properties).slice(0, MAX_ARRAY_ITEMS);
  const fields = compact({
    OrderId: order.orderId,
    Categories: distinct(products.map((product) => product.category)),
    ItemNames: distinct(products.map((product) => product.name)),
    Brands: distinct(products.map((product) => product.brand)),
    DiscountCode: order.coupon,
    DiscountValue: order.discount,
    Items: products.length ? products.map(itemOf) : undefined,
  });
  return {
    name: metric,
    properties: { ...omit(properties, ORDER_KEYS), ...fields },
    ...withValue(order.total ?? order.revenue ?? order.value, order.currency),
    uniqueId: event.messageId,
  };
}

/**
 * One Ordered Product per product of an order: the product's fields and the order id; `value` is
 * the line's price × quantity. `unique_id` is the event's messageId and the product's position,
 * so a retried order is recorded once.
 */
function orderedProducts(event: SegmentEvent): MetricEvent[] {
  const order = orderOf(event.properties);
  return productsOf(event.properties)
    .slice(0, MAX_ORDERED_PRODUCTS)
    .map((product, index) => ({
      name: 'Ordered Product',
      properties: {
        ...product.extra,
        ...compact({
          OrderId: order.orderId,
          ProductID: product.id,
          SKU: product.sku,
          ProductName: product.name,
          Quantity: product.quantity,
          ItemPrice: product.price,
          ProductURL: product.url,
          ImageURL: product.imageUrl,
          Categories: product.category ? [product.category] : undefined,
          ProductBrand: product.brand,
        }),
      },
      ...withValue(lineTotal(product), order.currency),
      uniqueId: `${event.messageId}:${index}`,
    }));
}
