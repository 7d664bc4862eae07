/**
 * The Iterable destination's mapping, batching and reading of bulk answers, with the fields and
 * values of Iterable's documentation (its API reference's request and response models, "Creating
 * and Identifying Users with Iterable APIs", "Handling Anonymous Users"). Delivery against a local
 * server playing Iterable is in delivery.test.ts.
 */
import { iterable } from '../../destinations/iterable';
import { sha256Hex } from '../../destinations/shared/values';
import {
  bodyOf,
  combined,
  contextFor,
  identify,
  onlyRequest,
  segmentEvent,
  sentBatch,
  testConfigErrors,
  TIMESTAMP_MS,
  track,
  verdictOf,
} from './support';

const context = contextFor(iterable, { apiKey: 'itbl-key' });
const single = contextFor(iterable, { apiKey: 'itbl-key', api: 'single' });
const emailBased = contextFor(iterable, { apiKey: 'itbl-key', projectType: 'email' });
const userIdBased = contextFor(iterable, { apiKey: 'itbl-key', projectType: 'userId' });
const HEADERS = { 'Content-Type': 'application/json', 'Api-Key': 'itbl-key' };
const SECONDS = TIMESTAMP_MS / 1000;
const MESSAGE_ID = 'ajs-next-1714564800000-4b1e2f';

/** The one item a batchable request carries. */
const itemOf = (request: { batch?: { item: unknown } }) => request.batch!.item;

describe('iterable config', () => {
  test('fills defaults: US data center, hybrid project, bulk endpoints', () => {
    expect(context.config).toEqual({
      apiKey: 'itbl-key',
      dataCenter: 'us',
      projectType: 'hybrid',
      api: 'bulk',
    });
  });

  testConfigErrors('iterable', [
    [{}, 'apiKey: required'],
    [{ apiKey: 'k', dataCenter: 'au' }, 'dataCenter: Invalid option'],
    [{ apiKey: 'k', projectType: 'phone' }, 'projectType: Invalid option'],
    [{ apiKey: 'k', api: 'batch' }, 'api: Invalid option'],
  ]);
});

describe('iterable users', () => {
  test('identify: one bulkUpdate user, identified by userId, phone as phoneNumber', () => {
    const event = identify({
      email: 'ada@example.com',
      phone: '+15005550006',
      firstName: 'Ada',
      mySettings: { mobile: true },
      id: 'user-4711',
    });
    const request = onlyRequest(iterable, context, event);
    expect(request).toMatchObject({
      method: 'POST',
      url: 'https://api.iterable.com/api/users/bulkUpdate',
      headers: HEADERS,
    });
    const user = {
      userId: 'user-4711',
      dataFields: {
        email: 'ada@example.com',
        firstName: 'Ada',
        mySettings: { mobile: true },
        phoneNumber: '+15005550006',
      },
    };
    expect(itemOf(request)).toEqual(user);
    // A lone request is a bulk request of one user.
    expect(bodyOf(request)).toEqual({ users: [user] });
  });

  test('users of many events share one bulkUpdate request', () => {
    const requests = [
      onlyRequest(iterable, context, identify({ plan: 'pro' })),
      onlyRequest(iterable, context, identify({ plan: 'free' }, { userId: 'user-2' })),
    ];
    expect(bodyOf(combined(iterable, context, requests))).toEqual({
      users: [
        { userId: 'user-4711', dataFields: { plan: 'pro' } },
        { userId: 'user-2', dataFields: { plan: 'free' } },
      ],
    });
  });

  test('hybrid project: a user without userId is their email; with neither, nothing is sent', () => {
    const byEmail = identify(
      { email: 'example@placeholder.email', firstName: 'Data', catName: 'Spot' },
      { userId: undefined },
    );
    expect(itemOf(onlyRequest(iterable, context, byEmail))).toEqual({
      email: 'example@placeholder.email',
      dataFields: { firstName: 'Data', catName: 'Spot' },
    });
    expect(iterable.transform(identify({ plan: 'free' }, { userId: undefined }), context)).toEqual(
      [],
    );
  });

  test('userID-based project: the userId only; anonymous users are not sent', () => {
    const event = identify({ email: 'ada@example.com' });
    expect(itemOf(onlyRequest(iterable, userIdBased, event))).toEqual({
      userId: 'user-4711',
      dataFields: { email: 'ada@example.com' },
    });
    const anonymous = identify({ email: 'ada@example.com' }, { userId: undefined });
    expect(iterable.transform(anonymous, userIdBased)).toEqual([]);
  });

  test('email-based project: email and userId; a userId alone with preferUserId', () => {
    const both = identify({ email: 'existingUser@example.com' }, { userId: 'newUserId' });
    expect(itemOf(onlyRequest(iterable, emailBased, both))).toEqual({
      email: 'existingUser@example.com',
      userId: 'newUserId',
    });
    const userIdOnly = identify({ plan: 'pro' });
    expect(itemOf(onlyRequest(iterable, emailBased, userIdOnly))).toEqual({
      userId: 'user-4711',
      preferUserId: true,
      dataFields: { plan: 'pro' },
    });
  });

  test('api single: POST /api/users/update, unbatched; EU data center', () => {
    const eu = contextFor(iterable, { apiKey: 'itbl-key', api: 'single', dataCenter: 'eu' });
    const request = onlyRequest(iterable, eu, identify({ plan: 'pro' }));
    expect(request).toEqual({
      method: 'POST',
      url: 'https://api.eu.iterable.com/api/users/update',
      headers: HEADERS,
      body: JSON.stringify({ userId: 'user-4711', dataFields: { plan: 'pro' } }),
    });
  });
});

