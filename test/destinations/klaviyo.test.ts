/**
 * The Klaviyo destination's mapping, batching and reading of responses, with the values of
 * Klaviyo's documented examples (the API reference of Create or Update Profile, Create Event and
 * Bulk Import Profiles; the e-commerce integration guide). Delivery against a local server playing
 * Klaviyo is in delivery.test.ts.
 */
import { DestinationMappingError } from '../../destinations/destination';
import { klaviyo } from '../../destinations/klaviyo';
import {
  BROWSER_CONTEXT,
  bodyOf,
  combined,
  contextFor,
  identify,
  onlyRequest,
  segmentEvent,
  sentBatch,
  testConfigErrors,
  TIMESTAMP,
  track,
  verdictOf,
} from './support';

const context = contextFor(klaviyo, { privateApiKey: 'pk_live_klaviyo' });
const bulk = contextFor(klaviyo, { privateApiKey: 'pk_live_klaviyo', profileImport: 'bulk' });
const HEADERS = {
  Authorization: 'Klaviyo-API-Key pk_live_klaviyo',
  revision: '2026-10-15',
  Accept: 'application/vnd.api+json',
  'Content-Type': 'application/vnd.api+json',
};
const MESSAGE_ID = 'ajs-next-1714564800000-4b1e2f';
const ANONYMOUS_ID = 'a1b2c3d4-0000-4c4c-8888-0123456789ab';

type Body = { data: { attributes: Record<string, unknown> } };
const attributesOf = (request: { body?: string }) =>
  (bodyOf(request as never) as Body).data.attributes;

/** The metric name, value and properties of each Create Event request of an event. */
function metricsOf(event: ReturnType<typeof track>, ctx = context) {
  return klaviyo.transform(event, ctx).map((request) => {
    const attributes = attributesOf(request);
    const metric = attributes.metric as { data: { attributes: { name: string } } };
    return {
      name: metric.data.attributes.name,
      value: attributes.value,
      currency: attributes.value_currency,
      uniqueId: attributes.unique_id,
      properties: attributes.properties,
    };
  });
}

describe('klaviyo config', () => {
  test('fills defaults: the current revision, single profiles, e-commerce metrics', () => {
    expect(context.config).toEqual({
      privateApiKey: 'pk_live_klaviyo',
      revision: '2026-10-15',
      profileImport: 'single',
      ecommerceMetrics: true,
    });
  });

  testConfigErrors('klaviyo', [
    [{}, 'privateApiKey: required'],
    [{ privateApiKey: '' }, 'privateApiKey: must not be empty'],
    [{ privateApiKey: 'k', revision: 'latest' }, 'revision: must be a revision date'],
    [{ privateApiKey: 'k', profileImport: 'async' }, 'profileImport: Invalid option'],
    [{ privateApiKey: 'k', publicKey: 'x' }, 'publicKey: unknown field'],
  ]);

  test('a revision with a suffix is a revision', () => {
    const pinned = contextFor(klaviyo, { privateApiKey: 'k', revision: '2026-07-15.pre' });
    expect(pinned.config.revision).toBe('2026-07-15.pre');
  });
});

