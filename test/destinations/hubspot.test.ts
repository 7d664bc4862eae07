/**
 * HubSpot mapping and response reading, from HubSpot's documented requests and answers: the CRM
 * contacts batch upsert (`inputs[]` with `idProperty`, 207 Multi-Status `errors[]`), custom event
 * occurrences (`/events/v3/send`, `pe{HubID}_{name}`), the error shape and the 429 of the API usage
 * guidelines (`policyName`, `X-HubSpot-RateLimit-*`).
 */
import { hubspot } from '../../destinations/hubspot';
import {
  bodyOf,
  combined,
  configError,
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

const context = contextFor(hubspot, {
  accessToken: 'pat-na1-11111111-2222-3333-4444-555555555555',
  hubId: '1234567',
  events: {
    'Order Completed': 'order_completed',
    'Signed Up': { name: 'pe7654321_signed_up', properties: { plan: 'plan_name' } },
  },
  pageEvent: 'page_viewed',
  contactProperties: { plan: 'plan', 'preferences.newsletter': 'newsletter_opt_in' },
});
const HEADERS = {
  'Content-Type': 'application/json',
  Authorization: 'Bearer pat-na1-11111111-2222-3333-4444-555555555555',
};
const UPSERT = 'https://api.hubapi.com/crm/v3/objects/contacts/batch/upsert';
const EVENTS = 'https://api.hubapi.com/events/v3/send/batch';

describe('hubspot config', () => {
  test('fills defaults', () => {
    expect(contextFor(hubspot, { accessToken: 't' }).config).toEqual({
      accessToken: 't',
      events: {},
      contactProperties: {},
      allTraits: false,
    });
  });

  testConfigErrors('hubspot', [
    [{}, 'accessToken: required'],
    [{ accessToken: 't', hubId: 'portal-1' }, 'hubId: must be the account’s Hub ID (digits)'],
    [{ accessToken: 't', region: 'eu' }, 'region: unknown field'],
    [
      { accessToken: 't', events: { 'Signed Up': 'signed_up' } },
      'events.Signed Up: is not a fully qualified name (pe<HubID>_<name>); set hubId',
    ],
    [{ accessToken: 't', pageEvent: 'page_viewed' }, 'pageEvent: is not a fully qualified name'],
  ]);

  test('fully qualified names need no hubId', () => {
    expect(() =>
      configError('hubspot', { accessToken: 't', events: { 'Signed Up': 'pe62515_signed_up' } }),
    ).toThrow('the config was accepted');
  });
});

describe('hubspot identify: contacts upserted by email', () => {
  test('default contact properties from reserved traits, configured ones by path', () => {
    const event = identify({
      email: 'Ada@Example.com',
      firstName: 'Ada',
      last_name: 'Lovelace',
      phone: '+442079460000',
      title: 'Analyst',
      website: 'https://ada.example',
      company: { name: 'Analytical Engines Ltd', id: 'ae-1' },
      address: { street: '12 St James Sq', city: 'London', postalCode: 'SW1Y 4JH', country: 'GB' },
      plan: 'pro',
      preferences: { newsletter: true },
      favouriteColour: 'green',
      birthday: '1815-12-10',
    });
    expect(onlyRequest(hubspot, context, event)).toEqual({
      method: 'POST',
      url: UPSERT,
      headers: HEADERS,
      body: JSON.stringify({
        inputs: [
          {
            idProperty: 'email',
            id: 'Ada@Example.com',
            objectWriteTraceId: 'ada@example.com',
            properties: {
              email: 'Ada@Example.com',
              firstname: 'Ada',
              lastname: 'Lovelace',
              phone: '+442079460000',
              jobtitle: 'Analyst',
              website: 'https://ada.example',
              company: 'Analytical Engines Ltd',
              address: '12 St James Sq',
              city: 'London',
              zip: 'SW1Y 4JH',
              country: 'GB',
              plan: 'pro',
              newsletter_opt_in: 'true',
            },
          },
        ],
      }),
      batch: expect.objectContaining({ item: expect.anything() }),
    });
  });

  test('allTraits: the other traits too, named as HubSpot internal names', () => {
    const all = contextFor(hubspot, { accessToken: 't', allTraits: true });
    const event = identify({
      email: 'ada@example.com',
      'Favourite Colour': 'green',
      seats: 12,
      tags: ['beta', 'vip'],
      '2fa': true,
      nested: { a: 1 },
      birthday: '1815-12-10',
    });
    const body = bodyOf(onlyRequest(hubspot, all, event)) as { inputs: [{ properties: object }] };
    expect(body.inputs[0].properties).toEqual({
      email: 'ada@example.com',
      favourite_colour: 'green',
      seats: '12',
      tags: 'beta;vip',
    });
  });

  test('traits in context.traits (RudderStack SDKs) count; no email: nothing to upsert', () => {
    const fromContext = segmentEvent('identify', {
      traits: undefined,
      context: { traits: { email: 'ada@example.com', firstName: 'Ada' } },
    });
    const body = bodyOf(onlyRequest(hubspot, context, fromContext)) as {
      inputs: [{ id: string }];
    };
    expect(body.inputs[0].id).toBe('ada@example.com');
    expect(hubspot.transform(identify({ firstName: 'Ada' }), context)).toEqual([]);
  });

  test('a batch of contacts is one upsert; the same contact twice becomes one input', () => {
    const requests = [
      identify({ email: 'ada@example.com', plan: 'free', firstName: 'Ada' }),
      identify({ email: 'grace@example.com' }, { userId: 'user-2' }),
      identify({ email: 'ADA@example.com', plan: 'pro' }),
    ].map((event) => onlyRequest(hubspot, context, event));
    expect(new Set(requests.map((request) => request.batch!.key)).size).toBe(1);
    expect(bodyOf(combined(hubspot, context, requests))).toEqual({
      inputs: [
        {
          idProperty: 'email',
          id: 'ada@example.com',
          objectWriteTraceId: 'ada@example.com',
          properties: { email: 'ADA@example.com', firstname: 'Ada', plan: 'pro' },
        },
        {
          idProperty: 'email',
          id: 'grace@example.com',
          objectWriteTraceId: 'grace@example.com',
          properties: { email: 'grace@example.com' },
        },
      ],
    });
    expect(hubspot.batching).toMatchObject({ maxItems: 100 });
  });
});

describe('hubspot track and page: custom event occurrences', () => {
  test('a mapped event: fully qualified name, contact email, time, uuid, properties', () => {
    const event = track(
      'Order Completed',
      { order_id: 'o-1', 'Total Value': 64.9, coupon: 'SPRING', products: [{ id: 'p' }] },
      { context: { traits: { email: 'ada@example.com' } } },
    );
    const request = onlyRequest(hubspot, context, event);
    expect(request).toMatchObject({ method: 'POST', url: EVENTS, headers: HEADERS });
    expect(bodyOf(request)).toEqual({
      inputs: [
        {
          eventName: 'pe1234567_order_completed',
          email: 'ada@example.com',
          occurredAt: TIMESTAMP,
          uuid: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-/),
          properties: { order_id: 'o-1', total_value: '64.9', coupon: 'SPRING' },
        },
      ],
    });
  });

  test('the same event resent keeps its uuid, so HubSpot takes it once', () => {
    const event = track('Order Completed', {}, { context: { traits: { email: 'a@b.example' } } });
    const uuid = (e: typeof event) =>
      (bodyOf(onlyRequest(hubspot, context, e)) as { inputs: [{ uuid: string }] }).inputs[0].uuid;
    expect(uuid(event)).toBe(uuid({ ...event }));
    expect(uuid(event)).not.toBe(uuid({ ...event, messageId: 'another-message' }));
  });

  test('a mapping naming properties sends only those, under its names', () => {
    const event = track(
      'Signed Up',
      { plan: 'pro', referrer: 'ad' },
      { context: { traits: { email: 'ada@example.com' } } },
    );
    expect(bodyOf(onlyRequest(hubspot, context, event))).toMatchObject({
      inputs: [{ eventName: 'pe7654321_signed_up', properties: { plan_name: 'pro' } }],
    });
  });

  test('at most 50 properties per occurrence', () => {
    const properties = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`p${i}`, i]));
    const event = track('Order Completed', properties, {
      context: { traits: { email: 'ada@example.com' } },
    });
    const body = bodyOf(onlyRequest(hubspot, context, event)) as {
      inputs: [{ properties: object }];
    };
    expect(Object.keys(body.inputs[0].properties)).toHaveLength(50);
  });

  test('unmapped events and events without an email are not sent', () => {
    const withEmail = { context: { traits: { email: 'ada@example.com' } } };
    expect(hubspot.transform(track('Product Viewed', {}, withEmail), context)).toEqual([]);
    expect(hubspot.transform(track('Order Completed', {}), context)).toEqual([]);
    // Only the config's own keys map: not what every object inherits.
    expect(hubspot.transform(track('constructor', {}, withEmail), context)).toEqual([]);
  });

  test('page: the configured page event with the page’s fields, or nothing', () => {
    const page = segmentEvent('page', {
      name: 'Pricing',
      properties: { url: 'https://acme.example/pricing', title: 'Pricing' },
      context: { page: { referrer: 'https://www.google.com/' }, traits: { email: 'a@b.example' } },
    });
    expect(bodyOf(onlyRequest(hubspot, context, page))).toMatchObject({
      inputs: [
        {
          eventName: 'pe1234567_page_viewed',
          properties: {
            name: 'Pricing',
            url: 'https://acme.example/pricing',
            title: 'Pricing',
            referrer: 'https://www.google.com/',
          },
        },
      ],
    });
    expect(hubspot.transform(page, contextFor(hubspot, { accessToken: 't' }))).toEqual([]);
  });

  test('screen, group and alias are not sent', () => {
    expect(hubspot.supportedTypes).toEqual(['identify', 'track', 'page']);
  });
});

