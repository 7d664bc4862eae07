import { amplitude } from '../../destinations/amplitude';
import { DestinationMappingError } from '../../destinations/destination';
import type { JsonObject } from '../../destinations/shared/values';
import {
  bodyOf,
  BROWSER_CONTEXT,
  combined,
  contextFor,
  identify,
  MOBILE_CONTEXT,
  onlyRequest,
  segmentEvent,
  sentBatch,
  testConfigErrors,
  TIMESTAMP_MS,
  track,
  verdictOf,
} from './support';

const context = contextFor(amplitude, { apiKey: 'amp-key-123' });

/** What every event of the default browser fixture carries. */
const BROWSER_BASE = {
  user_id: 'user-4711',
  device_id: 'a1b2c3d4-0000-4c4c-8888-0123456789ab',
  time: TIMESTAMP_MS,
  insert_id: 'ajs-next-1714564800000-4b1e2f',
  language: 'en-GB',
  ip: '203.0.113.7',
  platform: 'Web',
  library: 'analytics.js/next-1.70.0',
};

function eventsOf(request: ReturnType<typeof onlyRequest>) {
  return (bodyOf(request) as { events: unknown[] }).events;
}

describe('amplitude config', () => {
  test('fills defaults', () => {
    expect(context.config).toEqual({
      apiKey: 'amp-key-123',
      residency: 'us',
      api: 'httpapi',
      minIdLength: 5,
      pageNames: { named: 'Viewed {name} Page', unnamed: 'Loaded a Page' },
      screenNames: { named: 'Viewed {name} Screen', unnamed: 'Loaded a Screen' },
      groupType: 'company',
      revenuePer: 'order',
      traitsToIncrement: [],
      traitsToSetOnce: [],
      traitsToAppend: [],
      traitsToUnion: [],
    });
  });

  testConfigErrors('amplitude', [
    [{}, 'apiKey: required'],
    [{ apiKey: '' }, 'apiKey: must not be empty'],
    [{ apiKey: 'k', residency: 'de' }, 'residency: Invalid option'],
    [{ apiKey: 'k', minIdLength: 0 }, 'minIdLength: Too small'],
    [{ apiKey: 'k', pageNames: { named: '' } }, 'pageNames.named: Too small'],
    [{ apiKey: 'k', revenuePer: 'item' }, 'revenuePer: Invalid option'],
    [{ apiKey: 'k', traitsToUnion: 'tags' }, 'traitsToUnion: Invalid input'],
    [
      { apiKey: 'k', traitsToIncrement: ['karma'], traitsToSetOnce: ['karma'] },
      'traitsToSetOnce: "karma" is also in traitsToIncrement; a trait takes one operation',
    ],
  ]);
});

