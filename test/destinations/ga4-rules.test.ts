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

describe('ga4 recommended events', () => {
  test.each([
    ['Products Searched', { query: 'blue mug' }, 'search', { search_term: 'blue mug' }],
    [
      'Product List Viewed',
      { list_id: 'hot', category: 'Deals', products: [{ product_id: 'p1' }] },
      'view_item_list',
      { item_list_id: 'hot', item_list_name: 'Deals', items: [{ item_id: 'p1' }] },
    ],
    [
      'Product Clicked',
      { product_id: 'p1', name: 'Mug', position: 3 },
      'select_item',
      { items: [{ item_id: 'p1', item_name: 'Mug', index: 3 }] },
    ],
    [
      'Product Viewed',
      { product_id: 'p1', price: 10, currency: 'USD' },
      'view_item',
      { currency: 'USD', value: 10, items: [{ item_id: 'p1', price: 10 }] },
    ],
    [
      'Product Added',
      { product_id: 'p1', price: 10, quantity: 3 },
      'add_to_cart',
      { currency: 'USD', value: 30, items: [{ item_id: 'p1', price: 10, quantity: 3 }] },
    ],
    ['Product Removed', { product_id: 'p1' }, 'remove_from_cart', { items: [{ item_id: 'p1' }] }],
    [
      'Product Added to Wishlist',
      { product_id: 'p1' },
      'add_to_wishlist',
      { items: [{ item_id: 'p1' }] },
    ],
    [
      'Cart Viewed',
      { value: 20, products: [{ product_id: 'p1' }] },
      'view_cart',
      { currency: 'USD', value: 20, items: [{ item_id: 'p1' }] },
    ],
    [
      'Checkout Started',
      { revenue: 20, coupon: 'X', products: [{ product_id: 'p1' }] },
      'begin_checkout',
      { currency: 'USD', value: 20, coupon: 'X', items: [{ item_id: 'p1' }] },
    ],
    [
      'Payment Info Entered',
      { payment_method: 'card' },
      'add_payment_info',
      { payment_type: 'card' },
    ],
    [
      'Order Refunded',
      { order_id: 'o-1', total: 20 },
      'refund',
      { currency: 'USD', value: 20, transaction_id: 'o-1' },
    ],
    [
      'Promotion Viewed',
      { promotion_id: 'promo-1', name: 'Spring', creative: 'banner', position: 'top' },
      'view_promotion',
      {
        promotion_id: 'promo-1',
        promotion_name: 'Spring',
        creative_name: 'banner',
        creative_slot: 'top',
      },
    ],
    [
      'Promotion Clicked',
      { promotion_id: 'promo-1' },
      'select_promotion',
      { promotion_id: 'promo-1' },
    ],
    [
      'Product Shared',
      { share_via: 'email', product_id: 'p1' },
      'share',
      { method: 'email', content_type: 'product', item_id: 'p1' },
    ],
    ['Signed Up', { method: 'google' }, 'sign_up', { method: 'google' }],
    ['Signed In', { method: 'password' }, 'login', { method: 'password' }],
  ])('%s → %s', (segmentName, properties, name, params) => {
    expect(ga4EventOf(track(segmentName, properties))).toEqual({
      name,
      params,
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

  test('at most 25 parameters, standard ones first', () => {
    const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`p${i}`, i]));
    const params = eventParams({ currency: 'USD' }, many);
    expect(Object.keys(params)).toHaveLength(25);
    expect(Object.keys(params)[0]).toBe('currency');
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
