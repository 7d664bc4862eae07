/**
 * Intercom mapping, follow-up steps and response reading, from Intercom's documented REST API
 * (2.x reference: Create a contact and its 409, Update a contact, Search contacts, Submit a data
 * event and its metadata types, Create or update a company, Attach a contact to a company, rate
 * limiting's 429 and `X-RateLimit-*` headers, `error.list` errors).
 */
import type { Answer, DestinationRequest } from '../../destinations/destination';
import { intercom } from '../../destinations/intercom';
import type { SegmentEvent } from '../../src/event';
import {
  bodyOf,
  contextFor,
  identify,
  onlyRequest,
  segmentEvent,
  testConfigErrors,
  TIMESTAMP_MS,
  track,
  verdictOf,
} from './support';

const context = contextFor(intercom, { accessToken: 'dG9rOmludGVyY29tLXRva2Vu', region: 'eu' });
const HEADERS = {
  'Content-Type': 'application/json',
  Authorization: 'Bearer dG9rOmludGVyY29tLXRva2Vu',
  Accept: 'application/json',
  'Intercom-Version': '2.14',
};
const API = 'https://api.eu.intercom.io';
const SECONDS = TIMESTAMP_MS / 1000;
const CONFLICT = {
  type: 'error.list',
  request_id: '80ec9d92-99ff-4da9-9a0e-c0ab7c42f7e7',
  errors: [
    {
      code: 'conflict',
      message: 'A contact matching those details already exists with id=5da6f18e3d7cf967e4582d05',
    },
  ],
};

/** An answer to `request` with `status` and `body`. */
function answer(request: DestinationRequest, status: number, body: unknown): Answer {
  return { request, response: { status, headers: {}, body: JSON.stringify(body) } };
}

/** Every request an event leads to when the vendor gives `answers` in turn. */
function conversation(event: SegmentEvent, replies: [number, unknown][]): DestinationRequest[] {
  const sent = [...intercom.transform(event, context)];
  const answers: Answer[] = [];
  for (let index = 0; index < sent.length && index < replies.length; index++) {
    answers.push(answer(sent[index], ...replies[index]));
    sent.push(...intercom.followUp!(event, answers, context));
  }
  return sent;
}

describe('intercom config', () => {
  test('fills defaults', () => {
    expect(contextFor(intercom, { accessToken: 't' }).config).toEqual({
      accessToken: 't',
      region: 'us',
    });
  });

  testConfigErrors('intercom', [
    [{}, 'accessToken: required'],
    [{ accessToken: 't', region: 'de' }, 'region: Invalid option'],
  ]);

  test('regions: US, EU and Australia hosts', () => {
    const hostOf = (region: string) =>
      new URL(
        onlyRequest(intercom, contextFor(intercom, { accessToken: 't', region }), track('X')).url,
      ).host;
    expect(['us', 'eu', 'au'].map(hostOf)).toEqual([
      'api.intercom.io',
      'api.eu.intercom.io',
      'api.au.intercom.io',
    ]);
  });
});