describe('amplitude mapping', () => {
  test('track: the exact HTTP V2 request', () => {
    const request = onlyRequest(amplitude, context, track('Song Played', { title: 'Blue' }));
    expect(request.method).toBe('POST');
    expect(request.url).toBe('https://api2.amplitude.com/2/httpapi');
    expect(request.headers).toEqual({ 'Content-Type': 'application/json' });
    expect(bodyOf(request)).toEqual({
      api_key: 'amp-key-123',
      events: [{ ...BROWSER_BASE, event_type: 'Song Played', event_properties: { title: 'Blue' } }],
      options: { min_id_length: 5 },
    });
  });

  test('EU residency and the Batch Event Upload API', () => {
    const eu = contextFor(amplitude, { apiKey: 'k', residency: 'eu', api: 'batch' });
    expect(onlyRequest(amplitude, eu, track('X')).url).toBe('https://api.eu.amplitude.com/batch');
  });

  test('mobile context: device, os, carrier, location, advertising id', () => {
    const event = segmentEvent('screen', {
      name: 'Checkout',
      properties: { step: 2 },
      context: MOBILE_CONTEXT,
      integrations: { Amplitude: { session_id: 1714564000000 } },
    });
    expect(eventsOf(onlyRequest(amplitude, context, event))).toEqual([
      {
        user_id: 'user-4711',
        device_id: 'a1b2c3d4-0000-4c4c-8888-0123456789ab',
        time: TIMESTAMP_MS,
        insert_id: 'ajs-next-1714564800000-4b1e2f',
        app_version: '3.2.1',
        os_name: 'iOS',
        os_version: '17.4',
        device_manufacturer: 'Apple',
        device_model: 'iPhone15,2',
        carrier: 'T-Mobile',
        country: 'Germany',
        region: 'BE',
        city: 'Berlin',
        location_lat: 52.52,
        location_lng: 13.405,
        language: 'de-DE',
        ip: '198.51.100.23',
        platform: 'iOS',
        idfa: '7A3CBEA0-BDF5-11E4-8DFC-AA07A5B093DB',
        library: 'analytics-swift/1.5.0',
        session_id: 1714564000000,
        event_type: 'Viewed Checkout Screen',
        event_properties: { step: 2 },
      },
    ]);
  });

  test('platform: device.type, else a mobile os.name, else Web for a browser', () => {
    // An Android app whose SDK sends no device.type, but a user agent (Android's HTTP client).
    const android = segmentEvent('track', {
      event: 'Song Played',
      context: {
        os: { name: 'Android', version: '14' },
        device: {
          manufacturer: 'Google',
          model: 'Pixel 8',
          advertisingId: '38400000-8cf0-11bd-b23e-10b96e40000d',
        },
        userAgent: 'Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Build/UD1A.230803.041)',
      },
    });
    expect(eventsOf(onlyRequest(amplitude, context, android))[0]).toMatchObject({
      os_name: 'Android',
      platform: 'Android',
      adid: '38400000-8cf0-11bd-b23e-10b96e40000d',
    });
    const ipad = segmentEvent('track', {
      event: 'X',
      context: { os: { name: 'iPadOS', version: '17.4' }, userAgent: 'Acme/3.2.1 CFNetwork' },
    });
    expect(eventsOf(onlyRequest(amplitude, context, ipad))[0]).toMatchObject({ platform: 'iOS' });
    // A browser names its desktop OS: the platform stays Web.
    const desktop = segmentEvent('track', {
      event: 'X',
      context: { ...BROWSER_CONTEXT, os: { name: 'Mac OS X', version: '14.4' } },
    });
    expect(eventsOf(onlyRequest(amplitude, context, desktop))[0]).toMatchObject({
      platform: 'Web',
    });
    const server = segmentEvent('track', { event: 'X', context: {} });
    expect(eventsOf(onlyRequest(amplitude, context, server))[0]).not.toHaveProperty('platform');
  });

  test('pages are named by the configured templates', () => {
    const named = segmentEvent('page', { name: 'Pricing', category: 'Docs' });
    const unnamed = segmentEvent('page', { properties: { url: 'https://acme.example/' } });
    const custom = contextFor(amplitude, {
      apiKey: 'k',
      pageNames: { named: '{category} {name} viewed' },
    });
    expect(eventsOf(onlyRequest(amplitude, context, named))[0]).toMatchObject({
      event_type: 'Viewed Pricing Page',
    });
    expect(eventsOf(onlyRequest(amplitude, context, unnamed))[0]).toMatchObject({
      event_type: 'Loaded a Page',
      event_properties: { url: 'https://acme.example/' },
    });
    expect(eventsOf(onlyRequest(amplitude, custom, named))[0]).toMatchObject({
      event_type: 'Docs Pricing viewed',
    });
    const dollar = segmentEvent('page', { name: 'Save $& more' });
    expect(eventsOf(onlyRequest(amplitude, context, dollar))[0]).toMatchObject({
      event_type: 'Viewed Save $& more Page',
    });
  });

  test('identify sets user properties through a $identify event', () => {
    const event = identify({ email: 'ada@example.com', plan: 'pro', address: { city: 'London' } });
    expect(eventsOf(onlyRequest(amplitude, context, event))).toEqual([
      {
        ...BROWSER_BASE,
        event_type: '$identify',
        user_properties: {
          $set: { email: 'ada@example.com', plan: 'pro', address: { city: 'London' } },
        },
      },
    ]);
  });

  test('identify: the traits config names go with $add, $setOnce, $append, $postInsert', () => {
    const operations = contextFor(amplitude, {
      apiKey: 'k',
      traitsToIncrement: ['karma', 'logins'],
      traitsToSetOnce: ['sign_up_date'],
      traitsToAppend: ['ab-tests'],
      traitsToUnion: ['interests', 'absent'],
    });
    // Amplitude's documented examples: add('karma', 1), setOnce('sign_up_date', ...),
    // append('ab-tests', 'new-user-tests'); `logins` arrives as text from a form.
    const event = identify(
      { karma: 1, sign_up_date: '2016-04-01', plan: 'pro', interests: ['jazz', 'blues'] },
      { context: { traits: { 'ab-tests': 'new-user-tests', logins: '3' } } },
    );
    expect(eventsOf(onlyRequest(amplitude, operations, event))[0]).toMatchObject({
      event_type: '$identify',
      user_properties: {
        $set: { plan: 'pro' },
        $setOnce: { sign_up_date: '2016-04-01' },
        $add: { karma: 1, logins: 3 },
        $append: { 'ab-tests': 'new-user-tests' },
        $postInsert: { interests: ['jazz', 'blues'] },
      },
    });
    // An increment that is no number cannot be added: it is set as sent, not lost.
    const text = identify({ karma: 'lots', plan: 'free' }, { context: {} });
    expect(eventsOf(onlyRequest(amplitude, operations, text))[0]).toMatchObject({
      user_properties: { $set: { karma: 'lots', plan: 'free' } },
    });
    expect(
      (eventsOf(onlyRequest(amplitude, operations, text))[0] as JsonObject).user_properties,
    ).not.toHaveProperty('$add');
  });

  test('group: the user joins the group, then the group gets its properties', () => {
    const event = segmentEvent('group', { groupId: 'acme-42', traits: { plan: 'enterprise' } });
    const grouped = contextFor(amplitude, { apiKey: 'k', groupType: 'org' });
    expect(eventsOf(onlyRequest(amplitude, grouped, event))).toEqual([
      {
        ...BROWSER_BASE,
        event_type: '$identify',
        groups: { org: 'acme-42' },
        user_properties: { $set: { org: 'acme-42' } },
      },
      {
        ...BROWSER_BASE,
        insert_id: 'ajs-next-1714564800000-4b1e2f-group',
        event_type: '$groupidentify',
        groups: { org: 'acme-42' },
        group_properties: { $set: { plan: 'enterprise' } },
      },
    ]);
  });

  test('revenue per order: the order’s revenue, never a price that Amplitude would count instead', () => {
    const order = track('Order Completed', { order_id: 'o-1', total: 99.5, currency: 'EUR' });
    expect(eventsOf(onlyRequest(amplitude, context, order))[0]).toMatchObject({ revenue: 99.5 });
    // The spec event however its sender writes it (RudderStack's users often snake_case it).
    const snake = track('order_completed', { order_id: 'o-2', total: 12 });
    expect(eventsOf(onlyRequest(amplitude, context, snake))[0]).toMatchObject({ revenue: 12 });
    // Amplitude counts price × quantity whenever a price is sent: 10 × 2 would replace the 25.
    const renewal = track('Subscription Renewed', {
      revenue: '25',
      price: 10,
      quantity: 2,
      product_id: 'plan-pro',
      revenueType: 'renewal',
    });
    const [renewed] = eventsOf(onlyRequest(amplitude, context, renewal)) as JsonObject[];
    expect(renewed).toMatchObject({ revenue: 25, productId: 'plan-pro', revenueType: 'renewal' });
    expect(renewed).not.toHaveProperty('price');
    expect(renewed).not.toHaveProperty('quantity');
    expect(renewed.event_properties).toMatchObject({ price: 10, quantity: 2 });
    const viewed = eventsOf(onlyRequest(amplitude, context, track('Product Viewed', { price: 5 })));
    expect(viewed[0]).not.toHaveProperty('price');
    expect(viewed[0]).not.toHaveProperty('revenue');
  });

  const perProduct = contextFor(amplitude, { apiKey: 'amp-key-123', revenuePer: 'product' });
  const ORDER = track('Order Completed', {
    order_id: 'o-1',
    revenue: 30,
    products: [
      { product_id: 'p-1', name: 'Mug', price: 10, quantity: 2 },
      { sku: 'sku-2', name: 'Saucer', price: '10' },
      { name: 'Gift wrap' },
    ],
  });

  test('revenue per product: a Product Purchased event per priced product, none on the order', () => {
    const [order, ...products] = eventsOf(
      onlyRequest(amplitude, perProduct, ORDER),
    ) as JsonObject[];
    expect(order).toMatchObject({
      event_type: 'Order Completed',
      insert_id: BROWSER_BASE.insert_id,
    });
    for (const key of ['revenue', 'price', 'quantity', 'productId'])
      expect(order).not.toHaveProperty(key);
    expect(products).toEqual([
      {
        ...BROWSER_BASE,
        insert_id: `${BROWSER_BASE.insert_id}-product-0`,
        event_type: 'Product Purchased',
        event_properties: {
          product_id: 'p-1',
          name: 'Mug',
          price: 10,
          quantity: 2,
          order_id: 'o-1',
        },
        price: 10,
        quantity: 2,
        productId: 'p-1',
      },
      {
        ...BROWSER_BASE,
        insert_id: `${BROWSER_BASE.insert_id}-product-1`,
        event_type: 'Product Purchased',
        event_properties: { sku: 'sku-2', name: 'Saucer', price: '10', order_id: 'o-1' },
        price: 10,
        quantity: 1,
        productId: 'sku-2',
      },
    ]);
  });

  test('revenue per product: an event’s own price and quantity, else its revenue', () => {
    const renewal = track('Subscription Renewed', { revenue: 20, price: 10, quantity: 2 });
    const [renewed] = eventsOf(onlyRequest(amplitude, perProduct, renewal)) as JsonObject[];
    expect(renewed).toMatchObject({ price: 10, quantity: 2 });
    expect(renewed).not.toHaveProperty('revenue');
    const donation = track('Donation Made', { revenue: 5 });
    expect(eventsOf(onlyRequest(amplitude, perProduct, donation))).toEqual([
      expect.objectContaining({ revenue: 5 }),
    ]);
    // Only an order is a purchase of its products: a checkout's revenue stays one amount.
    const checkout = track('Checkout Started', {
      revenue: 30,
      products: ORDER.properties!.products,
    });
    expect(eventsOf(onlyRequest(amplitude, perProduct, checkout))).toEqual([
      expect.objectContaining({ event_type: 'Checkout Started', revenue: 30 }),
    ]);
    const unpriced = track('Order Completed', { total: 12, products: [{ product_id: 'p-1' }] });
    expect(eventsOf(onlyRequest(amplitude, perProduct, unpriced))).toEqual([
      expect.objectContaining({ revenue: 12 }),
    ]);
  });

  test('revenue per product: an order of more than 500 priced products is counted per order', () => {
    const products = Array.from({ length: 501 }, (_, i) => ({ product_id: `p-${i}`, price: 1 }));
    const huge = track('Order Completed', { revenue: 501, products });
    expect(eventsOf(onlyRequest(amplitude, perProduct, huge))).toEqual([
      expect.objectContaining({ event_type: 'Order Completed', revenue: 501 }),
    ]);
  });

  test('ids shorter than minIdLength are dropped; an event left without one fails alone', () => {
    const shortUser = track('X', {}, { userId: '42' });
    const [event] = eventsOf(onlyRequest(amplitude, context, shortUser)) as Record<
      string,
      unknown
    >[];
    expect(event).not.toHaveProperty('user_id');
    expect(event.device_id).toBe('a1b2c3d4-0000-4c4c-8888-0123456789ab');
    const nothingLeft = track('X', {}, { userId: '42', anonymousId: 'abc' });
    expect(() => amplitude.transform(nothingLeft, context)).toThrow(DestinationMappingError);
    const lenient = contextFor(amplitude, { apiKey: 'k', minIdLength: 1 });
    const [kept] = eventsOf(onlyRequest(amplitude, lenient, nothingLeft)) as Record<
      string,
      unknown
    >[];
    expect(kept).toMatchObject({ user_id: '42', device_id: 'abc' });
    expect(bodyOf(onlyRequest(amplitude, lenient, nothingLeft))).toMatchObject({
      options: { min_id_length: 1 },
    });
  });

  test('alias is not supported', () => {
    expect(amplitude.supportedTypes).not.toContain('alias');
  });
});