describe('klaviyo profiles', () => {
  // Create or Update Profile's documented example profile, sent as Segment traits.
  const SARAH = {
    email: 'sarah.mason@klaviyo-demo.com',
    phone: '+15005550006',
    firstName: 'Sarah',
    last_name: 'Mason',
    company: { name: 'Example Corporation', employees: 12 },
    title: 'Regional Manager',
    avatar: 'https://images.pexels.com/photos/3760854/pexels-photo-3760854.jpeg',
    address: {
      street: '89 E 42nd St',
      city: 'New York',
      state: 'NY',
      postal_code: '10017',
      country: 'United States',
    },
    pseudonym: 'Dr. Octopus',
    id: 'user-4711',
  };
  const SARAH_CONTEXT = {
    ...BROWSER_CONTEXT,
    ip: '127.0.0.1',
    locale: 'en-US',
    timezone: 'America/New_York',
  };

  test('identify: Create or Update Profile with the standard fields, location and properties', () => {
    const event = identify(SARAH, { context: SARAH_CONTEXT });
    const request = onlyRequest(klaviyo, context, event);
    expect(request).toMatchObject({
      method: 'POST',
      url: 'https://a.klaviyo.com/api/profile-import',
      headers: HEADERS,
    });
    expect(request.batch).toBeUndefined();
    expect(bodyOf(request)).toEqual({
      data: {
        type: 'profile',
        attributes: {
          external_id: 'user-4711',
          email: 'sarah.mason@klaviyo-demo.com',
          phone_number: '+15005550006',
          first_name: 'Sarah',
          last_name: 'Mason',
          organization: 'Example Corporation',
          title: 'Regional Manager',
          image: 'https://images.pexels.com/photos/3760854/pexels-photo-3760854.jpeg',
          locale: 'en-US',
          location: {
            address1: '89 E 42nd St',
            city: 'New York',
            region: 'NY',
            zip: '10017',
            country: 'United States',
            timezone: 'America/New_York',
            ip: '127.0.0.1',
          },
          properties: { pseudonym: 'Dr. Octopus' },
        },
      },
    });
  });

  test('identify: traits from context.traits, explicit traits winning; no anonymous_id', () => {
    const event = identify(
      { plan: 'pro' },
      { context: { ...BROWSER_CONTEXT, traits: { email: 'ada@example.com', plan: 'free' } } },
    );
    const attributes = attributesOf(onlyRequest(klaviyo, context, event));
    expect(attributes).toMatchObject({
      external_id: 'user-4711',
      email: 'ada@example.com',
      properties: { plan: 'pro' },
    });
    // Create or Update Profile takes no anonymous_id.
    expect(attributes).not.toHaveProperty('anonymous_id');
  });

  test('identify: a company given as a name is the organization', () => {
    const event = identify({ company: 'Example Corporation' });
    expect(attributesOf(onlyRequest(klaviyo, context, event))).toMatchObject({
      organization: 'Example Corporation',
    });
  });

  test('identify of an anonymous user with no email or phone sends nothing', () => {
    expect(klaviyo.transform(identify({ plan: 'free' }, { userId: undefined }), context)).toEqual(
      [],
    );
    const withEmail = identify({ email: 'ada@example.com' }, { userId: undefined });
    expect(attributesOf(onlyRequest(klaviyo, context, withEmail))).toMatchObject({
      email: 'ada@example.com',
    });
  });

  test('a profile over 100KB fails alone rather than its import', () => {
    const event = identify({ notes: 'x'.repeat(100_000) });
    expect(() => klaviyo.transform(event, context)).toThrow(DestinationMappingError);
    expect(() => klaviyo.transform(event, bulk)).toThrow(/Klaviyo takes at most 100000/);
  });

  test('profileImport bulk: profiles of many users in one Bulk Import Profiles job', () => {
    const requests = [
      onlyRequest(klaviyo, bulk, identify({ email: 'sarah.mason@klaviyo-demo.com' })),
      onlyRequest(klaviyo, bulk, identify({ plan: 'pro' }, { userId: 'user-2' })),
    ];
    expect(requests[0].url).toBe('https://a.klaviyo.com/api/profile-bulk-import-jobs');
    expect(requests[0].headers).toEqual(HEADERS);
    expect(requests[0].batch!.key).toBe(requests[1].batch!.key);
    expect(bodyOf(combined(klaviyo, bulk, requests))).toEqual({
      data: {
        type: 'profile-bulk-import-job',
        attributes: {
          profiles: {
            data: [
              {
                type: 'profile',
                attributes: {
                  external_id: 'user-4711',
                  email: 'sarah.mason@klaviyo-demo.com',
                  locale: 'en-GB',
                  location: { timezone: 'Europe/Berlin', ip: '203.0.113.7' },
                },
              },
              {
                type: 'profile',
                attributes: expect.objectContaining({
                  external_id: 'user-2',
                  properties: { plan: 'pro' },
                }),
              },
            ],
          },
        },
      },
    });
    expect(klaviyo.batching).toMatchObject({ maxItems: 10_000 });
    expect(klaviyo.batching!.maxBytes).toBeLessThan(5_000_000);
  });
});