describe('iterable events', () => {
  test('track: one trackBulk event with id, createdAt in seconds and the properties', () => {
    const request = onlyRequest(iterable, context, track('Signed Up', { plan: 'pro' }));
    expect(request.url).toBe('https://api.iterable.com/api/events/trackBulk');
    const event = {
      userId: 'user-4711',
      eventName: 'Signed Up',
      id: MESSAGE_ID,
      createdAt: SECONDS,
      dataFields: { plan: 'pro' },
    };
    expect(itemOf(request)).toEqual(event);
    expect(bodyOf(request)).toEqual({ events: [event] });
    const two = [request, onlyRequest(iterable, context, track('B', {}, { userId: 'user-2' }))];
    expect((bodyOf(combined(iterable, context, two)) as { events: unknown[] }).events).toHaveLength(
      2,
    );
  });

  test('api single: POST /api/events/track; email-based events carry no preferUserId', () => {
    expect(onlyRequest(iterable, single, track('Signed Up'))).toMatchObject({
      url: 'https://api.iterable.com/api/events/track',
      body: expect.stringContaining('"eventName":"Signed Up"'),
    });
    expect(onlyRequest(iterable, single, track('Signed Up')).batch).toBeUndefined();
    expect(itemOf(onlyRequest(iterable, emailBased, track('Signed Up')))).toEqual(
      expect.objectContaining({ userId: 'user-4711' }),
    );
    expect(itemOf(onlyRequest(iterable, emailBased, track('Signed Up')))).not.toHaveProperty(
      'preferUserId',
    );
  });

  test('a messageId over 512 bytes becomes its SHA-256 (Iterable ids: at most 512 bytes)', () => {
    const long = 'm'.repeat(600);
    const request = onlyRequest(iterable, context, track('Signed Up', {}, { messageId: long }));
    expect(itemOf(request)).toMatchObject({ id: sha256Hex(long) });
  });

  test('page, screen, group and alias are not sent', () => {
    expect(iterable.supportedTypes).toEqual(['identify', 'track']);
    expect(iterable.transform(segmentEvent('page', { name: 'Home' }), context)).toEqual([]);
  });
});

