/**
 * Segment's semantic events (e-commerce v2, B2B SaaS) as GA4 recommended events
 * (developers.google.com/analytics/devguides/collection/ga4/reference/events): the GA4 name and
 * the parameters Google documents for it — `items[]`, `currency` with `value`,
 * `transaction_id`, promotion and method fields. Each mapping consumes only the properties it
 * places in a GA4 parameter; the others go on as custom parameters. Semantic names match however
 * they are cased or spaced (`Order Completed`, `order completed`, `order_completed`,
 * `orderCompleted`); every other name becomes a custom event. A table, so adding a mapping is
 * one line.
 */
import { compact, type JsonObject } from '../shared/values';
import { customEventName, itemParams, MAX_ITEMS } from './params';
import { PropertyReader } from './property-reader';

type ParamsOf = (read: PropertyReader) => JsonObject;

/** A track event as GA4 gets it: its name, its GA4 parameters, and the properties left over. */
export interface Ga4TrackEvent {
  name: string;
  params: JsonObject;
  custom: JsonObject;
}

/** GA4 needs an item_id or an item_name; anything else is not an item. */
function isItem(item: JsonObject): boolean {
  return item.item_id !== undefined || item.item_name !== undefined;
}

/** An `items[]` entry from a Segment product (one of `products[]`, or the event's properties). */
function itemFrom(read: PropertyReader): JsonObject {
  return itemParams(
    compact({
      item_id: read.text('product_id', 'productId', 'id') ?? read.text('sku'),
      item_name: read.text('name'),
      affiliation: read.text('affiliation'),
      coupon: read.text('coupon'),
      index: read.number('position'),
      item_brand: read.text('brand'),
      item_category: read.text('category'),
      item_variant: read.text('variant'),
      price: read.number('price'),
      quantity: read.number('quantity'),
    }),
  );
}

/** The product the properties themselves describe (`Product Viewed`), when they describe one. */
function ownProduct(read: PropertyReader): JsonObject[] | undefined {
  const fork = read.fork();
  const item = itemFrom(fork);
  if (!isItem(item)) return undefined;
  read.adopt(fork);
  return [item];
}

/** `products[]` as items: at most GA4's 200, products without id or name left out. */
function productItems(read: PropertyReader): JsonObject[] {
  const items: JsonObject[] = [];
  for (const product of read.records('products')) {
    const item = itemFrom(new PropertyReader(product));
    if (isItem(item)) items.push(item);
    if (items.length === MAX_ITEMS) break;
  }
  return items;
}

/** Items carried as GA4 items already (a track event named like a GA4 event). */
function ga4Items(read: PropertyReader): JsonObject[] {
  return read.records('items').slice(0, MAX_ITEMS).map(itemParams).filter(isItem);
}

/** An order's products, each with the order's `affiliation` unless it has its own. */
function orderItems(read: PropertyReader): JsonObject[] {
  const items = productItems(read);
  const affiliation = items.length ? read.text('affiliation') : undefined;
  return affiliation ? items.map((item) => itemParams({ affiliation, ...item })) : items;
}

/** Σ price × quantity over the items that have a price (GA4's definition of `value`). */
function itemsValue(items: readonly JsonObject[]): number | undefined {
  const priced = items.filter((item) => typeof item.price === 'number');
  if (!priced.length) return undefined;
  const sum = priced.reduce(
    (total, item) => total + (item.price as number) * ((item.quantity as number | undefined) ?? 1),
    0,
  );
  return Math.round(sum * 1e6) / 1e6;
}

/**
 * `currency` and `value`. GA4's value leaves out shipping and tax, so `value`, then `revenue`,
 * then `subtotal` (both without them in Segment's spec), then `total`, then the items' prices.
 * A value without a currency is in USD (Segment's default).
 */
function money(read: PropertyReader, items: readonly JsonObject[]): JsonObject {
  const currency = read.text('currency')?.toUpperCase();
  const value =
    read.number('value') ??
    read.number('revenue') ??
    read.number('subtotal') ??
    read.number('total') ??
    itemsValue(items);
  return compact({ currency: currency ?? (value === undefined ? undefined : 'USD'), value });
}