describe('klaviyo events', () => {
  test('track: Create Event with the metric, properties, time, unique_id and profile', () => {
    const event = track(
      'Reset Password',
      { resetUrl: 'https://acme.example/reset/abc' },
      { context: { ...BROWSER_CONTEXT, traits: { email: 'ada@example.com' } } },
    );
    const request = onlyRequest(klaviyo, context, event);
    expect(request).toMatchObject({ url: 'https://a.klaviyo.com/api/events', headers: HEADERS });
    expect(bodyOf(request)).toEqual({
      data: {
        type: 'event',
        attributes: {
          properties: { resetUrl: 'https://acme.example/reset/abc' },
          time: TIMESTAMP,
          unique_id: MESSAGE_ID,
          metric: { data: { type: 'metric', attributes: { name: 'Reset Password' } } },
          profile: {
            data: {
              type: 'profile',
              attributes: {
                external_id: 'user-4711',
                email: 'ada@example.com',
                anonymous_id: ANONYMOUS_ID,
                locale: 'en-GB',
                location: { timezone: 'Europe/Berlin', ip: '203.0.113.7' },
              },
            },
          },
        },
      },
    });
  });

  test('revenue is the event value, with its currency (Create Event: value 9.99, USD)', () => {
    expect(metricsOf(track('Subscription Renewed', { revenue: 9.99, currency: 'usd' }))).toEqual([
      {
        name: 'Subscription Renewed',
        value: 9.99,
        currency: 'USD',
        uniqueId: MESSAGE_ID,
        properties: { revenue: 9.99, currency: 'usd' },
      },
    ]);
    const [free] = metricsOf(track('Signed Up', { plan: 'free' }));
    expect(free).toMatchObject({ value: undefined, currency: undefined });
  });

  test('an anonymous user is their anonymous_id; an event with no id at all fails', () => {
    const anonymous = onlyRequest(klaviyo, context, track('Signed Up', {}, { userId: undefined }));
    const profile = attributesOf(anonymous).profile as { data: { attributes: object } };
    expect(profile.data.attributes).toMatchObject({ anonymous_id: ANONYMOUS_ID });
    expect(profile.data.attributes).not.toHaveProperty('external_id');
    const nobody = track('Signed Up', {}, { userId: undefined, anonymousId: undefined });
    expect(() => klaviyo.transform(nobody, context)).toThrow(DestinationMappingError);
  });

  test('metric names are cut to 127 characters (Klaviyo: less than 128)', () => {
    const [metric] = metricsOf(track('x'.repeat(200)));
    expect(metric.name).toBe('x'.repeat(127));
  });

  test('page, screen, group and alias are not sent', () => {
    expect(klaviyo.supportedTypes).toEqual(['identify', 'track']);
    expect(klaviyo.transform(segmentEvent('page', { name: 'Home' }), context)).toEqual([]);
  });
});

