/**
 * Segment's semantic events (e-commerce v2, B2B SaaS) as GA4 recommended events
 * (developers.google.com/analytics/devguides/collection/ga4/reference/events): the GA4 name and
 * the standard parameters each takes — `items[]`, `currency` with `value`, `transaction_id`,
 * promotion and method fields. A table, so adding a mapping is one line.
 */
import {
  currencyOf,
  orderOf,
  productOf,
  productsOf,
  revenueOf,
  type Product,
} from '../shared/ecommerce';
import { compact, firstNumber, firstString, recordOf, type JsonObject } from '../shared/values';
import { itemParams } from './params';

type ParamsOf = (properties: JsonObject) => JsonObject;

/** An item of `items[]` from a Segment product. */
function itemOf(product: Product, index?: number): JsonObject {
  return itemParams(
    compact({
      item_id: product.id ?? product.sku,
      item_name: product.name,
      item_brand: product.brand,
      item_category: product.category,
      item_variant: product.variant,
      price: product.price,
      quantity: product.quantity,
      coupon: product.coupon,
      index: product.position ?? index,
    }),
  );
}

/** GA4 needs an item_id or an item_name; items with neither are left out. */
function itemsOf(products: Product[]): JsonObject[] {
  return products
    .map((product) => itemOf(product))
    .filter((item) => item.item_id || item.item_name);
}

/** A single-product event (`Product Viewed`): the properties are the product. */
const oneProduct: ParamsOf = (properties) => {
  const product = productOf(properties);
  const value =
    firstNumber(properties.value) ??
    (product.price === undefined ? undefined : product.price * (product.quantity ?? 1));
  return compact({
    currency: value === undefined ? undefined : currencyOf(properties),
    value,
    items: itemsOf([product]),
  });
};

/** A list, cart or order: `products[]` and the amounts of the order. */
const manyProducts: ParamsOf = (properties) => {
  const order = orderOf(properties);
  const value = order.value ?? revenueOf(properties);
  return compact({
    currency: value === undefined ? undefined : currencyOf(properties),
    value,
    transaction_id: order.orderId,
    tax: order.tax,
    shipping: order.shipping,
    coupon: order.coupon,
    affiliation: order.affiliation,
    items: itemsOf(productsOf(properties)),
  });
};

const productList: ParamsOf = (properties) =>
  compact({
    item_list_id: firstString(properties.list_id, properties.listId),
    item_list_name: firstString(properties.category),
    items: itemsOf(productsOf(properties)),
  });

const clickedProduct: ParamsOf = (properties) =>
  compact({
    item_list_id: firstString(properties.list_id, properties.listId),
    items: itemsOf([productOf(properties)]),
  });

const promotion: ParamsOf = (properties) =>
  compact({
    promotion_id: firstString(properties.promotion_id, properties.promotionId),
    promotion_name: firstString(properties.name),
    creative_name: firstString(properties.creative),
    creative_slot: firstString(properties.position),
  });

const method: ParamsOf = (properties) => compact({ method: firstString(properties.method) });

const share =
  (contentType: string): ParamsOf =>
  (properties) =>
    compact({
      method: firstString(properties.share_via, properties.method),
      content_type: contentType,
      item_id: firstString(properties.product_id, properties.cart_id),
    });

/** Segment event name → GA4 recommended event and how its parameters are built. */
const RECOMMENDED_EVENTS: Readonly<Record<string, { name: string; params: ParamsOf }>> = {
  'Products Searched': {
    name: 'search',
    params: (properties) => compact({ search_term: firstString(properties.query) }),
  },
  'Product List Viewed': { name: 'view_item_list', params: productList },
  'Product List Filtered': { name: 'view_item_list', params: productList },
  'Product Clicked': { name: 'select_item', params: clickedProduct },
  'Product Viewed': { name: 'view_item', params: oneProduct },
  'Product Added': { name: 'add_to_cart', params: oneProduct },
  'Product Removed': { name: 'remove_from_cart', params: oneProduct },
  'Product Added to Wishlist': { name: 'add_to_wishlist', params: oneProduct },
  'Cart Viewed': { name: 'view_cart', params: manyProducts },
  'Checkout Started': { name: 'begin_checkout', params: manyProducts },
  'Payment Info Entered': {
    name: 'add_payment_info',
    params: (properties) => ({
      ...manyProducts(properties),
      ...compact({ payment_type: firstString(properties.payment_method) }),
    }),
  },
  'Order Completed': { name: 'purchase', params: manyProducts },
  'Order Refunded': { name: 'refund', params: manyProducts },
  'Promotion Viewed': { name: 'view_promotion', params: promotion },
  'Promotion Clicked': { name: 'select_promotion', params: promotion },
  'Product Shared': { name: 'share', params: share('product') },
  'Cart Shared': { name: 'share', params: share('cart') },
  'Signed Up': { name: 'sign_up', params: method },
  'Signed In': { name: 'login', params: method },
};

/** Properties the standard parameters already carry, left out of the custom ones. */
export const CONSUMED_PROPERTIES = new Set([
  'products',
  'product_id',
  'productId',
  'sku',
  'name',
  'brand',
  'category',
  'variant',
  'price',
  'quantity',
  'coupon',
  'position',
  'currency',
  'value',
  'revenue',
  'total',
  'order_id',
  'orderId',
  'tax',
  'shipping',
  'affiliation',
  'query',
  'list_id',
  'listId',
  'promotion_id',
  'promotionId',
  'creative',
  'share_via',
  'method',
  'payment_method',
]);

/** The recommended event for a Segment event name, with its standard parameters. */
export function recommendedEventOf(
  event: string,
  properties: unknown,
): { name: string; params: JsonObject } | undefined {
  const entry = Object.hasOwn(RECOMMENDED_EVENTS, event) ? RECOMMENDED_EVENTS[event] : undefined;
  return entry && { name: entry.name, params: entry.params(recordOf(properties)) };
}
