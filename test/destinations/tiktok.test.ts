/**
 * The TikTok Events API destination's mapping, from TikTok's documented examples: the payload
 * Events Manager shows for the Events API (web events), the supported standard events, and the
 * customer file's formats for email (lower case) and phone (E.164). How TikTok's answers are
 * judged is tested here from its `code`/`message` envelope, and end to end in
 * tiktok-delivery.test.ts.
 */
import { tiktok } from '../../destinations/tiktok';
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

const CONFIG = { accessToken: 'tt-token-7f3a9c', pixelCode: 'COQDA8RC77U2TMR44LI0' };
const context = contextFor(tiktok, CONFIG);
const EVENT_TIME = 1714564800;

type TikTokEvent = Record<string, unknown> & {
  event: string;
  user: Record<string, unknown>;
  properties?: Record<string, unknown>;
};

interface Body {
  event_source: string;
  event_source_id: string;
  test_event_code?: string;
  data: TikTokEvent[];
}

function tiktokEventOf(event: ReturnType<typeof track>, ctx = context): TikTokEvent {
  const body = bodyOf(onlyRequest(tiktok, ctx, event)) as Body;
  expect(body.data).toHaveLength(1);
  return body.data[0];
}

describe('tiktok_events config', () => {
  test('fills defaults', () => {
    expect(context.config).toEqual({
      ...CONFIG,
      eventNames: {},
      pageEvent: 'Pageview',
      maxEventsPerRequest: 1000,
    });
  });

  testConfigErrors('tiktok_events', [
    [{ pixelCode: 'C1' }, 'accessToken: required'],
    [
      { accessToken: 't' },
      'pixelCode: a pixelCode (web events) or an appId (app events) is required',
    ],
    [{ ...CONFIG, maxEventsPerRequest: 0 }, 'maxEventsPerRequest'],
    [{ ...CONFIG, pixelId: 'C1' }, 'pixelId: unknown field'],
  ]);
});

describe('tiktok_events: TikTok’s example request', () => {
  // Events Manager's Events API payload: a web ViewContent with hashed email, phone and
  // external id, click id, cookie id, IP, user agent, the page, contents, value and currency.
  const viewed = track(
    'Product Viewed',
    { product_id: '1077218', name: 'shirt', price: 100, currency: 'USD' },
    {
      traits: { email: 'Ada@Example.com ', phone: '+1 (213) 373-4253' },
      context: {
        ...BROWSER_CONTEXT,
        page: { url: 'http://demo.mywebsite.com/purchase', referrer: 'https://www.tiktok.com/' },
        ttclid: 'E.C.P.v3CsrCpZ6D',
        ttp: '2F7h37YkS1j57AYSKTI7IHhJPYH',
      },
    },
  );

  test('the exact request', () => {
    const request = onlyRequest(tiktok, context, viewed);
    expect(request).toMatchObject({
      method: 'POST',
      url: 'https://business-api.tiktok.com/open_api/v1.3/event/track/',
      headers: { 'Access-Token': 'tt-token-7f3a9c', 'Content-Type': 'application/json' },
    });
    expect(bodyOf(request)).toEqual({
      event_source: 'web',
      event_source_id: 'COQDA8RC77U2TMR44LI0',
      data: [
        {
          event: 'ViewContent',
          event_id: 'ajs-next-1714564800000-4b1e2f',
          event_time: EVENT_TIME,
          user: {
            email: sha256Hex('ada@example.com'),
            // E.164 before hashing: "+" and the country code.
            phone: sha256Hex('+12133734253'),
            external_id: sha256Hex('user-4711'),
            ttclid: 'E.C.P.v3CsrCpZ6D',
            ttp: '2F7h37YkS1j57AYSKTI7IHhJPYH',
            ip: '203.0.113.7',
            user_agent: BROWSER_CONTEXT.userAgent,
          },
          page: { url: 'http://demo.mywebsite.com/purchase', referrer: 'https://www.tiktok.com/' },
          properties: {
            contents: [
              { content_id: '1077218', content_type: 'product', content_name: 'shirt', price: 100 },
            ],
            value: 100,
            currency: 'USD',
          },
        },
      ],
    });
  });

  test('the click id from the landing page when the SDK did not keep it', () => {
    const event = track(
      'Signed Up',
      {},
      {
        context: { ...BROWSER_CONTEXT, page: { url: 'https://acme.example/?ttclid=E.C.P.abc' } },
      },
    );
    expect(tiktokEventOf(event).user.ttclid).toBe('E.C.P.abc');
  });

  test('a test event code goes in the body; a batch carries many events', () => {
    const testing = contextFor(tiktok, { ...CONFIG, testEventCode: 'TEST12345' });
    const requests = [viewed, track('Signed Up', {}, { messageId: 'm-2' })].map(
      (event) => tiktok.transform(event, testing)[0],
    );
    const body = bodyOf(combined(tiktok, testing, requests)) as Body;
    expect(body).toMatchObject({ event_source: 'web', test_event_code: 'TEST12345' });
    expect(body.data.map((event) => event.event)).toEqual(['ViewContent', 'CompleteRegistration']);
  });
});