describe('klaviyo e-commerce metrics', () => {
  // The product of Klaviyo's examples (Winnie the Pooh, Kids Book, 9.99).
  const POOH = {
    product_id: '1111',
    sku: 'WINNIEPOOH',
    name: 'Winnie the Pooh',
    brand: 'Kids Book',
    category: 'Children',
    price: 9.99,
    url: 'https://acme.example/products/pooh',
    image_url: 'https://acme.example/pooh.png',
  };
  const TALE = {
    product_id: '2222',
    sku: 'TALEOFTWO',
    name: 'A Tale of Two Cities',
    brand: 'Harcourt Classics',
    category: 'Classics',
    price: 19.99,
    quantity: 1,
  };

  test('Product Viewed → Viewed Product with the product fields, value the price', () => {
    expect(metricsOf(track('Product Viewed', { ...POOH, currency: 'USD', position: 2 }))).toEqual([
      {
        name: 'Viewed Product',
        value: 9.99,
        currency: 'USD',
        uniqueId: MESSAGE_ID,
        properties: {
          ProductName: 'Winnie the Pooh',
          ProductID: '1111',
          SKU: 'WINNIEPOOH',
          Categories: ['Children'],
          ImageURL: 'https://acme.example/pooh.png',
          URL: 'https://acme.example/products/pooh',
          Brand: 'Kids Book',
          Price: 9.99,
        },
      },
    ]);
  });

  test('Product Added → Added to Cart with AddedItem fields, value price × quantity', () => {
    const [metric] = metricsOf(track('Product Added', { ...POOH, quantity: 3, cart_id: 'c-9' }));
    expect(metric).toEqual({
      name: 'Added to Cart',
      value: 29.97,
      currency: undefined,
      uniqueId: MESSAGE_ID,
      properties: {
        cart_id: 'c-9',
        AddedItemProductName: 'Winnie the Pooh',
        AddedItemProductID: '1111',
        AddedItemSKU: 'WINNIEPOOH',
        AddedItemCategories: ['Children'],
        AddedItemImageURL: 'https://acme.example/pooh.png',
        AddedItemURL: 'https://acme.example/products/pooh',
        AddedItemBrand: 'Kids Book',
        AddedItemPrice: 9.99,
        AddedItemQuantity: 3,
      },
    });
  });

  test('Order Completed → Placed Order and one Ordered Product per product', () => {
    const order = track('Order Completed', {
      order_id: '1234',
      total: 29.98,
      revenue: 25,
      currency: 'usd',
      coupon: 'Free Shipping',
      discount: 5,
      shipping: 5,
      products: [{ ...POOH, quantity: 1 }, TALE],
    });
    const [placed, pooh, tale, ...more] = metricsOf(order);
    expect(more).toEqual([]);
    expect(placed).toEqual({
      name: 'Placed Order',
      value: 29.98,
      currency: 'USD',
      uniqueId: MESSAGE_ID,
      properties: {
        total: 29.98,
        revenue: 25,
        shipping: 5,
        OrderId: '1234',
        Categories: ['Children', 'Classics'],
        ItemNames: ['Winnie the Pooh', 'A Tale of Two Cities'],
        Brands: ['Kids Book', 'Harcourt Classics'],
        DiscountCode: 'Free Shipping',
        DiscountValue: 5,
        Items: [
          {
            ProductID: '1111',
            SKU: 'WINNIEPOOH',
            ProductName: 'Winnie the Pooh',
            Quantity: 1,
            ItemPrice: 9.99,
            RowTotal: 9.99,
            ProductURL: 'https://acme.example/products/pooh',
            ImageURL: 'https://acme.example/pooh.png',
            Categories: ['Children'],
            Brand: 'Kids Book',
          },
          {
            ProductID: '2222',
            SKU: 'TALEOFTWO',
            ProductName: 'A Tale of Two Cities',
            Quantity: 1,
            ItemPrice: 19.99,
            RowTotal: 19.99,
            Categories: ['Classics'],
            Brand: 'Harcourt Classics',
          },
        ],
      },
    });
    expect(pooh).toEqual({
      name: 'Ordered Product',
      value: 9.99,
      currency: 'USD',
      uniqueId: `${MESSAGE_ID}:0`,
      properties: {
        OrderId: '1234',
        ProductID: '1111',
        SKU: 'WINNIEPOOH',
        ProductName: 'Winnie the Pooh',
        Quantity: 1,
        ItemPrice: 9.99,
        ProductURL: 'https://acme.example/products/pooh',
        ImageURL: 'https://acme.example/pooh.png',
        Categories: ['Children'],
        ProductBrand: 'Kids Book',
      },
    });
    expect(tale).toMatchObject({ uniqueId: `${MESSAGE_ID}:1`, value: 19.99 });
  });

  test('spec names match as their senders write them; without a total, revenue is the value', () => {
    const [placed] = metricsOf(
      track('order_completed', { order_id: 'o-1', revenue: 25, products: [] }),
    );
    expect(placed).toMatchObject({ name: 'Placed Order', value: 25 });
    expect(placed.properties).toEqual({ OrderId: 'o-1', revenue: 25 });
    expect(metricsOf(track('order completed', { total: 3 }))[0].name).toBe('Placed Order');
  });

  test('Checkout Started, Order Refunded and Order Cancelled are the order metrics alone', () => {
    const properties = { order_id: '1234', total: 9.99, products: [POOH] };
    for (const [spec, metric] of [
      ['Checkout Started', 'Started Checkout'],
      ['Order Refunded', 'Refunded Order'],
      ['Order Cancelled', 'Cancelled Order'],
    ]) {
      const metrics = metricsOf(track(spec, properties));
      expect(metrics).toHaveLength(1);
      expect(metrics[0]).toMatchObject({
        name: metric,
        value: 9.99,
        properties: { OrderId: '1234', ItemNames: ['Winnie the Pooh'] },
      });
    }
  });

  test('an order of 150 products: every product in Items, 100 Ordered Product events', () => {
    const products = Array.from({ length: 150 }, (_, i) => ({ product_id: `p-${i}`, price: 1 }));
    const metrics = metricsOf(track('Order Completed', { order_id: 'big', products }));
    expect(metrics).toHaveLength(101);
    expect((metrics[0].properties as { Items: unknown[] }).Items).toHaveLength(150);
  });

  test('ecommerceMetrics false: spec events keep their own names', () => {
    const plain = contextFor(klaviyo, { privateApiKey: 'k', ecommerceMetrics: false });
    const metrics = metricsOf(track('Order Completed', { total: 9.99, products: [POOH] }), plain);
    expect(metrics.map((metric) => [metric.name, metric.value])).toEqual([
      ['Order Completed', 9.99],
    ]);
  });
});