describe('amplitude batching', () => {
  test('events of different users combine into one request within the limits', () => {
    const requests = ['user-aaaaa', 'user-bbbbb', 'user-ccccc'].map((userId, index) =>
      onlyRequest(
        amplitude,
        context,
        track('Clicked', { index }, { userId, messageId: `m${index}` }),
      ),
    );
    expect(new Set(requests.map((request) => request.batch!.key)).size).toBe(1);
    const body = bodyOf(combined(amplitude, context, requests)) as {
      events: { user_id: string }[];
    };
    expect(body.events.map((event) => event.user_id)).toEqual([
      'user-aaaaa',
      'user-bbbbb',
      'user-ccccc',
    ]);
    // A group item holds two events: 999 items never exceed the 2000 events of a request.
    expect(amplitude.batching!.maxItems * 2).toBeLessThan(2000);
    expect(amplitude.batching!.maxBytes).toBeLessThan(1_000_000);
    expect(requests[0].batch!.key).not.toContain('amp-key-123');
  });

  test('orders counted per product batch apart, few enough that a request stays under 2000 events', () => {
    const perProduct = contextFor(amplitude, { apiKey: 'k', revenuePer: 'product' });
    const orderOf = (products: number) =>
      onlyRequest(
        amplitude,
        perProduct,
        track('Order Completed', {
          products: Array.from({ length: products }, (_, i) => ({ sku: `s-${i}`, price: 1 })),
        }),
      );
    const plain = onlyRequest(amplitude, perProduct, track('Clicked'));
    const [small, three, large] = [orderOf(1), orderOf(3), orderOf(500)];
    // Two events (an order and its product) are an item like a group call's.
    expect(small.batch).toEqual({ key: plain.batch!.key, item: expect.any(Array) });
    expect(three.batch!.key).not.toBe(plain.batch!.key);
    expect(three.batch!.limits).toEqual({ maxItems: 499 });
    expect(orderOf(2).batch!.key).toBe(three.batch!.key);
    expect(orderOf(4).batch!.limits).toEqual({ maxItems: 249 });
    expect(large.batch!.limits).toEqual({ maxItems: 3 });
    for (const request of [three, large]) {
      const events = (request.batch!.item as unknown[]).length;
      expect(events * request.batch!.limits!.maxItems!).toBeLessThan(2000);
    }
  });
});

