/**
 * Amplitude's revenue keys on track events (HTTP V2 `revenue`, `price`, `quantity`, `productId`,
 * `revenueType`). Amplitude counts `price` × `quantity` (quantity 1 when absent) as an event's
 * revenue whenever a price is sent, and `revenue` only without one ("Track revenue", Revenue
 * properties). So a price is sent only where it is the price of the one product an event is about,
 * never beside an order's revenue, which it would replace.
 *
 * Revenue events are events with `revenue` and `Order Completed` however it is written (its
 * `total` stands in for a missing `revenue`). Per order, such an event carries its `revenue`. Per
 * product, each product of an order's `products[]` with a price becomes a `Product Purchased`
 * event with its price and quantity, and the order carries no revenue (it would count twice); an
 * event without products but with a `price` of its own is that product's purchase; any other
 * event falls back to its `revenue`.
 */
import type { SegmentEvent } from '../../src/event';
import { orderOf, productOf } from '../shared/ecommerce';
import { specEventKey } from '../shared/spec-events';
import { compact, firstNumber, firstString, isRecord, numberOf, recordOf } from '../shared/values';
import type { JsonObject } from '../shared/values';

export type RevenuePer = 'order' | 'product';

/**
 * Most product events one order becomes (an event and its products travel in one request of
 * fewer than 2000 events); a larger order is counted per order.
 */
const MAX_PRODUCT_EVENTS = 500;

/** The event name of a product's purchase, counted per product. */
const PRODUCT_PURCHASED = 'Product Purchased';

/** `tracked` (the track event's Amplitude event) with its revenue, and its products' events. */
export function withRevenue(
  event: SegmentEvent,
  tracked: JsonObject,
  per: RevenuePer,
): JsonObject[] {
  const properties = recordOf(event.properties);
  const isOrder = specEventKey(event.event ?? '') === 'order completed';
  const revenue = firstNumber(properties.revenue, isOrder ? properties.total : undefined);
  if (revenue === undefined && !isOrder) return [tracked];
  const revenueType = firstString(properties.revenueType, properties.revenue_type);
  if (per === 'product') {
    // Only an order is the purchase of its products (a checkout's carry its revenue too).
    const products = isOrder ? pricedProducts(properties.products) : [];
    if (products.length > 0 && products.length <= MAX_PRODUCT_EVENTS) {
      const orderId = orderOf(properties).orderId;
      return [
        tracked,
        ...products.map(({ sent, price, quantity, productId }, index) => ({
          ...tracked,
          insert_id: `${String(tracked.insert_id)}-product-${index}`,
          event_type: PRODUCT_PURCHASED,
          event_properties: { ...sent, ...compact({ order_id: orderId }) },
          ...compact({ price, quantity, productId, revenueType }),
        })),
      ];
    }
    const price = numberOf(properties.price);
    if (price !== undefined && !Array.isArray(properties.products)) {
      const quantity = numberOf(properties.quantity) ?? 1;
      return [
        {
          ...tracked,
          ...compact({ price, quantity, productId: productIdOf(properties), revenueType }),
        },
      ];
    }
  }
  if (revenue === undefined) return [tracked];
  return [{ ...tracked, ...compact({ revenue, productId: productIdOf(properties), revenueType }) }];
}

/** The product an event with revenue is about, where it names one. */
function productIdOf(properties: JsonObject): string | undefined {
  return firstString(properties.productId, properties.product_id, properties.sku);
}

/** The products of `products[]` that have a price, each as sent and as Amplitude's keys. */
function pricedProducts(products: unknown) {
  if (!Array.isArray(products)) return [];
  return products.filter(isRecord).flatMap((sent) => {
    const product = productOf(sent);
    if (product.price === undefined) return [];
    const productId = product.id ?? product.sku;
    return [{ sent, price: product.price, quantity: product.quantity ?? 1, productId }];
  });
}