describe('klaviyo responses', () => {
  const profiles = () =>
    sentBatch(klaviyo, bulk, [
      onlyRequest(klaviyo, bulk, identify({ email: 'ada@example.com' }, { userId: 'ada' })),
      onlyRequest(klaviyo, bulk, identify({ email: 'not an email' }, { userId: 'bob' })),
      onlyRequest(klaviyo, bulk, identify({ plan: 'pro' }, { userId: 'cy' })),
    ]);

  test('a refused import job naming profiles: those are dead-lettered, the others sent again', () => {
    const body = {
      errors: [
        {
          id: '6e03e204-aa9d-48f8-b516-ab52ecf03958',
          status: 400,
          code: 'invalid',
          title: 'Invalid input.',
          detail: 'Invalid email address',
          source: { pointer: '/data/attributes/profiles/data/1/attributes/email' },
        },
      ],
    };
    expect(verdictOf(klaviyo, 400, body, {}, profiles())).toEqual({
      outcome: 'per-item',
      items: [
        {
          outcome: 'retry',
          reason:
            'Klaviyo refused the import job for other profiles in it; sent again without them',
        },
        {
          outcome: 'abort',
          reason: 'Klaviyo refused the profile: Invalid input.: Invalid email address',
        },
        expect.objectContaining({ outcome: 'retry' }),
      ],
    });
  });

  test('an error about the job, a lone request, 202, 429 and 5xx follow the router’s rules', () => {
    const aboutTheJob = {
      errors: [
        {
          id: 'x',
          status: 400,
          code: 'invalid',
          title: 'Invalid input.',
          detail: 'Too many profiles',
          source: { pointer: '/data/attributes/profiles/data' },
        },
      ],
    };
    expect(verdictOf(klaviyo, 400, aboutTheJob, {}, profiles())).toBeUndefined();
    expect(verdictOf(klaviyo, 400, { errors: [] }, {}, profiles())).toBeUndefined();
    expect(verdictOf(klaviyo, 400, aboutTheJob)).toBeUndefined();
    expect(verdictOf(klaviyo, 202, '', {}, profiles())).toBeUndefined();
    expect(verdictOf(klaviyo, 429, { errors: [] }, { 'retry-after': '7' }, profiles())).toBe(
      undefined,
    );
    expect(verdictOf(klaviyo, 503, 'unavailable', {}, profiles())).toBeUndefined();
  });
});
