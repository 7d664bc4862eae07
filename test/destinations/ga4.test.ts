import { ga4 } from '../../destinations/ga4';
import {
  bodyOf,
  combined,
  contextFor,
  identify,
  onlyRequest,
  segmentEvent,
  testConfigErrors,
  TIMESTAMP_MS,
  track,
} from './support';

const context = contextFor(ga4, { measurementId: 'G-7Q2RW1P9ZK', apiSecret: 'mp-secret' });
const CLIENT_ID = 'a1b2c3d4-0000-4c4c-8888-0123456789ab';
const MICROS = TIMESTAMP_MS * 1000;

/** The one GA4 event of an event's request. */
function ga4EventOf(event: ReturnType<typeof track>, ctx = context) {
  const body = bodyOf(onlyRequest(ga4, ctx, event)) as { events: Record<string, unknown>[] };
  expect(body.events).toHaveLength(1);
  return body.events[0];
}

const ORDER = {
  order_id: 'o-1001',
  affiliation: 'Acme Web',
  revenue: 55.5,
  total: 64.9,
  shipping: 4.9,
  tax: 4.5,
  coupon: 'SPRING',
  currency: 'eur',
  gift_wrap: true,
  products: [
    {
      product_id: 'sku-1',
      name: 'Mug',
      brand: 'Acme',
      category: 'Kitchen',
      variant: 'blue',
      price: 12.5,
      quantity: 2,
      position: 1,
    },
    { sku: 'sku-2', name: 'Tea', price: 30.5, quantity: 1, coupon: 'TEA10' },
    { note: 'no id and no name: not an item' },
  ],
};

describe('ga4 config', () => {
  test('fills defaults', () => {
    expect(context.config).toEqual({
      measurementId: 'G-7Q2RW1P9ZK',
      apiSecret: 'mp-secret',
      region: 'global',
      clientIdPath: 'anonymousId',
      appInstanceIdPath: 'integrations.Google Analytics 4.appInstanceId',
      userIdAsClientId: false,
    });
  });

  testConfigErrors('ga4', [
    [{ apiSecret: 's' }, 'measurementId: required (or firebaseAppId, for an app stream)'],
    [{ measurementId: 'G-ABCDE' }, 'apiSecret: required with measurementId'],
    [{ firebaseAppId: '1:1234567890:android:0a1b2c3d4e5f' }, 'firebaseApiSecret: required'],
    [{ firebaseAppId: 'my-app', firebaseApiSecret: 's' }, 'firebaseAppId: must be a Firebase'],
    [
      { measurementId: 'G-ABCDE', apiSecret: 's', consent: { adUserData: [] } },
      'consent.adUserData',
    ],
    [{ measurementId: 'G-ABCDE', apiSecret: 's', consent: { ads: ['C0004'] } }, 'unknown field'],
    [{ measurementId: 'UA-1234-1', apiSecret: 's' }, 'measurementId: must be a GA4 measurement id'],
    [{ measurementId: 'G-ABCDE', apiSecret: '' }, 'apiSecret: must not be empty'],
    [{ measurementId: 'G-ABCDE', apiSecret: 's', region: 'us' }, 'region: Invalid option'],
    [
      { measurementId: 'G-ABCDE', apiSecret: 's', identifyEventName: 'user identified' },
      'identifyEventName: must be a valid GA4 event name',
    ],
  ]);
});

