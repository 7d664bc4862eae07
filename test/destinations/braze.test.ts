import { braze } from '../../destinations/braze';
import {
  bodyOf,
  combined,
  contextFor,
  identify,
  MOBILE_CONTEXT,
  onlyRequest,
  segmentEvent,
  sentBatch,
  testConfigErrors,
  TIMESTAMP,
  track,
  verdictOf,
} from './support';

const context = contextFor(braze, {
  restEndpoint: 'https://rest.fra-01.braze.eu',
  apiKey: 'braze-rest-key',
});
/** A context for a config of the smallest required fields and `extra`. */
function configured(extra: Record<string, unknown>) {
  return contextFor(braze, {
    restEndpoint: 'https://rest.iad-01.braze.com',
    apiKey: 'k',
    ...extra,
  });
}
const HEADERS = { 'Content-Type': 'application/json', Authorization: 'Bearer braze-rest-key' };
const ANONYMOUS_ID = 'a1b2c3d4-0000-4c4c-8888-0123456789ab';
const ALIAS = {
  user_alias: { alias_name: ANONYMOUS_ID, alias_label: 'anonymous_id' },
  _update_existing_only: false,
};

function order(productCount: number) {
  const products = Array.from({ length: productCount }, (_, i) => ({
    product_id: `sku-${i}`,
    name: `Thing ${i}`,
    price: 2.5,
    quantity: 1,
  }));
  return track('Order Completed', { order_id: 'o-9', currency: 'eur', products });
}

describe('braze config', () => {
  test('fills defaults', () => {
    expect(context.config).toEqual({
      restEndpoint: 'https://rest.fra-01.braze.eu',
      apiKey: 'braze-rest-key',
      anonymousUsers: 'alias',
      aliasLabel: 'anonymous_id',
      pageNames: { named: 'Viewed {name} Page', unnamed: 'Loaded a Page' },
      screenNames: { named: 'Viewed {name} Screen', unnamed: 'Loaded a Screen' },
      purchaseProductId: 'name',
      subscriptionGroups: {},
    });
  });

  testConfigErrors('braze', [
    [{ apiKey: 'k' }, 'restEndpoint: required'],
    [{ restEndpoint: 'rest.iad-01.braze.com', apiKey: 'k' }, 'restEndpoint: Invalid URL'],
    [{ restEndpoint: 'https://rest.iad-01.braze.com' }, 'apiKey: required'],
    [
      { restEndpoint: 'https://rest.iad-01.braze.com', apiKey: 'k', anonymousUsers: 'skip' },
      'anonymousUsers: Invalid option',
    ],
    [
      { restEndpoint: 'https://rest.iad-01.braze.com', apiKey: 'k', purchaseProductId: 'sku' },
      'purchaseProductId: Invalid option',
    ],
    [
      { restEndpoint: 'https://rest.iad-01.braze.com', apiKey: 'k', subscriptionGroups: { a: '' } },
      'subscriptionGroups.a: Too small',
    ],
  ]);
});

