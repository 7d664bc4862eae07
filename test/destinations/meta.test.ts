/**
 * The Meta Conversions API destination's mapping, from the examples of Meta's docs: the request
 * of "Using the API", the standard events reference, the customer information and app data
 * parameters. How Meta's answers are judged is tested here from the Graph API's documented error
 * shape, and end to end in meta-delivery.test.ts.
 */
import { facebookConversions } from '../../destinations/facebook-conversions';
import { sha256Hex } from '../../destinations/shared/values';
import {
  BROWSER_CONTEXT,
  MOBILE_CONTEXT,
  bodyOf,
  combined,
  contextFor,
  identify,
  onlyRequest,
  segmentEvent,
  testConfigErrors,
  track,
  verdictOf,
} from './support';

const CONFIG = { pixelId: '1234567890', accessToken: 'EAAtoken123' };
const context = contextFor(facebookConversions, CONFIG);
const EVENT_TIME = 1714564800;
const USER_ID_HASH = sha256Hex('user-4711');
const ANONYMOUS_ID_HASH = sha256Hex('a1b2c3d4-0000-4c4c-8888-0123456789ab');

type ServerEvent = Record<string, unknown> & {
  event_name: string;
  user_data: Record<string, unknown>;
  custom_data?: Record<string, unknown>;
};

/** The one server event an event maps to. */
function serverEventOf(event: ReturnType<typeof track>, ctx = context): ServerEvent {
  const body = bodyOf(onlyRequest(facebookConversions, ctx, event)) as { data: ServerEvent[] };
  expect(body.data).toHaveLength(1);
  return body.data[0];
}

