/**
 * GA4's rules, apart from the request shape: the Segment → recommended event table and the
 * Measurement Protocol's naming and size limits.
 */
import { DestinationMappingError } from '../../destinations/destination';
import { ga4 } from '../../destinations/ga4';
import { customEventName, eventParams, userProperties } from '../../destinations/ga4/params';
import { bodyOf, contextFor, onlyRequest, TIMESTAMP_MS, track } from './support';

const context = contextFor(ga4, { measurementId: 'G-7Q2RW1P9ZK', apiSecret: 'mp-secret' });
const MICROS = TIMESTAMP_MS * 1000;

function ga4EventOf(event: ReturnType<typeof track>) {
  const body = bodyOf(onlyRequest(ga4, context, event)) as { events: Record<string, unknown>[] };
  expect(body.events).toHaveLength(1);
  return body.events[0];
}

/**
 * Google's example item (GA4 events reference, "Item parameters"), and the Segment product that
 * makes it. The examples' `value` 30.03 is its price × quantity.
 */
const GOOGLE_ITEM = {
  item_id: 'SKU_12345',
  item_name: 'Stan and Friends Tee',
  affiliation: 'Google Merchandise Store',
  coupon: 'SUMMER_FUN',
  index: 0,
  item_brand: 'Google',
  item_category: 'Apparel',
  item_variant: 'green',
  price: 10.01,
  quantity: 3,
};
const SEGMENT_PRODUCT = {
  product_id: 'SKU_12345',
  name: 'Stan and Friends Tee',
  affiliation: 'Google Merchandise Store',
  coupon: 'SUMMER_FUN',
  position: 0,
  brand: 'Google',
  category: 'Apparel',
  variant: 'green',
  price: 10.01,
  quantity: 3,
};