describe('iterable purchases', () => {
  const ORDER = {
    order_id: 'o-1001',
    total: 64.9,
    revenue: 55.5,
    currency: 'EUR',
    affiliation: 'Salt & Pepper Store',
    products: [
      {
        product_id: 'sku-1',
        sku: 'SPM-1',
        name: 'Salt & Pepper Mill',
        category: 'Kitchen',
        brand: 'Acme',
        price: 27.75,
        quantity: 2,
        url: 'https://acme.example/mill',
        image_url: 'https://acme.example/mill.png',
        color: 'black',
      },
      { sku: 'GIFT-WRAP', price: 0.2 },
      { name: 'No id', price: 3 },
    ],
  };

  test('Order Completed → commerce/trackPurchase with items, total and the order id', () => {
    const request = onlyRequest(iterable, context, track('Order Completed', ORDER));
    expect(request).toMatchObject({
      url: 'https://api.iterable.com/api/commerce/trackPurchase',
      headers: HEADERS,
    });
    expect(request.batch).toBeUndefined();
    expect(bodyOf(request)).toEqual({
      id: 'o-1001',
      user: { userId: 'user-4711' },
      items: [
        {
          id: 'sku-1',
          name: 'Salt & Pepper Mill',
          price: 27.75,
          quantity: 2,
          sku: 'SPM-1',
          categories: ['Kitchen'],
          imageUrl: 'https://acme.example/mill.png',
          url: 'https://acme.example/mill',
          dataFields: { color: 'black', brand: 'Acme' },
        },
        { id: 'GIFT-WRAP', name: 'GIFT-WRAP', price: 0.2, quantity: 1, sku: 'GIFT-WRAP' },
      ],
      total: 64.9,
      createdAt: SECONDS,
      dataFields: { revenue: 55.5, currency: 'EUR', affiliation: 'Salt & Pepper Store' },
    });
  });

  test('spec names as senders write them; without total or revenue, the sum of the items', () => {
    const order = track('order_completed', {
      products: [{ product_id: 'a', price: 0.1, quantity: 3 }],
    });
    expect(bodyOf(onlyRequest(iterable, context, order))).toMatchObject({
      id: MESSAGE_ID,
      total: 0.3,
    });
  });

  test('email-based project: the purchase creates a userId-only user with preferUserId', () => {
    const body = bodyOf(onlyRequest(iterable, emailBased, track('Order Completed', ORDER)));
    expect(body).toMatchObject({ user: { userId: 'user-4711', preferUserId: true } });
  });

  test('an order without a product Iterable can record is a custom event', () => {
    const event = track('Order Completed', { order_id: 'o-2', products: [{ name: 'No price' }] });
    expect(itemOf(onlyRequest(iterable, context, event))).toMatchObject({
      eventName: 'Order Completed',
      dataFields: { order_id: 'o-2' },
    });
  });
});