describe('braze mapping', () => {
  test('identify: standard attributes from reserved traits, the rest custom', () => {
    const event = identify(
      {
        email: 'ada@example.com',
        first_name: 'Ada',
        lastName: 'Lovelace',
        phone: '+442079460000',
        gender: 'Female',
        birthday: '1815-12-10T00:00:00.000Z',
        avatar: 'https://acme.example/ada.png',
        address: { city: 'London', country: 'GB', street: '12 St James Sq' },
        plan: 'pro',
        id: 'user-4711',
      },
      { anonymousId: undefined },
    );
    expect(onlyRequest(braze, context, event)).toEqual({
      method: 'POST',
      url: 'https://rest.fra-01.braze.eu/users/track',
      headers: HEADERS,
      body: JSON.stringify({
        attributes: [
          {
            external_id: 'user-4711',
            plan: 'pro',
            email: 'ada@example.com',
            first_name: 'Ada',
            last_name: 'Lovelace',
            phone: '+442079460000',
            gender: 'F',
            dob: '1815-12-10',
            image_url: 'https://acme.example/ada.png',
            country: 'GB',
            home_city: 'London',
          },
        ],
      }),
      batch: expect.objectContaining({ item: expect.anything() }),
    });
  });

  test('an unknown gender or a bad birthday is left out rather than rejected by Braze', () => {
    const event = identify({ gender: 'unicorn', birthday: 'someday' }, { anonymousId: undefined });
    const body = bodyOf(onlyRequest(braze, context, event)) as { attributes: object[] };
    expect(body.attributes[0]).toEqual({ external_id: 'user-4711' });
  });

  test('identify with both ids first merges the alias-only user', () => {
    const [merge, attributes] = braze.transform(identify({ plan: 'pro' }), context);
    expect(merge).toEqual({
      method: 'POST',
      url: 'https://rest.fra-01.braze.eu/users/identify',
      headers: HEADERS,
      body: JSON.stringify({
        aliases_to_identify: [
          {
            external_id: 'user-4711',
            user_alias: { alias_name: ANONYMOUS_ID, alias_label: 'anonymous_id' },
          },
        ],
        merge_behavior: 'merge',
      }),
    });
    expect(merge.batch).toBeUndefined();
    expect(bodyOf(attributes)).toEqual({ attributes: [{ external_id: 'user-4711', plan: 'pro' }] });
  });

  test('track: a custom event, with the app id when configured', () => {
    const withApp = contextFor(braze, {
      restEndpoint: 'https://rest.iad-01.braze.com',
      apiKey: 'k',
      appId: 'app-123',
    });
    const event = track('Workout Logged', { minutes: 30 });
    expect(bodyOf(onlyRequest(braze, withApp, event))).toEqual({
      events: [
        {
          external_id: 'user-4711',
          app_id: 'app-123',
          name: 'Workout Logged',
          time: TIMESTAMP,
          properties: { minutes: 30 },
        },
      ],
    });
  });

  test('anonymous users: an alias-only user, or nothing when configured to drop', () => {
    const event = track('Workout Logged', {}, { userId: undefined });
    expect(bodyOf(onlyRequest(braze, context, event))).toEqual({
      events: [{ ...ALIAS, name: 'Workout Logged', time: TIMESTAMP, properties: {} }],
    });
    const dropping = contextFor(braze, {
      restEndpoint: 'https://rest.iad-01.braze.com',
      apiKey: 'k',
      anonymousUsers: 'drop',
      aliasLabel: 'segment_anonymous_id',
    });
    expect(braze.transform(event, dropping)).toEqual([]);
  });

  test('Order Completed with one product: one batchable purchase named after the product', () => {
    const request = onlyRequest(braze, context, order(1));
    expect(bodyOf(request)).toEqual({
      purchases: [
        {
          external_id: 'user-4711',
          product_id: 'Thing 0',
          currency: 'EUR',
          price: 2.5,
          quantity: 1,
          time: TIMESTAMP,
          properties: { product_id: 'sku-0', name: 'Thing 0', order_id: 'o-9' },
        },
      ],
    });
    expect(request.batch).toBeDefined();
  });

  // Braze's purchase object example: product_id "backpack" (a name, as Braze suggests over SKUs),
  // the product's details in properties.
  test('purchases carry the product’s name and category; product_id by config', () => {
    const backpack = {
      product_id: 'bp-123',
      sku: 'BP-RED-L',
      name: 'backpack',
      category: 'bags',
      brand: 'Backpack Locker',
      variant: 'red',
      price: 40,
      quantity: 1,
      size: 'Large',
    };
    const event = track('Order Completed', {
      order_id: 'o-7',
      currency: 'USD',
      products: [backpack],
    });
    const purchaseOf = (config: Record<string, unknown>) =>
      (bodyOf(onlyRequest(braze, configured(config), event)) as { purchases: object[] })
        .purchases[0];
    const { price: _price, quantity: _quantity, ...details } = backpack;
    expect(purchaseOf({})).toEqual({
      external_id: 'user-4711',
      product_id: 'backpack',
      currency: 'USD',
      price: 40,
      quantity: 1,
      time: TIMESTAMP,
      properties: { ...details, order_id: 'o-7' },
    });
    expect(purchaseOf({ purchaseProductId: 'category' })).toMatchObject({ product_id: 'bags' });
    expect(purchaseOf({ purchaseProductId: 'id' })).toMatchObject({ product_id: 'bp-123' });
  });

  test('a product without the configured field falls back to its name, id, then sku', () => {
    const event = track('Order Completed', {
      products: [
        { sku: 'only-sku', price: 1 },
        { product_id: 'p-2', price: 1 },
        { name: 'Mug', product_id: 'p-3', price: 1 },
      ],
    });
    const byCategory = configured({ purchaseProductId: 'category' });
    const [request] = braze.transform(event, byCategory);
    const ids = (bodyOf(request) as { purchases: Array<{ product_id: string }> }).purchases.map(
      (purchase) => purchase.product_id,
    );
    expect(ids).toEqual(['only-sku', 'p-2', 'Mug']);
  });

  // Purchase object: quantity "must be <= 100 -- Braze treats a quantity X as X separate purchases".
  test('a quantity over 100 is logged as purchases of at most 100, keeping the revenue', () => {
    const event = track('Order Completed', {
      products: [{ name: 'Screws', price: 0.1, quantity: 250 }],
    });
    const [request, ...more] = braze.transform(event, context);
    expect(more).toEqual([]);
    const purchases = (bodyOf(request) as { purchases: Array<{ quantity: number }> }).purchases;
    expect(purchases.map((purchase) => purchase.quantity)).toEqual([100, 100, 50]);
    expect(request.batch).toBeUndefined();
    // Bounded: an order is at most 750 purchase objects (10 requests).
    const bulk = track('Order Completed', {
      products: [{ name: 'Screws', price: 0.1, quantity: 75_001 }],
    });
    expect(() => braze.transform(bulk, context)).toThrow(
      'the order makes 751 Braze purchase objects (at most 100 units each); more than 750 are not sent',
    );
    const absurd = track('Order Completed', {
      products: [{ name: 'Screws', price: 1, quantity: 1e12 }],
    });
    expect(() => braze.transform(absurd, context)).toThrow('the order makes 10000000000 Braze');
  });

  test('Order Completed with many products: 75 purchases per request, sent on their own', () => {
    const requests = braze.transform(order(80), context);
    expect(requests).toHaveLength(2);
    const sizes = requests.map((r) => (bodyOf(r) as { purchases: unknown[] }).purchases.length);
    expect(sizes).toEqual([75, 5]);
    expect(requests.every((request) => request.batch === undefined)).toBe(true);
  });

  test('products without an id or a price are skipped; none left: a custom event', () => {
    const event = track('Order Completed', {
      order_id: 'o-1',
      products: [{ name: 'No price' }, { price: 3 }],
    });
    const body = bodyOf(onlyRequest(braze, context, event)) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(['events']);
  });

  test('page and screen views: custom events named like Viewed {name} Page', () => {
    const page = segmentEvent('page', { name: 'Pricing', properties: { plan: 'pro' } });
    expect(bodyOf(onlyRequest(braze, context, page))).toEqual({
      events: [
        {
          external_id: 'user-4711',
          name: 'Viewed Pricing Page',
          time: TIMESTAMP,
          properties: { plan: 'pro' },
        },
      ],
    });
    const screen = segmentEvent('screen', {
      properties: { name: 'Cart' },
      context: MOBILE_CONTEXT,
    });
    expect(bodyOf(onlyRequest(braze, context, screen))).toMatchObject({
      events: [{ name: 'Viewed Cart Screen' }],
    });
    const unnamed = segmentEvent('page', { userId: undefined });
    expect(bodyOf(onlyRequest(braze, context, unnamed))).toMatchObject({
      events: [{ ...ALIAS, name: 'Loaded a Page' }],
    });
    const custom = configured({ pageNames: { named: 'page_view_{name}' } });
    expect(bodyOf(onlyRequest(braze, custom, page))).toMatchObject({
      events: [{ name: 'page_view_Pricing' }],
    });
    expect(onlyRequest(braze, context, page).batch).toBeDefined();
  });

  // /users/track "Set subscription groups": `subscription_groups` in the attributes object.
  test('group: a mapped groupId sets the user’s subscription group state', () => {
    const subscribing = configured({
      subscriptionGroups: { newsletter: 'c7e3b2a1-0f5d-4e2b-9a8c-1d2e3f4a5b6c' },
    });
    const joined = segmentEvent('group', { groupId: 'newsletter', traits: { name: 'Newsletter' } });
    const request = onlyRequest(braze, subscribing, joined);
    expect(bodyOf(request)).toEqual({
      attributes: [
        {
          external_id: 'user-4711',
          subscription_groups: [
            {
              subscription_group_id: 'c7e3b2a1-0f5d-4e2b-9a8c-1d2e3f4a5b6c',
              subscription_state: 'subscribed',
            },
          ],
        },
      ],
    });
    expect(request.batch).toBeDefined();
    const left = { ...joined, traits: { subscription_state: 'unsubscribed' } };
    expect(bodyOf(onlyRequest(braze, subscribing, left))).toMatchObject({
      attributes: [{ subscription_groups: [{ subscription_state: 'unsubscribed' }] }],
    });
    // A group that is no subscription group is not sent.
    const other = segmentEvent('group', { groupId: 'acme-inc', traits: { name: 'Acme' } });
    expect(braze.transform(other, subscribing)).toEqual([]);
  });

  // /users/merge example: identifier_to_merge "old-user1" into identifier_to_keep "current-user1".
  test('alias of a previous userId: /users/merge by external_id', () => {
    const alias = segmentEvent('alias', { userId: 'current-user1', previousId: 'old-user1' });
    expect(onlyRequest(braze, context, alias)).toEqual({
      method: 'POST',
      url: 'https://rest.fra-01.braze.eu/users/merge',
      headers: HEADERS,
      body: JSON.stringify({
        merge_updates: [
          {
            identifier_to_merge: { external_id: 'old-user1' },
            identifier_to_keep: { external_id: 'current-user1' },
          },
        ],
      }),
    });
  });

  test('alias of the anonymousId: the alias-only user is identified (merged)', () => {
    const alias = segmentEvent('alias', { previousId: ANONYMOUS_ID });
    const request = onlyRequest(braze, context, alias);
    expect(request.url).toBe('https://rest.fra-01.braze.eu/users/identify');
    expect(bodyOf(request)).toEqual({
      aliases_to_identify: [
        {
          external_id: 'user-4711',
          user_alias: { alias_name: ANONYMOUS_ID, alias_label: 'anonymous_id' },
        },
      ],
      merge_behavior: 'merge',
    });
    // No alias-only user exists when anonymous users are dropped; nor is there anything to merge
    // into itself.
    const dropping = contextFor(braze, {
      restEndpoint: 'https://rest.iad-01.braze.com',
      apiKey: 'k',
      anonymousUsers: 'drop',
    });
    expect(braze.transform(alias, dropping)).toEqual([]);
    expect(braze.transform({ ...alias, previousId: 'user-4711' }, context)).toEqual([]);
    expect(() => braze.transform({ ...alias, previousId: undefined }, context)).toThrow(
      'Braze merges users on alias, which needs a userId and a previousId',
    );
  });
});

