/**
 * `Order Completed` as the body of Iterable's `POST /api/commerce/trackPurchase`: the order's
 * products as commerce items (`id`, `name`, `price` and `quantity` required), the order's total,
 * the purchase `id` (the order id: Iterable updates a purchase tracked again under the same id),
 * and the order's other properties as the purchase's data fields.
 */
import type { SegmentEvent } from '../../src/event';
import { orderOf, productsOf, type Product } from '../shared/ecommerce';
import {
  compact,
  epochSeconds,
  omit,
  recordOf,
  sha256Hex,
  type JsonObject,
} from '../shared/values';
import type { IterableUser } from './users';

/** Iterable: an event or purchase "ID cannot be longer than 512 bytes". */
const MAX_ID_BYTES = 512;

/** The text as an Iterable id: itself within 512 bytes, else its SHA-256. */
export function iterableIdOf(text: string): string {
  return Buffer.byteLength(text) <= MAX_ID_BYTES ? text : sha256Hex(text);
}

/** Iterable's CommerceItem: `id`, `name`, `price` and `quantity` are required. */
interface CommerceItem extends JsonObject {
  id: string;
  name: string;
  price: number;
  quantity: number;
}

/** The product as a commerce item; none without an id (product id, else SKU) or a price. */
function commerceItemOf(product: Product): CommerceItem[] {
  const id = product.id ?? product.sku;
  if (id === undefined || product.price === undefined) return [];
  const dataFields = compact({ ...product.extra, brand: product.brand, variant: product.variant });
  const item = {
    id,
    name: product.name ?? id,
    price: product.price,
    quantity: Math.max(1, Math.round(product.quantity ?? 1)),
  };
  const optional = compact({
    sku: product.sku,
    categories: product.category ? [product.category] : undefined,
    imageUrl: product.imageUrl,
    url: product.url,
    dataFields: Object.keys(dataFields).length ? dataFields : undefined,
  });
  return [{ ...item, ...optional }];
}

/**
 * The trackPurchase body of an order, or undefined when none of its products has an id and a
 * price (the order then goes as a custom event). `total` is the order's total, else its revenue,
 * else the sum of its items.
 */
export function purchaseOf(event: SegmentEvent, user: IterableUser): JsonObject | undefined {
  const properties = recordOf(event.properties);
  const items = productsOf(properties).flatMap(commerceItemOf);
  if (items.length === 0) return undefined;
  const order = orderOf(properties);
  const sum = items.reduce((total, item) => total + item.price * item.quantity, 0);
  const dataFields = omit(properties, ['products', 'order_id', 'orderId', 'total']);
  return {
    id: iterableIdOf(order.orderId ?? event.messageId),
    user,
    items,
    total: order.total ?? order.revenue ?? Number(sum.toFixed(6)),
    createdAt: epochSeconds(event.timestamp),
    ...(Object.keys(dataFields).length ? { dataFields } : {}),
  };
}