describe('ga4 recommended events: Segment spec events give Google’s documented examples', () => {
  test.each([
    ['Products Searched', { query: 't-shirts' }, 'search', { search_term: 't-shirts' }],
    [
      'Product List Viewed',
      { list_id: 'related_products', category: 'Related products', products: [SEGMENT_PRODUCT] },
      'view_item_list',
      {
        item_list_id: 'related_products',
        item_list_name: 'Related products',
        items: [GOOGLE_ITEM],
      },
    ],
    [
      'Product List Filtered',
      { list_id: 'related_products', products: [SEGMENT_PRODUCT] },
      'view_item_list',
      { item_list_id: 'related_products', items: [GOOGLE_ITEM] },
    ],
    [
      'Product Clicked',
      { list_id: 'related_products', ...SEGMENT_PRODUCT },
      'select_item',
      { item_list_id: 'related_products', items: [GOOGLE_ITEM] },
    ],
    [
      'Product Viewed',
      { currency: 'USD', ...SEGMENT_PRODUCT },
      'view_item',
      { currency: 'USD', value: 30.03, items: [GOOGLE_ITEM] },
    ],
    [
      'Product Added',
      { currency: 'USD', ...SEGMENT_PRODUCT },
      'add_to_cart',
      { currency: 'USD', value: 30.03, items: [GOOGLE_ITEM] },
    ],
    [
      'Product Removed',
      { currency: 'USD', ...SEGMENT_PRODUCT },
      'remove_from_cart',
      { currency: 'USD', value: 30.03, items: [GOOGLE_ITEM] },
    ],
    [
      'Product Added to Wishlist',
      { currency: 'USD', ...SEGMENT_PRODUCT },
      'add_to_wishlist',
      { currency: 'USD', value: 30.03, items: [GOOGLE_ITEM] },
    ],
    [
      'Wishlist Product Added to Cart',
      { wishlist_id: 'w-1', currency: 'USD', ...SEGMENT_PRODUCT },
      'add_to_cart',
      { currency: 'USD', value: 30.03, items: [GOOGLE_ITEM], wishlist_id: 'w-1' },
    ],
    [
      'Cart Viewed',
      { cart_id: 'c-1', currency: 'USD', products: [SEGMENT_PRODUCT] },
      'view_cart',
      { currency: 'USD', value: 30.03, items: [GOOGLE_ITEM], cart_id: 'c-1' },
    ],
    [
      'Checkout Started',
      { currency: 'USD', value: 30.03, coupon: 'SUMMER_FUN', products: [SEGMENT_PRODUCT] },
      'begin_checkout',
      { currency: 'USD', value: 30.03, coupon: 'SUMMER_FUN', items: [GOOGLE_ITEM] },
    ],
    [
      'Payment Info Entered',
      {
        currency: 'USD',
        coupon: 'SUMMER_FUN',
        payment_method: 'Credit Card',
        products: [SEGMENT_PRODUCT],
      },
      'add_payment_info',
      {
        currency: 'USD',
        value: 30.03,
        coupon: 'SUMMER_FUN',
        payment_type: 'Credit Card',
        items: [GOOGLE_ITEM],
      },
    ],
    [
      'Order Completed',
      {
        order_id: 'T_12345',
        revenue: 30.03,
        tax: 4.9,
        shipping: 5.99,
        currency: 'USD',
        coupon: 'SUMMER_SALE',
        products: [SEGMENT_PRODUCT],
      },
      'purchase',
      {
        transaction_id: 'T_12345',
        value: 30.03,
        tax: 4.9,
        shipping: 5.99,
        currency: 'USD',
        coupon: 'SUMMER_SALE',
        items: [GOOGLE_ITEM],
      },
    ],
    [
      'Order Refunded',
      { order_id: 'T_12345', total: 30.03, currency: 'USD' },
      'refund',
      { transaction_id: 'T_12345', value: 30.03, currency: 'USD' },
    ],
    [
      'Promotion Viewed',
      {
        promotion_id: 'P_12345',
        name: 'Summer Sale',
        creative: 'Summer Banner',
        position: 'featured_app_1',
        products: [SEGMENT_PRODUCT],
      },
      'view_promotion',
      {
        promotion_id: 'P_12345',
        promotion_name: 'Summer Sale',
        creative_name: 'Summer Banner',
        creative_slot: 'featured_app_1',
        items: [GOOGLE_ITEM],
      },
    ],
    [
      'Promotion Clicked',
      { promotion_id: 'P_12345', name: 'Summer Sale' },
      'select_promotion',
      { promotion_id: 'P_12345', promotion_name: 'Summer Sale' },
    ],
    [
      'Product Shared',
      { share_via: 'Twitter', product_id: 'C_12345', share_message: 'Look!' },
      'share',
      { method: 'Twitter', content_type: 'product', item_id: 'C_12345', share_message: 'Look!' },
    ],
    [
      'Cart Shared',
      { share_via: 'email', cart_id: 'c-1', products: [SEGMENT_PRODUCT] },
      'share',
      { method: 'email', content_type: 'cart', item_id: 'c-1', items: [GOOGLE_ITEM] },
    ],
    ['Signed Up', { method: 'Google' }, 'sign_up', { method: 'Google' }],
    ['Signed In', { method: 'Google' }, 'login', { method: 'Google' }],
  ])('%s → %s', (segmentName, properties, name, params) => {
    expect(ga4EventOf(track(segmentName, properties))).toEqual({
      name,
      params,
      timestamp_micros: MICROS,
    });
  });

  test('value: revenue, then subtotal (GA4 leaves shipping and tax out of value), then total', () => {
    const order = { order_id: 'o-1', total: 40.89, subtotal: 30.03, shipping: 5.99, tax: 4.87 };
    expect(ga4EventOf(track('Order Completed', order)).params).toMatchObject({
      value: 30.03,
      total: 40.89,
    });
    const totalOnly = { order_id: 'o-1', total: 40.89 };
    expect(ga4EventOf(track('Order Completed', totalOnly)).params).toMatchObject({ value: 40.89 });
  });

  test('a GA4 event with no spec event, sent by its own name, goes as Google documents it', () => {
    const event = track('add_shipping_info', {
      currency: 'USD',
      value: 30.03,
      coupon: 'SUMMER_FUN',
      shipping_tier: 'Ground',
      items: [{ ...GOOGLE_ITEM, 'not a name': 'left out' }],
    });
    expect(ga4EventOf(event)).toEqual({
      name: 'add_shipping_info',
      params: {
        items: [GOOGLE_ITEM],
        coupon: 'SUMMER_FUN',
        currency: 'USD',
        shipping_tier: 'Ground',
        value: 30.03,
      },
      timestamp_micros: MICROS,
    });
  });

  test('spec events with no GA4 counterpart are custom events', () => {
    const event = track('Checkout Step Completed', { checkout_id: 'c-1', step: 2 });
    expect(ga4EventOf(event)).toEqual({
      name: 'checkout_step_completed',
      params: { checkout_id: 'c-1', step: 2 },
      timestamp_micros: MICROS,
    });
  });

  test('products without an id or a name are no items; an empty list sends none', () => {
    const event = track('Cart Viewed', { products: [{ price: 3 }, 'not a product'] });
    expect(ga4EventOf(event).params).toEqual({});
    expect(ga4EventOf(track('Order Cancelled', { products: [] })).params).toEqual({});
  });
});