describe('braze batching', () => {
  test('attributes, events and purchases of many users combine into one /users/track', () => {
    const requests = [
      onlyRequest(braze, context, identify({ plan: 'pro' }, { anonymousId: undefined })),
      onlyRequest(braze, context, track('A', {}, { userId: 'user-2' })),
      onlyRequest(braze, context, order(1)),
      onlyRequest(braze, context, track('B', {}, { userId: undefined })),
    ];
    expect(new Set(requests.map((request) => request.batch!.key)).size).toBe(1);
    const body = bodyOf(combined(braze, context, requests)) as Record<string, unknown[]>;
    expect(Object.keys(body)).toEqual(['attributes', 'events', 'purchases']);
    expect(body.attributes).toHaveLength(1);
    expect(body.events).toHaveLength(2);
    expect(body.purchases).toHaveLength(1);
  });

  test('75 requests never put more than 75 objects in any array', () => {
    const requests = Array.from({ length: braze.batching!.maxItems }, (_, i) =>
      onlyRequest(braze, context, track(`E${i}`, {}, { userId: `user-${i}` })),
    );
    const body = bodyOf(combined(braze, context, requests)) as Record<string, unknown[]>;
    expect(body.events).toHaveLength(75);
    for (const request of requests) {
      const item = request.batch!.item as Record<string, unknown[]>;
      for (const objects of Object.values(item)) expect(objects.length).toBeLessThanOrEqual(1);
    }
  });
});