describe('hubspot responses', () => {
  const contacts = ['ada@example.com', 'grace@example.com', 'alan@example.com'].map((email) =>
    onlyRequest(hubspot, context, identify({ email })),
  );
  const sent = sentBatch(hubspot, context, contacts);

  test('200 without errors: the default (all done)', () => {
    const body = { status: 'COMPLETE', results: [{ id: '512', new: true, properties: {} }] };
    expect(verdictOf(hubspot, 200, body, {}, sent)).toBeUndefined();
  });

  test('207 naming inputs: those contacts are dead-lettered, the others were upserted', () => {
    const body = {
      status: 'COMPLETE',
      numErrors: 1,
      results: [
        { id: '101', objectWriteTraceId: 'ada@example.com', properties: {} },
        { id: '103', objectWriteTraceId: 'alan@example.com', properties: {} },
      ],
      errors: [
        {
          status: 'error',
          category: 'VALIDATION_ERROR',
          message: 'Property values were not valid',
          context: { objectWriteTraceId: ['grace@example.com'] },
        },
      ],
    };
    expect(verdictOf(hubspot, 207, body, {}, sent)).toEqual({
      outcome: 'per-item',
      items: [
        { outcome: 'ok' },
        {
          outcome: 'abort',
          reason: 'HubSpot refused the contact: VALIDATION_ERROR: Property values were not valid',
        },
        { outcome: 'ok' },
      ],
    });
  });

  test('207 with an error naming no input: unconfirmed contacts are sent again', () => {
    const body = {
      results: [{ id: '101', properties: { email: 'ada@example.com' } }],
      errors: [{ status: 'error', category: 'INTERNAL_ERROR', message: 'try again' }],
    };
    const verdict = verdictOf(hubspot, 207, body, {}, sent);
    expect(verdict).toEqual({
      outcome: 'per-item',
      items: [
        { outcome: 'ok' },
        {
          outcome: 'retry',
          reason:
            'HubSpot reported errors naming no contact of the batch: INTERNAL_ERROR: try again',
        },
        expect.objectContaining({ outcome: 'retry' }),
      ],
    });
  });

  test('429 DAILY: an hour; burst: the interval HubSpot names; Retry-After: the router’s', () => {
    const daily = {
      status: 'error',
      message: 'You have reached your daily limit.',
      errorType: 'RATE_LIMIT',
      correlationId: 'c033cdaa-2c40-4a64-ae48-b4cec88dad24',
      policyName: 'DAILY',
      requestId: '3d3e35b7-0dae-4b9f-a6e3-9c230cbcf8dd',
    };
    expect(verdictOf(hubspot, 429, daily)).toEqual({
      outcome: 'retry',
      reason: 'HubSpot rate limit (DAILY): You have reached your daily limit.',
      afterMs: 3_600_000,
    });
    const burst = { ...daily, message: 'You have reached your ten_secondly_rolling limit.' };
    burst.policyName = 'TEN_SECONDLY_ROLLING';
    const headers = {
      'x-hubspot-ratelimit-interval-milliseconds': '10000',
      'x-hubspot-ratelimit-max': '190',
      'x-hubspot-ratelimit-remaining': '0',
    };
    expect(verdictOf(hubspot, 429, burst, headers)).toMatchObject({ afterMs: 10_000 });
    expect(verdictOf(hubspot, 429, burst, { 'retry-after': '3' })).not.toHaveProperty('afterMs');
  });

  test('other errors: the router’s default by status', () => {
    const error = {
      status: 'error',
      message: 'Authentication credentials not found.',
      category: 'INVALID_AUTHENTICATION',
      correlationId: 'a43683b0-5717-4ceb-80b4-104d02915d8c',
    };
    expect(verdictOf(hubspot, 401, error, {}, sent)).toBeUndefined();
    expect(verdictOf(hubspot, 400, error)).toBeUndefined();
  });
});