describe('amplitude responses', () => {
  test('429: retry after Amplitude’s 30 s pause, longer for a daily quota', () => {
    expect(verdictOf(amplitude, 429, { code: 429, throttled_users: { 'user-1': 40 } })).toEqual({
      outcome: 'retry',
      reason: 'Amplitude throttled a user or device in the request',
      afterMs: 30_000,
    });
    expect(
      verdictOf(amplitude, 429, { code: 429, exceeded_daily_quota_users: { 'user-1': 500001 } }),
    ).toMatchObject({ outcome: 'retry', afterMs: 3_600_000 });
  });

  test('a Retry-After header wins over the default pause', () => {
    expect(verdictOf(amplitude, 429, '', { 'Retry-After': '5' })).toMatchObject({
      outcome: 'retry',
      afterMs: undefined,
    });
  });

  // Three items: Ann's track (event 0), Ann's group (events 1 and 2), Bob's track (event 3).
  const batch = sentBatch(amplitude, context, [
    onlyRequest(amplitude, context, track('A', {}, { userId: 'ann-123', anonymousId: 'dev-ann' })),
    onlyRequest(
      amplitude,
      context,
      segmentEvent('group', { userId: 'ann-123', anonymousId: 'dev-ann', groupId: 'acme' }),
    ),
    onlyRequest(amplitude, context, track('B', {}, { userId: 'bob-456', anonymousId: 'dev-bob' })),
  ]);
  const resent = (status: number) => ({
    outcome: 'retry',
    reason: expect.stringMatching(
      new RegExp(`^Amplitude refused the request .*\\(HTTP ${status}\\)`),
    ),
  });

  test('429 naming events, users or devices: those pause, the others are sent again', () => {
    // The documented TooManyRequestsForDeviceError example, with this request's ids.
    const throttled = {
      code: 429,
      error: 'Too many requests for some devices and users',
      eps_threshold: 30,
      throttled_events: [3],
    };
    expect(verdictOf(amplitude, 429, throttled, {}, batch)).toEqual({
      outcome: 'per-item',
      items: [
        resent(429),
        resent(429),
        {
          outcome: 'retry',
          reason: 'Amplitude throttled a user or device in the request',
          afterMs: 30_000,
        },
      ],
    });
    const byIds = { code: 429, throttled_users: { 'ann-123': 31 }, throttled_devices: {} };
    expect(verdictOf(amplitude, 429, byIds, {}, batch)).toMatchObject({
      items: [{ afterMs: 30_000 }, { afterMs: 30_000 }, resent(429)],
    });
    const overQuota = { code: 429, exceeded_daily_quota_devices: { 'dev-bob': 500_001 } };
    expect(verdictOf(amplitude, 429, overQuota, {}, batch)).toMatchObject({
      items: [
        resent(429),
        resent(429),
        { afterMs: 3_600_000, reason: expect.stringMatching(/daily/) },
      ],
    });
  });

  test('400 naming events: those are aborted, the others sent again (Amplitude took none)', () => {
    const invalid = {
      code: 400,
      error: 'Invalid field values on some events',
      events_with_invalid_fields: { time: [2] },
      events_with_missing_fields: { event_type: [2] },
    };
    expect(verdictOf(amplitude, 400, invalid, {}, batch)).toEqual({
      outcome: 'per-item',
      items: [
        resent(400),
        {
          outcome: 'abort',
          reason: 'Amplitude rejected the event: invalid time, missing event_type',
        },
        resent(400),
      ],
    });
    // The documented SilencedDeviceID example, with this request's ids.
    const silenced = {
      code: 400,
      eps_threshold: 100,
      error: 'Events silenced for device_id',
      exceeded_daily_quota_devices: {},
      silenced_devices: ['dev-bob'],
      silenced_events: [3],
      throttled_devices: { 'dev-ann': 100 },
      throttled_events: [0],
    };
    expect(verdictOf(amplitude, 400, silenced, {}, batch)).toEqual({
      outcome: 'per-item',
      items: [
        {
          outcome: 'retry',
          reason: 'Amplitude throttled a user or device in the request',
          afterMs: 30_000,
        },
        resent(400),
        { outcome: 'abort', reason: 'Amplitude rejected the event: its device is silenced' },
      ],
    });
  });

  test('a 400 about the request, or naming events it did not carry, is judged whole', () => {
    const missingKey = {
      code: 400,
      error: 'Request missing required field',
      missing_field: 'api_key',
      events_with_missing_fields: { event_type: [3] },
    };
    expect(verdictOf(amplitude, 400, missingKey, {}, batch)).toBeUndefined();
    const outside = { code: 400, events_with_invalid_fields: { time: [4] } };
    expect(verdictOf(amplitude, 400, outside, {}, batch)).toBeUndefined();
  });

  test('other statuses follow the router’s rules', () => {
    expect(verdictOf(amplitude, 200, { code: 200, events_ingested: 1 })).toBeUndefined();
    expect(verdictOf(amplitude, 400, { code: 400, error: 'Invalid API key' })).toBeUndefined();
    expect(verdictOf(amplitude, 503, 'unavailable')).toBeUndefined();
  });
});