describe('intercom identify: users and leads', () => {
  const traits = {
    email: 'wash@serenity.io',
    phone: '+1123456789',
    firstName: 'Hoban',
    lastName: 'Washburn',
    avatar: 'https://example.org/128Wash.jpg',
    createdAt: '2019-10-14T16:15:51.000Z',
    paid_subscriber: true,
    monthly_spend: 155.5,
    'team.mates': 1,
    address: { city: 'Dublin' },
    tags: ['pilot'],
  };
  const user = {
    role: 'user',
    external_id: 'user-4711',
    email: 'wash@serenity.io',
    phone: '+1123456789',
    name: 'Hoban Washburn',
    avatar: 'https://example.org/128Wash.jpg',
    signed_up_at: 1571069751,
    last_seen_at: SECONDS,
    custom_attributes: { paid_subscriber: true, monthly_spend: 155.5, team_mates: 1 },
  };

  test('a userId: a user contact created with Intercom’s fields, the other traits custom', () => {
    expect(onlyRequest(intercom, context, identify(traits))).toEqual({
      method: 'POST',
      url: `${API}/contacts`,
      headers: HEADERS,
      body: JSON.stringify(user),
    });
  });

  test('created: nothing follows', () => {
    const created = { type: 'contact', id: '5ba682d23d7cf92bef87bfd4', role: 'user' };
    expect(conversation(identify(traits), [[200, created]])).toHaveLength(1);
  });

  test('409 naming the existing contact: it is updated by its Intercom id', () => {
    const event = identify(traits);
    const [create, update, ...more] = conversation(event, [
      [409, CONFLICT],
      [200, { type: 'contact', id: '5da6f18e3d7cf967e4582d05' }],
    ]);
    expect(more).toEqual([]);
    expect(update).toEqual({
      method: 'PUT',
      url: `${API}/contacts/5da6f18e3d7cf967e4582d05`,
      headers: HEADERS,
      body: create.body,
    });
    const sent = { request: create, items: [] };
    expect(verdictOf(intercom, 409, CONFLICT, {}, sent)).toEqual({ outcome: 'ok' });
  });

  test('a 409 to an update, or one naming no contact, is the router’s (dead-lettered)', () => {
    const [create] = intercom.transform(identify(traits), context);
    const update = { ...create, method: 'PUT' as const, url: `${API}/contacts/abc` };
    expect(verdictOf(intercom, 409, CONFLICT, {}, { request: update, items: [] })).toBeUndefined();
    const other = { ...CONFLICT, errors: [{ code: 'conflict', message: 'Conflict' }] };
    expect(verdictOf(intercom, 409, other, {}, { request: create, items: [] })).toBeUndefined();
  });

  test('no userId: a lead, searched by email, then updated or created', () => {
    const event = identify({ email: 'wash@serenity.io', name: 'Wash' }, { userId: undefined });
    const [search] = intercom.transform(event, context);
    expect(search).toMatchObject({ method: 'POST', url: `${API}/contacts/search` });
    expect(bodyOf(search)).toEqual({
      query: {
        operator: 'AND',
        value: [
          { field: 'role', operator: '=', value: 'lead' },
          { field: 'email', operator: '=', value: 'wash@serenity.io' },
        ],
      },
    });
    const lead = { role: 'lead', email: 'wash@serenity.io', name: 'Wash', last_seen_at: SECONDS };
    const found = { type: 'list', data: [{ type: 'contact', id: '6329bd9ffe4e2e91dac76188' }] };
    const [, update] = conversation(event, [[200, found]]);
    expect(update).toMatchObject({
      method: 'PUT',
      url: `${API}/contacts/6329bd9ffe4e2e91dac76188`,
    });
    expect(bodyOf(update)).toEqual(lead);
    const [, create] = conversation(event, [[200, { type: 'list', data: [], total_count: 0 }]]);
    expect(create).toMatchObject({ method: 'POST', url: `${API}/contacts` });
    expect(bodyOf(create)).toEqual(lead);
  });

  test('a lead without an email is not sent; an inactive call sets no last_seen_at', () => {
    expect(intercom.transform(identify({ name: 'Wash' }, { userId: undefined }), context)).toEqual(
      [],
    );
    const inactive = identify({ email: 'a@b.example' }, { context: { active: false } });
    expect(bodyOf(onlyRequest(intercom, context, inactive))).toEqual({
      role: 'user',
      external_id: 'user-4711',
      email: 'a@b.example',
    });
  });
});

describe('intercom track: data events', () => {
  test('the documented placed-order example: name, time, user_id, metadata types', () => {
    const event = track('placed-order', {
      order_date: 1392036272,
      stripe_invoice: 'inv_3434343434',
      order_number: { value: '3434-3434', url: 'https://example.org/orders/3434-3434' },
      price: { currency: 'usd', amount: 2999 },
    });
    expect(onlyRequest(intercom, context, event)).toEqual({
      method: 'POST',
      url: `${API}/events`,
      headers: HEADERS,
      body: JSON.stringify({
        event_name: 'placed-order',
        created_at: SECONDS,
        user_id: 'user-4711',
        metadata: {
          order_date: 1392036272,
          stripe_invoice: 'inv_3434343434',
          order_number: { url: 'https://example.org/orders/3434-3434', value: '3434-3434' },
          price: { amount: 2999, currency: 'usd' },
        },
      }),
    });
  });

  test('revenue as Intercom’s amount in cents; nested values and lists left out', () => {
    const event = track('Order Completed', {
      order_id: 'o-1',
      revenue: 29.99,
      currency: 'EUR',
      products: [{ id: 'p-1' }],
      shipping: { carrier: 'dhl' },
      gift: true,
    });
    expect(bodyOf(onlyRequest(intercom, context, event))).toMatchObject({
      metadata: {
        price: { amount: 2999, currency: 'eur' },
        order_id: 'o-1',
        revenue: 29.99,
        currency: 'EUR',
        gift: 'true',
      },
    });
  });

  test('within Intercom’s limits: 20 items, strings of 255, keys without refused characters', () => {
    const properties = Object.fromEntries(
      Array.from({ length: 25 }, (_, i) => [`key.$${i}`, 'x'.repeat(300)]),
    );
    const body = bodyOf(onlyRequest(intercom, context, track('Big', properties))) as {
      metadata: Record<string, string>;
    };
    const keys = Object.keys(body.metadata);
    expect(keys).toHaveLength(20);
    expect(keys[0]).toBe('key__0');
    expect(body.metadata.key__0).toHaveLength(255);
  });

  test('no userId: by email when one is known, else not sent', () => {
    const byEmail = track(
      'Viewed Plan',
      {},
      {
        userId: undefined,
        context: { traits: { email: 'wash@serenity.io' } },
      },
    );
    expect(bodyOf(onlyRequest(intercom, context, byEmail))).toEqual({
      event_name: 'Viewed Plan',
      created_at: SECONDS,
      email: 'wash@serenity.io',
      metadata: {},
    });
    expect(intercom.transform(track('Viewed Plan', {}, { userId: undefined }), context)).toEqual(
      [],
    );
  });
});