describe('ga4: each mapping consumes only what it maps', () => {
  test('Promotion Clicked with products keeps its items, and its revenue as a parameter', () => {
    const event = track('Promotion Clicked', {
      promotion_id: 'promo-1',
      name: 'Spring',
      creative: 'banner',
      position: 'top',
      revenue: 20,
      products: [{ product_id: 'p1', name: 'Mug', price: 20 }],
    });
    expect(ga4EventOf(event).params).toEqual({
      promotion_id: 'promo-1',
      promotion_name: 'Spring',
      creative_name: 'banner',
      creative_slot: 'top',
      items: [{ item_id: 'p1', item_name: 'Mug', price: 20 }],
      revenue: 20,
    });
  });

  test('Product Added with products[] and a total: add_to_cart with those items and value', () => {
    const event = track('Product Added', {
      cart_id: 'c-9',
      total: 30,
      products: [{ product_id: 'p1', name: 'Mug', price: 10, quantity: 3 }],
    });
    expect(ga4EventOf(event).params).toEqual({
      currency: 'USD',
      value: 30,
      items: [{ item_id: 'p1', item_name: 'Mug', price: 10, quantity: 3 }],
      cart_id: 'c-9',
    });
  });

  test('Signed Up keeps name and coupon', () => {
    const event = track('Signed Up', { method: 'Google', name: 'Ada', coupon: 'WELCOME' });
    expect(ga4EventOf(event).params).toEqual({ method: 'Google', coupon: 'WELCOME', name: 'Ada' });
  });

  test('Products Searched keeps category and price', () => {
    const event = track('Products Searched', { query: 'blue mug', category: 'Kitchen', price: 10 });
    expect(ga4EventOf(event).params).toEqual({
      search_term: 'blue mug',
      category: 'Kitchen',
      price: 10,
    });
  });

  test('a fallback is consumed only when taken: total stays when revenue gives the value', () => {
    const event = track('Order Completed', { order_id: 'o-1', revenue: 20, total: 24.5 });
    expect(ga4EventOf(event).params).toEqual({
      transaction_id: 'o-1',
      currency: 'USD',
      value: 20,
      total: 24.5,
    });
  });
});