describe('ga4 mapping', () => {
  test('Order Completed → purchase: the exact request', () => {
    const request = onlyRequest(ga4, context, track('Order Completed', ORDER));
    expect(request).toMatchObject({
      method: 'POST',
      url: 'https://www.google-analytics.com/mp/collect?measurement_id=G-7Q2RW1P9ZK&api_secret=mp-secret',
      headers: { 'Content-Type': 'application/json' },
    });
    expect(bodyOf(request)).toEqual({
      client_id: CLIENT_ID,
      user_id: 'user-4711',
      events: [
        {
          name: 'purchase',
          params: {
            currency: 'EUR',
            value: 55.5,
            transaction_id: 'o-1001',
            tax: 4.5,
            shipping: 4.9,
            coupon: 'SPRING',
            // GA4's affiliation is an item parameter: the order's goes to each item.
            items: [
              {
                affiliation: 'Acme Web',
                item_id: 'sku-1',
                item_name: 'Mug',
                item_brand: 'Acme',
                item_category: 'Kitchen',
                item_variant: 'blue',
                price: 12.5,
                quantity: 2,
                index: 1,
              },
              {
                affiliation: 'Acme Web',
                item_id: 'sku-2',
                item_name: 'Tea',
                price: 30.5,
                quantity: 1,
                coupon: 'TEA10',
              },
            ],
            // Not GA4 parameters of purchase (value is the revenue): custom, by name.
            gift_wrap: 'true',
            total: 64.9,
          },
          timestamp_micros: MICROS,
        },
      ],
    });
  });

  test('page → page_view with location, title and referrer', () => {
    const event = segmentEvent('page', {
      name: 'Pricing',
      properties: { url: 'https://acme.example/pricing', path: '/pricing', plan: 'pro' },
    });
    expect(ga4EventOf(event)).toEqual({
      name: 'page_view',
      params: {
        page_location: 'https://acme.example/pricing',
        page_title: 'Pricing – Acme',
        page_referrer: 'https://www.google.com/',
        plan: 'pro',
      },
      timestamp_micros: MICROS,
    });
  });

  test('group → join_group', () => {
    expect(ga4EventOf(segmentEvent('group', { groupId: 'acme' }))).toEqual({
      name: 'join_group',
      params: { group_id: 'acme' },
      timestamp_micros: MICROS,
    });
  });

  test('identify sends nothing unless an event name is configured, then user properties without personal data', () => {
    const event = identify({
      plan: 'pro',
      email: 'ada@example.com',
      firstName: 'Ada',
      phone: '+44 20 7946 0018',
      age: 36,
      address: { a: 1 },
    });
    expect(ga4.transform(event, context)).toEqual([]);
    const withEvent = contextFor(ga4, {
      measurementId: 'G-7Q2RW1P9ZK',
      apiSecret: 'mp-secret',
      identifyEventName: 'user_identified',
    });
    expect(bodyOf(onlyRequest(ga4, withEvent, event))).toEqual({
      client_id: CLIENT_ID,
      user_id: 'user-4711',
      // Google's terms forbid personally identifiable information: contact traits stay behind.
      user_properties: {
        plan: { value: 'pro' },
        age: { value: 36 },
      },
      events: [{ name: 'user_identified', params: {}, timestamp_micros: MICROS }],
    });
  });

  test('client id: from the configured path, else the userId when allowed, else an error', () => {
    const fromContext = contextFor(ga4, {
      measurementId: 'G-7Q2RW1P9ZK',
      apiSecret: 's',
      clientIdPath: 'integrations.Google Analytics 4.clientId',
    });
    const event = track(
      'Signed In',
      {},
      {
        integrations: { 'Google Analytics 4': { clientId: '1234567.7654321' } },
      },
    );
    expect(bodyOf(onlyRequest(ga4, fromContext, event))).toMatchObject({
      client_id: '1234567.7654321',
    });
    const noClient = track('Signed In', {}, { anonymousId: undefined });
    expect(() => ga4.transform(noClient, context)).toThrow('GA4 needs a client id');
    const fallback = contextFor(ga4, {
      measurementId: 'G-7Q2RW1P9ZK',
      apiSecret: 's',
      userIdAsClientId: true,
    });
    expect(bodyOf(onlyRequest(ga4, fallback, noClient))).toMatchObject({ client_id: 'user-4711' });
  });

  test('EU collection endpoint', () => {
    const eu = contextFor(ga4, { measurementId: 'G-7Q2RW1P9ZK', apiSecret: 's', region: 'eu' });
    expect(onlyRequest(ga4, eu, track('Signed In')).url).toBe(
      'https://region1.google-analytics.com/mp/collect?measurement_id=G-7Q2RW1P9ZK&api_secret=s',
    );
  });

  test('screen → screen_view with the screen name (Firebase’s manual screen_view)', () => {
    const event = segmentEvent('screen', { name: 'Checkout', properties: { step: 2 } });
    expect(ga4EventOf(event)).toEqual({
      name: 'screen_view',
      params: { screen_name: 'Checkout', step: 2 },
      timestamp_micros: MICROS,
    });
  });

  test('alias is not sent to GA4', () => {
    expect(ga4.supportedTypes).toEqual(['track', 'page', 'screen', 'group', 'identify']);
  });
});

describe('ga4 batching', () => {
  test('events of one client and user share a request, up to 25', () => {
    const names = ['Signed In', 'Products Searched', 'Product Viewed'];
    const requests = names.map((name) => onlyRequest(ga4, context, track(name)));
    expect(new Set(requests.map((request) => request.batch!.key)).size).toBe(1);
    const body = bodyOf(combined(ga4, context, requests)) as { events: { name: string }[] };
    expect(body.events.map((event) => event.name)).toEqual(['login', 'search', 'view_item']);
    expect(ga4.batching!.maxItems).toBe(25);
    expect(ga4.batching!.maxBytes).toBeLessThan(130_000);
  });

  test('another user or client is another batch; the api_secret stays out of the key', () => {
    const one = onlyRequest(ga4, context, track('Signed In'));
    const otherUser = onlyRequest(ga4, context, track('Signed In', {}, { userId: 'user-9' }));
    const otherClient = onlyRequest(ga4, context, track('Signed In', {}, { anonymousId: 'c-2' }));
    expect(new Set([one, otherUser, otherClient].map((r) => r.batch!.key)).size).toBe(3);
    expect(one.batch!.key).not.toContain('mp-secret');
  });

  test('user properties of a batch are merged', () => {
    const withEvent = contextFor(ga4, {
      measurementId: 'G-7Q2RW1P9ZK',
      apiSecret: 's',
      identifyEventName: 'user_identified',
    });
    const requests = [
      onlyRequest(ga4, withEvent, identify({ plan: 'free', seats: 1 })),
      onlyRequest(ga4, withEvent, track('Signed In')),
      onlyRequest(ga4, withEvent, identify({ plan: 'pro' })),
    ];
    expect(bodyOf(combined(ga4, withEvent, requests))).toMatchObject({
      user_properties: { plan: { value: 'pro' }, seats: { value: 1 } },
    });
  });

  test('no interpretResponse: GA4 answers 2xx even to invalid events', () => {
    expect(ga4.interpretResponse).toBeUndefined();
  });
});