describe('tiktok_events: Segment’s spec events as TikTok standard events', () => {
  test.each([
    [
      'Order Completed',
      {
        order_id: 'o-1',
        revenue: 30,
        currency: 'eur',
        products: [{ product_id: 'p-1', quantity: 2, price: 15 }],
      },
      'Purchase',
      {
        value: 30,
        currency: 'EUR',
        order_id: 'o-1',
        contents: [{ content_id: 'p-1', content_type: 'product', quantity: 2, price: 15 }],
      },
    ],
    ['ORDER_COMPLETED', { total: 12 }, 'Purchase', { value: 12, currency: 'USD' }],
    [
      'Product Added',
      { sku: 'S-1', price: 4, quantity: 2 },
      'AddToCart',
      {
        value: 8,
        currency: 'USD',
        contents: [{ content_id: 'S-1', content_type: 'product', price: 4, quantity: 2 }],
      },
    ],
    [
      'Product Added to Wishlist',
      { product_id: 'p-3' },
      'AddToWishlist',
      { contents: [{ content_id: 'p-3', content_type: 'product' }] },
    ],
    ['Checkout Started', { value: 20 }, 'InitiateCheckout', { value: 20, currency: 'USD' }],
    ['Payment Info Entered', {}, 'AddPaymentInfo', undefined],
    [
      'Product Viewed',
      { product_id: 'p-2', brand: 'Acme', category: 'Mugs' },
      'ViewContent',
      {
        contents: [
          { content_id: 'p-2', content_type: 'product', brand: 'Acme', content_category: 'Mugs' },
        ],
      },
    ],
    [
      'Product List Viewed',
      { products: [{ product_id: 'x' }, { product_id: 'y' }] },
      'ViewContent',
      {
        contents: [
          { content_id: 'x', content_type: 'product' },
          { content_id: 'y', content_type: 'product' },
        ],
      },
    ],
    ['Products Searched', { query: 'mugs' }, 'Search', { query: 'mugs' }],
    ['Signed Up', { method: 'google' }, 'CompleteRegistration', undefined],
    [
      'Report Exported',
      { format: 'csv', description: 'Q2 report' },
      'Report Exported',
      { description: 'Q2 report' },
    ],
  ])('%s → %s', (name, properties, eventName, tiktokProperties) => {
    const event = tiktokEventOf(track(name, properties));
    expect(event.event).toBe(eventName);
    expect(event.properties).toEqual(tiktokProperties);
  });

  test('eventNames maps an event to a TikTok event first (CompletePayment for orders)', () => {
    const ctx = contextFor(tiktok, {
      ...CONFIG,
      eventNames: { 'Order Completed': 'CompletePayment' },
    });
    expect(tiktokEventOf(track('Order Completed', { total: 1 }), ctx).event).toBe(
      'CompletePayment',
    );
  });

  test('page → Pageview with the page, or nothing when pageEvent is null', () => {
    const page = segmentEvent('page', { properties: { url: 'https://acme.example/docs' } });
    expect(tiktokEventOf(page)).toMatchObject({
      event: 'Pageview',
      page: { url: 'https://acme.example/docs', referrer: 'https://www.google.com/' },
    });
    expect(tiktokEventOf(page)).not.toHaveProperty('properties');
    const off = contextFor(tiktok, { ...CONFIG, pageEvent: null });
    expect(tiktok.transform(page, off)).toEqual([]);
  });

  test('identify, group and alias are not sent', () => {
    expect(tiktok.supportedTypes).toEqual(['track', 'page']);
    expect(tiktok.transform(identify({ email: 'a@b.co' }), context)).toEqual([]);
  });
});