describe('iterable bulk answers', () => {
  // Items: Ada's event, Bob's event (userIds), Cy's event (an email in a hybrid project).
  const events = () =>
    sentBatch(iterable, context, [
      onlyRequest(iterable, context, track('Signed Up', {}, { userId: 'ada' })),
      onlyRequest(iterable, context, track('Signed Up', {}, { userId: 'bob' })),
      onlyRequest(
        iterable,
        context,
        track(
          'Shared Cart',
          {},
          { userId: undefined, context: { traits: { email: 'Cy@Example.com' } } },
        ),
      ),
    ]);
  const answer = (fields: Record<string, unknown>) => ({
    successCount: 2,
    failCount: 1,
    disallowedEventNames: [],
    filteredOutFields: [],
    createdFields: [],
    ...fields,
  });

  test('trackBulk naming invalid userIds: those events are dead-lettered, the others were taken', () => {
    const body = answer({ failedUpdates: { invalidUserIds: ['bob'], invalidEmails: [] } });
    expect(verdictOf(iterable, 200, body, {}, events())).toEqual({
      outcome: 'per-item',
      items: [
        { outcome: 'ok' },
        {
          outcome: 'abort',
          reason: 'Iterable refused the event: invalid userId "bob" (failedUpdates.invalidUserIds)',
        },
        { outcome: 'ok' },
      ],
    });
  });

  test('users not found yet are sent again; forgotten users and disallowed names are not', () => {
    const body = answer({
      failCount: 3,
      successCount: 0,
      failedUpdates: { notFoundUserIds: ['ada'], forgottenEmails: ['cy@example.com'] },
      disallowedEventNames: ['Signed Up'],
    });
    const verdict = verdictOf(iterable, 200, body, {}, events());
    expect(verdict).toEqual({
      outcome: 'per-item',
      items: [
        {
          outcome: 'abort',
          reason:
            'Iterable refused the event: event name "Signed Up" is not allowed in the project (disallowedEventNames)',
        },
        expect.objectContaining({ outcome: 'abort' }),
        {
          outcome: 'abort',
          reason:
            'Iterable refused the event: user forgotten (GDPR) "Cy@Example.com" (failedUpdates.forgottenEmails)',
        },
      ],
    });
    const notFound = answer({ failedUpdates: { notFoundUserIds: ['ada'] } });
    expect(verdictOf(iterable, 200, notFound, {}, events())).toMatchObject({
      items: [
        {
          outcome: 'retry',
          reason:
            'Iterable refused the event: no user with this userId yet "ada" (failedUpdates.notFoundUserIds)',
        },
        { outcome: 'ok' },
        { outcome: 'ok' },
      ],
    });
  });

  test('bulkUpdate naming conflicts and invalid data: those updates are dead-lettered', () => {
    const users = sentBatch(iterable, context, [
      onlyRequest(iterable, context, identify({ email: 'taken@example.com' }, { userId: 'ada' })),
      onlyRequest(iterable, context, identify({ age: 'old' }, { userId: 'bob' })),
    ]);
    const body = {
      successCount: 0,
      failCount: 2,
      failedUpdates: { conflictUserIds: ['ada'], invalidDataUserIds: ['bob'] },
    };
    expect(verdictOf(iterable, 200, body, {}, users)).toEqual({
      outcome: 'per-item',
      items: [
        {
          outcome: 'abort',
          reason:
            'Iterable refused the user update: userId of another user "ada" (failedUpdates.conflictUserIds)',
        },
        {
          outcome: 'abort',
          reason:
            'Iterable refused the user update: invalid data fields "bob" (failedUpdates.invalidDataUserIds)',
        },
      ],
    });
  });

  test('older answers: the deprecated top-level lists', () => {
    const body = { successCount: 2, failCount: 1, invalidUserIds: ['bob'] };
    expect(verdictOf(iterable, 200, body, {}, events())).toMatchObject({
      items: [{ outcome: 'ok' }, { outcome: 'abort' }, { outcome: 'ok' }],
    });
  });

  test('failures naming no item of the request: dead-lettered with the answer', () => {
    const body = answer({ failedUpdates: { invalidUserIds: ['someone-else'] } });
    expect(verdictOf(iterable, 200, body, {}, events())).toMatchObject({
      outcome: 'abort',
      reason: expect.stringMatching(
        /^Iterable refused 1 item\(s\) of the request and took the others/,
      ),
    });
  });

  test('no failures, error statuses and single endpoints follow the router’s rules', () => {
    expect(verdictOf(iterable, 200, answer({ failCount: 0 }), {}, events())).toBeUndefined();
    const badKey = { msg: 'Invalid API key', code: 'BadApiKey', params: null };
    expect(verdictOf(iterable, 401, badKey, {}, events())).toBeUndefined();
    const limited = { msg: 'Rate limit exceeded', code: 'RateLimitExceeded', params: null };
    expect(verdictOf(iterable, 429, limited, {}, events())).toBeUndefined();
    expect(verdictOf(iterable, 200, { msg: '', code: 'Success', params: null })).toBeUndefined();
  });
});