describe('intercom group: companies and the user attached', () => {
  const group = segmentEvent('group', {
    groupId: '6',
    traits: {
      name: 'Blue Sun',
      plan: 'enterprise',
      employees: 240,
      website: 'https://bluesun.example',
      industry: 'Manufacturing',
      monthly_spend: 1000,
      createdAt: '2019-10-14T16:15:51.000Z',
      region: 'EMEA',
    },
  });

  test('the company upserted by company_id, then the user found or created, then attached', () => {
    const [company, contact, attach, ...more] = conversation(group, [
      [200, { type: 'company', id: '531ee472cce572a6ec000006', company_id: '6' }],
      [409, CONFLICT],
      [200, { type: 'company', id: '531ee472cce572a6ec000006' }],
    ]);
    expect(more).toEqual([]);
    expect(company).toEqual({
      method: 'POST',
      url: `${API}/companies`,
      headers: HEADERS,
      body: JSON.stringify({
        company_id: '6',
        name: 'Blue Sun',
        plan: 'enterprise',
        size: 240,
        website: 'https://bluesun.example',
        industry: 'Manufacturing',
        monthly_spend: 1000,
        remote_created_at: 1571069751,
        custom_attributes: { region: 'EMEA' },
      }),
    });
    expect(contact).toMatchObject({ method: 'POST', url: `${API}/contacts` });
    expect(bodyOf(contact)).toEqual({ role: 'user', external_id: 'user-4711' });
    expect(attach).toEqual({
      method: 'POST',
      url: `${API}/contacts/5da6f18e3d7cf967e4582d05/companies`,
      headers: HEADERS,
      body: JSON.stringify({ id: '531ee472cce572a6ec000006' }),
    });
  });

  test('a new user: attached by the id of the contact just created', () => {
    const [, , attach] = conversation(group, [
      [200, { type: 'company', id: 'c-1' }],
      [200, { type: 'contact', id: 'u-1' }],
    ]);
    expect(attach.url).toBe(`${API}/contacts/u-1/companies`);
  });

  test('an answer without the id the next step needs fails the event', () => {
    expect(() =>
      conversation(group, [
        [200, { type: 'company' }],
        [200, { id: 'u-1' }],
      ]),
    ).toThrow('Intercom’s answer carried no company id');
  });

  test('a group without a userId cannot be attached', () => {
    expect(() => intercom.transform({ ...group, userId: undefined }, context)).toThrow(
      'Intercom attaches companies to users, and this group has no userId',
    );
  });

  test('404 right after the attach’s objects were returned: retried', () => {
    const request = { method: 'POST' as const, url: `${API}/contacts/u-1/companies`, headers: {} };
    const notFound = {
      type: 'error.list',
      errors: [{ code: 'not_found', message: 'Contact Not Found' }],
    };
    expect(verdictOf(intercom, 404, notFound, {}, { request, items: [] })).toMatchObject({
      outcome: 'retry',
    });
  });
});

describe('intercom responses', () => {
  test('429: until X-RateLimit-Reset, or as Retry-After says', () => {
    const reset = String(Math.floor(Date.now() / 1000) + 5);
    const headers = { 'x-ratelimit-limit': '1000', 'x-ratelimit-remaining': '0' };
    const limited = { type: 'error.list', errors: [{ code: 'rate_limit_exceeded' }] };
    const verdict = verdictOf(intercom, 429, limited, {
      ...headers,
      'x-ratelimit-reset': reset,
    });
    expect(verdict).toMatchObject({ outcome: 'retry', reason: /^Intercom rate limit/ });
    const afterMs = (verdict as { afterMs: number }).afterMs;
    expect(afterMs).toBeGreaterThan(0);
    expect(afterMs).toBeLessThanOrEqual(5000);
    expect(verdictOf(intercom, 429, limited, headers)).toMatchObject({ afterMs: 10_000 });
    expect(verdictOf(intercom, 429, limited, { 'retry-after': '7' })).not.toHaveProperty('afterMs');
  });

  test('other errors: the router’s default by status', () => {
    const unauthorized = {
      type: 'error.list',
      request_id: '000dlm2pntltjm8rpvl0',
      errors: [{ code: 'unauthorized', message: 'Access Token Invalid' }],
    };
    expect(verdictOf(intercom, 401, unauthorized)).toBeUndefined();
  });

  test('page, screen and alias are not sent', () => {
    expect(intercom.supportedTypes).toEqual(['identify', 'track', 'group']);
  });
});