describe('ga4: semantic event names as people write them', () => {
  test.each([
    'Order Completed',
    'order completed',
    'Order completed',
    'ORDER COMPLETED',
    'order_completed',
    'Order_Completed',
    'orderCompleted',
    'OrderCompleted',
    'order-completed',
    '  Order   Completed ',
  ])('%j → purchase with its items', (name) => {
    const event = track(name, {
      order_id: 'o-1',
      revenue: 20,
      products: [{ product_id: 'p1', name: 'A product with a name long enough', price: 20 }],
    });
    expect(ga4EventOf(event)).toEqual({
      name: 'purchase',
      params: {
        transaction_id: 'o-1',
        currency: 'USD',
        value: 20,
        items: [{ item_id: 'p1', item_name: 'A product with a name long enough', price: 20 }],
      },
      timestamp_micros: MICROS,
    });
  });

  test('other events with products[] carry them as items, not as cut JSON', () => {
    const event = track('Order Cancelled', {
      order_id: 'o-1',
      products: [{ product_id: 'p1', name: 'Mug' }],
    });
    expect(ga4EventOf(event)).toEqual({
      name: 'order_cancelled',
      params: { items: [{ item_id: 'p1', item_name: 'Mug' }], order_id: 'o-1' },
      timestamp_micros: MICROS,
    });
  });
});

describe('ga4 naming and limits', () => {
  test('other events: snake_case names, valid parameter names, values cut to 100', () => {
    const event = track('Trial Extended By Sales', {
      days: 14,
      'Sales Rep': 'Grace',
      notes: 'x'.repeat(150),
      ga_session_id: 'reserved prefix: dropped',
      '42nd': 'no leading letter: dropped',
      nested: { a: 1 },
    });
    expect(ga4EventOf(event)).toEqual({
      name: 'trial_extended_by_sales',
      params: { days: 14, sales_rep: 'Grace', notes: 'x'.repeat(100), nested: '{"a":1}' },
      timestamp_micros: MICROS,
    });
  });

  test('event names are cut to 40 characters; reserved or unnameable ones fail', () => {
    expect(customEventName('A Very Long Event Name That Keeps Going And Going')).toBe(
      'a_very_long_event_name_that_keeps_going',
    );
    expect(() => customEventName('Session Start')).toThrow(DestinationMappingError);
    expect(() => customEventName('firebase_thing')).toThrow('reserved by GA4');
    expect(() => customEventName('!!!')).toThrow('cannot be made a GA4 event name');
    expect(() => ga4.transform(track('First Visit'), context)).toThrow(DestinationMappingError);
  });

  test('past 25 parameters: the mapped ones, then custom ones by name; the rest left out', () => {
    const custom = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`p${i}`, i]));
    const order = { order_id: 'o-1', revenue: 10, tax: 1, ...custom };
    const params = ga4EventOf(track('Order Completed', order)).params as Record<string, unknown>;
    expect(Object.keys(params)).toEqual([
      'transaction_id',
      'currency',
      'value',
      'tax',
      ...['p0', 'p1', 'p10', 'p11', 'p12', 'p13', 'p14', 'p15', 'p16', 'p17', 'p18', 'p19'],
      ...['p2', 'p20', 'p21', 'p22', 'p23', 'p24', 'p25', 'p26', 'p27'],
    ]);
    // The same properties written in another order keep the same 25.
    const reversed = Object.fromEntries(Object.entries(order).reverse());
    expect(ga4EventOf(track('Order Completed', reversed)).params).toEqual(params);
  });

  test('two properties of one GA4 name: the first key by code unit order wins', () => {
    expect(eventParams({}, { sales_rep: 'b', 'Sales Rep': 'a' })).toEqual({ sales_rep: 'a' });
    expect(eventParams({}, { 'Sales Rep': 'a', sales_rep: 'b' })).toEqual({ sales_rep: 'a' });
  });

  test('user properties: names of 24, values of 36, reserved names left out', () => {
    expect(
      userProperties({
        'A Rather Long Property Name Indeed': 'y'.repeat(50),
        user_id: 'x',
        first_open_time: 1,
        google_thing: 'x',
      }),
    ).toEqual({ a_rather_long_property_n: { value: 'y'.repeat(36) } });
  });
});