/** The message of the mapping error an event fails with. */
function failureOf(event: ReturnType<typeof track>, ctx = context): string {
  try {
    facebookConversions.transform(event, ctx);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('the event was mapped');
}

describe('facebook_conversions config', () => {
  test('fills defaults', () => {
    expect(context.config).toEqual({
      ...CONFIG,
      apiVersion: 'v21.0',
      actionSource: 'website',
      eventNames: {},
      maxEventsPerRequest: 1000,
    });
  });

  testConfigErrors('facebook_conversions', [
    [{ accessToken: 't' }, 'pixelId: required'],
    [{ pixelId: 'px-1', accessToken: 't' }, 'pixelId: must be the numeric pixel (dataset) id'],
    [{ pixelId: '1' }, 'accessToken: required'],
    [{ ...CONFIG, apiVersion: '21' }, 'apiVersion: must look like v21.0'],
    [{ ...CONFIG, actionSource: 'web' }, 'actionSource: Invalid option'],
    [{ ...CONFIG, maxEventsPerRequest: 1001 }, 'maxEventsPerRequest'],
    [{ ...CONFIG, phoneCountryCode: '+1' }, 'phoneCountryCode: must be a country calling code'],
    [{ ...CONFIG, datasetId: '1' }, 'datasetId: unknown field'],
  ]);
});

describe('facebook_conversions: Meta’s example request', () => {
  // "Using the API", Send Requests: a website Purchase with hashed phone, IP, user agent, fbc,
  // fbp, currency, value and one product, from its page.
  const purchase = track(
    'Order Completed',
    {
      order_id: 'o-123',
      currency: 'usd',
      revenue: 123.45,
      products: [{ product_id: 'product123', quantity: 1 }],
    },
    {
      traits: undefined,
      context: {
        ip: '123.123.123.123',
        userAgent: BROWSER_CONTEXT.userAgent,
        page: { url: 'http://jaspers-market.com/product/123' },
        traits: { phone: '+1 234 567 8901' },
        fbc: 'fb.1.1554763741205.AbCdEfGhIjKlMnOpQrStUvWxYz1234567890',
        fbp: 'fb.1.1558571054389.1098115397',
      },
    },
  );

  test('the exact request', () => {
    const request = onlyRequest(facebookConversions, context, purchase);
    expect(request).toMatchObject({
      method: 'POST',
      url: 'https://graph.facebook.com/v21.0/1234567890/events?access_token=EAAtoken123',
      headers: { 'Content-Type': 'application/json' },
    });
    expect(bodyOf(request)).toEqual({
      data: [
        {
          event_name: 'Purchase',
          event_time: EVENT_TIME,
          event_id: 'ajs-next-1714564800000-4b1e2f',
          action_source: 'website',
          event_source_url: 'http://jaspers-market.com/product/123',
          user_data: {
            // Meta's example hash of the phone number 12345678901.
            ph: ['254aa248acb47dd654ca3ea53f48c2c26d641d23d7e2e93a1ec56258df7674c4'],
            external_id: [USER_ID_HASH, ANONYMOUS_ID_HASH],
            client_ip_address: '123.123.123.123',
            client_user_agent: BROWSER_CONTEXT.userAgent,
            fbc: 'fb.1.1554763741205.AbCdEfGhIjKlMnOpQrStUvWxYz1234567890',
            fbp: 'fb.1.1558571054389.1098115397',
          },
          custom_data: {
            currency: 'USD',
            value: 123.45,
            contents: [{ id: 'product123', quantity: 1 }],
            content_ids: ['product123'],
            content_type: 'product',
            order_id: 'o-123',
          },
        },
      ],
    });
  });

  test('a test event code goes in the body; batches carry many events', () => {
    const testing = contextFor(facebookConversions, { ...CONFIG, testEventCode: 'TEST4039' });
    const requests = [purchase, track('Signed Up', {}, { messageId: 'm-2' })].map(
      (event) => facebookConversions.transform(event, testing)[0],
    );
    const body = bodyOf(combined(facebookConversions, testing, requests)) as {
      data: ServerEvent[];
      test_event_code: string;
    };
    expect(body.test_event_code).toBe('TEST4039');
    expect(body.data.map((event) => event.event_name)).toEqual([
      'Purchase',
      'CompleteRegistration',
    ]);
  });

  test('maxEventsPerRequest narrows the batch', () => {
    const narrow = contextFor(facebookConversions, { ...CONFIG, maxEventsPerRequest: 10 });
    expect(onlyRequest(facebookConversions, narrow, purchase).batch?.limits).toEqual({
      maxItems: 10,
    });
  });
});

describe('facebook_conversions: Segment’s spec events as Meta standard events', () => {
  test.each([
    [
      'Order Completed',
      { order_id: 'o-1', total: 30, currency: 'EUR' },
      'Purchase',
      { value: 30, currency: 'EUR', order_id: 'o-1' },
    ],
    ['order completed', { revenue: 12 }, 'Purchase', { value: 12, currency: 'USD' }],
    [
      'Product Added',
      { product_id: 'p-1', name: 'Mug', price: 10, quantity: 3 },
      'AddToCart',
      {
        value: 30,
        content_ids: ['p-1'],
        contents: [{ id: 'p-1', quantity: 3, item_price: 10 }],
        content_name: 'Mug',
      },
    ],
    [
      'Product Added to Wishlist',
      { sku: 'SKU-9', price: 5 },
      'AddToWishlist',
      { value: 5, content_ids: ['SKU-9'] },
    ],
    [
      'Checkout Started',
      { value: 20, products: [{ product_id: 'a', quantity: 2 }, { product_id: 'b' }] },
      'InitiateCheckout',
      { value: 20, num_items: 3, content_ids: ['a', 'b'] },
    ],
    ['Payment Info Entered', { checkout_id: 'c-1' }, 'AddPaymentInfo', {}],
    [
      'Product Viewed',
      { product_id: 'p-2', name: 'Pot', category: 'Kitchen', price: 24 },
      'ViewContent',
      { value: 24, content_name: 'Pot', content_category: 'Kitchen', content_type: 'product' },
    ],
    [
      'Product List Viewed',
      { category: 'Deals', products: [{ product_id: 'x' }] },
      'ViewContent',
      { content_category: 'Deals', content_ids: ['x'] },
    ],
    ['Products Searched', { query: 'blue hotpants' }, 'Search', { search_string: 'blue hotpants' }],
    [
      'Signed Up',
      { status: 'verified', type: 'organic' },
      'CompleteRegistration',
      { status: 'verified' },
    ],
    ['Trial Started', { value: 0, currency: 'usd' }, 'StartTrial', { value: 0, currency: 'USD' }],
  ])('%s → %s', (name, properties, eventName, customData) => {
    const serverEvent = serverEventOf(track(name, properties));
    expect(serverEvent.event_name).toBe(eventName);
    expect(serverEvent.custom_data ?? {}).toMatchObject(customData);
  });

  test('a spec event’s custom_data holds what Meta reads, not the other properties', () => {
    const serverEvent = serverEventOf(track('Products Searched', { query: 'q', page: 2 }));
    expect(serverEvent.custom_data).toEqual({ search_string: 'q' });
  });

  test('other events are custom events with their own properties, contact details aside', () => {
    const serverEvent = serverEventOf(
      track('Report Exported', {
        format: 'csv',
        rows: 120,
        email: 'ada@example.com',
        owner_name: 'Ada',
        filters: { a: 1 },
      }),
    );
    expect(serverEvent.event_name).toBe('Report Exported');
    expect(serverEvent.custom_data).toEqual({ format: 'csv', rows: 120 });
  });

  test('eventNames maps an event to a Meta event first', () => {
    const ctx = contextFor(facebookConversions, {
      ...CONFIG,
      eventNames: { 'Lead Captured': 'Lead', 'Order Completed': 'Subscribe' },
    });
    expect(serverEventOf(track('lead captured'), ctx).event_name).toBe('Lead');
    expect(serverEventOf(track('Order Completed', { total: 5 }), ctx).event_name).toBe('Subscribe');
  });

  test('page → PageView from the page’s URL', () => {
    const page = segmentEvent('page', {
      name: 'Docs',
      properties: { url: 'https://acme.example/docs', title: 'Docs' },
    });
    expect(serverEventOf(page)).toEqual({
      event_name: 'PageView',
      event_time: EVENT_TIME,
      event_id: 'ajs-next-1714564800000-4b1e2f',
      action_source: 'website',
      event_source_url: 'https://acme.example/docs',
      user_data: {
        external_id: [USER_ID_HASH, ANONYMOUS_ID_HASH],
        client_ip_address: '203.0.113.7',
        client_user_agent: BROWSER_CONTEXT.userAgent,
      },
    });
  });

  test('identify, group and alias are not sent', () => {
    expect(facebookConversions.supportedTypes).toEqual(['track', 'page']);
    expect(facebookConversions.transform(identify({ email: 'a@b.co' }), context)).toEqual([]);
  });
});

describe('facebook_conversions: user_data', () => {
  test('every contact detail normalised and hashed; browser ids as they are', () => {
    const event = track(
      'Signed Up',
      {},
      {
        traits: {
          email: ' Ada@Example.com',
          phone: '(650) 555-1212',
          firstName: 'Ada',
          lastName: "O'Brien",
          gender: 'Female',
          birthday: '1990-07-14',
          address: {
            city: 'Menlo Park',
            state: 'California',
            postalCode: '94025-1234',
            country: 'United States',
          },
        },
        context: {
          ...BROWSER_CONTEXT,
          page: { url: 'https://acme.example/welcome?fbclid=IwAR2F4-dbP0l7Mn1' },
        },
      },
    );
    const ctx = contextFor(facebookConversions, { ...CONFIG, phoneCountryCode: '1' });
    expect(serverEventOf(event, ctx).user_data).toEqual({
      em: [sha256Hex('ada@example.com')],
      ph: ['e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176'],
      fn: sha256Hex('ada'),
      ln: sha256Hex('obrien'),
      ge: sha256Hex('f'),
      db: sha256Hex('19900714'),
      ct: sha256Hex('menlopark'),
      st: sha256Hex('ca'),
      zp: sha256Hex('94025'),
      country: sha256Hex('us'),
      external_id: [USER_ID_HASH, ANONYMOUS_ID_HASH],
      client_ip_address: '203.0.113.7',
      client_user_agent: BROWSER_CONTEXT.userAgent,
      // No _fbc cookie: the click id from the landing page, seen at the event's time.
      fbc: 'fb.1.1714564800000.IwAR2F4-dbP0l7Mn1',
    });
  });

  test('traits from context.traits (RudderStack SDKs) are matched too', () => {
    const event = track(
      'Signed Up',
      {},
      { context: { ...BROWSER_CONTEXT, traits: { email: 'a@b.co' } } },
    );
    expect(serverEventOf(event).user_data.em).toEqual([sha256Hex('a@b.co')]);
  });
});

describe('facebook_conversions: app events', () => {
  test('events from an app SDK are app events with app_data, madid and anon_id', () => {
    const event = track(
      'Order Completed',
      { revenue: 9.99 },
      {
        context: {
          ...MOBILE_CONTEXT,
          device: { ...MOBILE_CONTEXT.device, adTrackingEnabled: true },
        },
      },
    );
    const serverEvent = serverEventOf(event);
    expect(serverEvent).toMatchObject({
      event_name: 'Purchase',
      action_source: 'app',
      user_data: {
        client_ip_address: '198.51.100.23',
        madid: MOBILE_CONTEXT.device.advertisingId,
        anon_id: 'a1b2c3d4-0000-4c4c-8888-0123456789ab',
        country: sha256Hex('de'),
      },
      app_data: {
        advertiser_tracking_enabled: 1,
        extinfo: [
          'i2',
          '',
          '3.2.1',
          '321',
          '17.4',
          'iPhone15,2',
          'de_DE',
          '',
          'T-Mobile',
          '393',
          '852',
          '',
          '',
          '',
          '',
          '',
        ],
      },
    });
    expect(serverEvent).not.toHaveProperty('event_source_url');
  });

  test('properties.action_source overrides where the event happened', () => {
    const event = track(
      'Order Completed',
      { revenue: 5, action_source: 'physical_store' },
      { context: { ip: '1.2.3.4' } },
    );
    expect(serverEventOf(event).action_source).toBe('physical_store');
  });
});

describe('facebook_conversions: events Meta would refuse fail alone', () => {
  test('older than 7 days when received', () => {
    const event = track('Signed Up', {}, { timestamp: '2024-04-20T12:00:00.000Z' });
    expect(failureOf(event)).toMatch(/up to 7 days old/);
  });

  test('a website event without the browser’s user agent or URL', () => {
    const server = track('Signed Up', {}, { context: { ip: '1.2.3.4' } });
    expect(failureOf(server)).toMatch(/user agent .* and URL .* for website events/);
    const other = contextFor(facebookConversions, { ...CONFIG, actionSource: 'system_generated' });
    expect(serverEventOf(server, other).action_source).toBe('system_generated');
  });

  test('a Purchase without a value', () => {
    expect(failureOf(track('Order Completed', { order_id: 'o-1' }))).toMatch(/requires a value/);
  });

  test('an event with no customer information', () => {
    const other = contextFor(facebookConversions, { ...CONFIG, actionSource: 'other' });
    const nobody = track(
      'Signed Up',
      {},
      { userId: undefined, anonymousId: undefined, context: {} },
    );
    expect(failureOf(nobody, other)).toMatch(/at least one customer information parameter/);
  });
});

describe('facebook_conversions: Meta’s answers', () => {
  const graphError = (code: number, extra: Record<string, unknown> = {}) => ({
    error: { message: 'Error', type: 'OAuthException', code, fbtrace_id: 'AbC', ...extra },
  });

  test('success is left to the router', () => {
    expect(
      verdictOf(facebookConversions, 200, { events_received: 2, messages: [], fbtrace_id: 'x' }),
    ).toBeUndefined();
  });

  test.each([4, 17, 32, 341, 613, 80004])('code %i (throttling) retries after a minute', (code) => {
    expect(verdictOf(facebookConversions, 400, graphError(code))).toEqual({
      outcome: 'retry',
      reason: `Meta rate limit (code ${code}): Error`,
      afterMs: 60_000,
    });
  });

  test('throttling waits as long as X-Business-Use-Case-Usage says, or Retry-After', () => {
    const usage = JSON.stringify({
      '1234567890': [
        {
          type: 'ads_management',
          call_count: 100,
          total_cputime: 20,
          total_time: 20,
          estimated_time_to_regain_access: 5,
        },
      ],
    });
    expect(
      verdictOf(facebookConversions, 400, graphError(80004), {
        'x-business-use-case-usage': usage,
      }),
    ).toMatchObject({ afterMs: 300_000 });
    expect(
      verdictOf(facebookConversions, 429, graphError(4), { 'retry-after': '7' }),
    ).toMatchObject({ outcome: 'retry', afterMs: undefined });
  });

  test('temporary errors retry with the router’s backoff', () => {
    expect(verdictOf(facebookConversions, 500, graphError(2))).toMatchObject({ outcome: 'retry' });
    expect(verdictOf(facebookConversions, 400, graphError(100, { is_transient: true }))).toEqual({
      outcome: 'retry',
      reason: 'Meta temporary error (code 100): Error',
    });
  });

  test('invalid parameters and tokens are left to the router (4xx aborts)', () => {
    expect(
      verdictOf(facebookConversions, 400, graphError(100, { error_subcode: 2804003 })),
    ).toBeUndefined();
    expect(verdictOf(facebookConversions, 401, graphError(190))).toBeUndefined();
    expect(verdictOf(facebookConversions, 502, '<html>Bad gateway</html>')).toBeUndefined();
  });
});