describe('braze responses', () => {
  test('201 with errors: the dropped objects are reported', () => {
    const verdict = verdictOf(braze, 201, {
      message: 'success',
      errors: [{ type: "'external_id' or 'braze_id' or 'user_alias' is required", index: 0 }],
    });
    expect(verdict).toMatchObject({ outcome: 'abort' });
    expect(verdict && 'reason' in verdict && verdict.reason).toContain('Braze dropped 1 object(s)');
  });

  test('201 with errors naming objects of a batch: those items are aborted, the others ok', () => {
    // Items: Ann's attributes, Bob's event, Cy's event; Bob's event is events[0].
    const batch = sentBatch(braze, context, [
      onlyRequest(
        braze,
        context,
        identify({ plan: 'pro' }, { userId: 'ann', anonymousId: undefined }),
      ),
      onlyRequest(braze, context, track('Signed Up', {}, { userId: 'bob' })),
      onlyRequest(braze, context, track('Signed Up', {}, { userId: 'cy' })),
    ]);
    const errors = [
      { type: "'name' is required", input_array: 'events', index: 0 },
      { type: "'time' is invalid", input_array: 'events', index: 0 },
    ];
    expect(verdictOf(braze, 201, { message: 'success', errors }, {}, batch)).toEqual({
      outcome: 'per-item',
      items: [
        { outcome: 'ok' },
        {
          outcome: 'abort',
          reason: "Braze dropped the object: events 'name' is required; events 'time' is invalid",
        },
        { outcome: 'ok' },
      ],
    });
    // An error naming no object of the request: every item is judged by the whole answer.
    const elsewhere = [{ type: 'x', input_array: 'purchases', index: 0 }];
    expect(
      verdictOf(braze, 201, { message: 'success', errors: elsewhere }, {}, batch),
    ).toMatchObject({
      outcome: 'abort',
      reason: expect.stringMatching(/^Braze dropped 1 object\(s\)/),
    });
  });

  test('201 without errors and error statuses follow the router’s rules', () => {
    expect(verdictOf(braze, 201, { message: 'success', attributes_processed: 1 })).toBeUndefined();
    expect(verdictOf(braze, 201, { message: 'success', errors: [] })).toBeUndefined();
    expect(verdictOf(braze, 400, { message: 'Invalid request', errors: ['x'] })).toBeUndefined();
    expect(verdictOf(braze, 429, 'slow down')).toBeUndefined();
  });
});