describe('tiktok_events: app events', () => {
  const appContext = contextFor(tiktok, { ...CONFIG, appId: '7234567890' });
  const purchase = track('Order Completed', { revenue: 9.99 }, { context: MOBILE_CONTEXT });

  test('events from an app SDK go to the app’s event source, with the app', () => {
    const request = onlyRequest(tiktok, appContext, purchase);
    const body = bodyOf(request) as Body;
    expect(body).toMatchObject({ event_source: 'app', event_source_id: '7234567890' });
    expect(body.data[0]).toEqual({
      event: 'Purchase',
      event_id: 'ajs-next-1714564800000-4b1e2f',
      event_time: EVENT_TIME,
      user: { external_id: sha256Hex('user-4711'), ip: '198.51.100.23' },
      app: { app_id: '7234567890', app_name: 'Acme', app_version: '3.2.1' },
      properties: { value: 9.99, currency: 'USD' },
    });
    // Web and app events never share a request: their sources differ.
    const web = onlyRequest(tiktok, appContext, track('Order Completed', { revenue: 1 }));
    expect(web.batch?.key).not.toBe(request.batch?.key);
  });

  test('app events without an appId, and web events without a pixelCode, are not sent', () => {
    expect(tiktok.transform(purchase, context)).toEqual([]);
    const appOnly = contextFor(tiktok, { accessToken: 't', appId: '7234567890' });
    expect(tiktok.transform(track('Signed Up'), appOnly)).toEqual([]);
  });
});

describe('tiktok_events: TikTok’s answers', () => {
  const answer = (code: number, message: string) => ({ code, message, request_id: '2024050112' });

  test('code 0 is success', () => {
    expect(verdictOf(tiktok, 200, { ...answer(0, 'OK'), data: {} })).toBeUndefined();
  });

  test.each([40100, 40133])(
    'code %i (requests made too frequently) retries after a minute',
    (code) => {
      expect(verdictOf(tiktok, 200, answer(code, 'Requests made too frequently'))).toEqual({
        outcome: 'retry',
        reason: `TikTok rate limit (code ${code}): Requests made too frequently`,
        afterMs: 60_000,
      });
      expect(
        verdictOf(tiktok, 200, answer(code, 'Too frequent'), { 'retry-after': '7' }),
      ).toMatchObject({ afterMs: undefined });
    },
  );

  test('system errors retry with the router’s backoff', () => {
    expect(verdictOf(tiktok, 200, answer(50000, 'System error'))).toEqual({
      outcome: 'retry',
      reason: 'TikTok system error (code 50000): System error',
    });
  });

  test('other codes abort with TikTok’s message', () => {
    expect(verdictOf(tiktok, 200, answer(40002, 'event_source_id: pixel not found'))).toEqual({
      outcome: 'abort',
      reason: 'TikTok rejected the request (code 40002): event_source_id: pixel not found',
    });
    expect(verdictOf(tiktok, 200, answer(40105, 'Access token is incorrect'))).toMatchObject({
      outcome: 'abort',
    });
  });

  test('answers without TikTok’s envelope are left to the router', () => {
    expect(verdictOf(tiktok, 504, '<html>Gateway Timeout</html>')).toBeUndefined();
    expect(verdictOf(tiktok, 429, '')).toBeUndefined();
  });
});