/** view_item, add_to_cart, ...: the product the event is, else its `products[]`. */
const productEvent: ParamsOf = (read) => {
  const items = ownProduct(read) ?? productItems(read);
  return { ...money(read, items), items };
};

const productList: ParamsOf = (read) =>
  compact({
    item_list_id: read.text('list_id', 'listId'),
    item_list_name: read.text('category'),
    items: productItems(read),
  });

const clickedProduct: ParamsOf = (read) =>
  compact({ item_list_id: read.text('list_id', 'listId'), items: ownProduct(read) });

const cart: ParamsOf = (read) => {
  const items = orderItems(read);
  return { ...money(read, items), items };
};

const checkout: ParamsOf = (read) => ({
  ...cart(read),
  ...compact({ coupon: read.text('coupon') }),
});

const paymentInfo: ParamsOf = (read) => ({
  ...checkout(read),
  ...compact({ payment_type: read.text('payment_method', 'paymentMethod') }),
});

const transaction: ParamsOf = (read) => ({
  ...compact({ transaction_id: read.text('order_id', 'orderId') }),
  ...checkout(read),
  ...compact({ shipping: read.number('shipping'), tax: read.number('tax') }),
});

const promotion: ParamsOf = (read) => ({
  ...compact({
    promotion_id: read.text('promotion_id', 'promotionId'),
    promotion_name: read.text('name'),
    creative_name: read.text('creative'),
    creative_slot: read.text('position'),
  }),
  items: productItems(read),
});

const method: ParamsOf = (read) => compact({ method: read.text('method') });

const share =
  (contentType: string, ...idKeys: string[]): ParamsOf =>
  (read) =>
    compact({
      method: read.text('share_via', 'shareVia', 'method'),
      content_type: contentType,
      item_id: read.text(...idKeys),
    });

/** The words of an event name, lower-cased: `orderCompleted` and `Order_Completed` alike. */
export function specName(event: string): string {
  return event
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();
}

/** Segment event name → GA4 recommended event and how its parameters are built. */
const SPEC_EVENTS: ReadonlyArray<[string, string, ParamsOf]> = [
  ['Products Searched', 'search', (read) => compact({ search_term: read.text('query') })],
  ['Product List Viewed', 'view_item_list', productList],
  ['Product List Filtered', 'view_item_list', productList],
  ['Promotion Viewed', 'view_promotion', promotion],
  ['Promotion Clicked', 'select_promotion', promotion],
  ['Product Clicked', 'select_item', clickedProduct],
  ['Product Viewed', 'view_item', productEvent],
  ['Product Added', 'add_to_cart', productEvent],
  ['Product Removed', 'remove_from_cart', productEvent],
  ['Cart Viewed', 'view_cart', cart],
  ['Checkout Started', 'begin_checkout', checkout],
  ['Payment Info Entered', 'add_payment_info', paymentInfo],
  ['Order Completed', 'purchase', transaction],
  ['Order Refunded', 'refund', transaction],
  ['Product Added to Wishlist', 'add_to_wishlist', productEvent],
  ['Wishlist Product Added to Cart', 'add_to_cart', productEvent],
  ['Product Shared', 'share', share('product', 'product_id', 'productId')],
  ['Cart Shared', 'share', share('cart', 'cart_id', 'cartId')],
  ['Signed Up', 'sign_up', method],
  ['Signed In', 'login', method],
];

const RECOMMENDED_EVENTS: ReadonlyMap<string, { name: string; params: ParamsOf }> = new Map(
  SPEC_EVENTS.map(([segment, name, params]) => [specName(segment), { name, params }]),
);

/**
 * The GA4 event of a track event: the recommended event of a Segment semantic event, else a
 * custom event named in snake_case. `products[]` become `items` either way (a custom event named
 * like a GA4 event may carry `items` as they are).
 */
export function trackEventOf(event: string, properties: JsonObject): Ga4TrackEvent {
  const read = new PropertyReader(properties);
  const recommended = RECOMMENDED_EVENTS.get(specName(event));
  const name = recommended?.name ?? customEventName(event);
  const params = recommended?.params(read) ?? {};
  if (!Array.isArray(params.items) || !params.items.length) {
    const items = productItems(read);
    params.items = items.length ? items : ga4Items(read);
  }
  return { name, params, custom: read.rest() };
}
