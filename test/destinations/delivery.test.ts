/**
 * Every destination delivered end to end: the real DestinationWorker claims rows from the queue
 * in a real PostgreSQL, maps them with the destination module, batches and sends them, and
 * records the outcome. The real vendors cannot be reached from the test environment (and must
 * not get test traffic), so a local HTTP server plays each vendor: the worker's `fetch` sends
 * every request to it, keeping path and query, and records the URL the destination addressed.
 *
 * Per destination (one table, four scenarios): success; 429 with Retry-After; 500 then success;
 * 400 to the dead letters with credentials masked. Then each vendor's response quirks (its
 * `interpretResponse`) end to end. What each event maps to, field by field, is tested in the
 * other files of this folder.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { toolDestinationOf, validateDestinationConfig } from '../../destinations';
import type { SegmentEvent } from '../../src/event';
import { createLogger } from '../../src/log';
import { createMetrics } from '../../src/metrics';
import { DeliveryLocks } from '../../src/router/delivery-locks';
import {
  DestinationWorker,
  type DeliveryPolicy,
  type WorkerOptions,
} from '../../src/router/destination-worker';
import { deadLetterRows, enqueueDeliveries, queuedJobs } from '../support/deliveries';
import { eventually } from '../support/eventually';
import { TEST_WORKER_OPTIONS } from '../support/router-testbed';
import { createTestDatabase, type TestDatabase } from '../support/test-database';
import {
  startVendor,
  type RecordedRequest,
  type ScriptedResponse,
  type VendorServer,
} from '../support/vendor-server';
import {
  basic,
  BROWSER_CONTEXT,
  MOBILE_CONTEXT,
  segmentEvent,
  TIMESTAMP,
  TIMESTAMP_MS,
} from './support';

let database: TestDatabase;
let locks: DeliveryLocks;
let vendor: VendorServer;
/** The URL of each request as the destination addressed it, in the order they were sent. */
const addressed: URL[] = [];

/** Sends a request meant for a vendor to the local vendor server instead. */
const toLocalVendor: typeof fetch = (input, init) => {
  const url = new URL(input instanceof Request ? input.url : String(input));
  addressed.push(url);
  return fetch(new URL(`${url.pathname}${url.search}`, vendor.url), init);
};

beforeAll(async () => {
  database = await createTestDatabase();
  locks = new DeliveryLocks(database.pool);
  vendor = await startVendor();
});
afterAll(async () => {
  await vendor?.close();
  await locks?.close();
  await database?.drop();
});
beforeEach(async () => {
  await database.pool.query('TRUNCATE delivery_jobs, dead_letters');
  vendor.requests.length = 0;
  addressed.length = 0;
});

/** One request at a time, so requests reach the vendor in the order they were sent. */
const POLICY: DeliveryPolicy = {
  maxConcurrency: 1,
  timeoutMs: 2000,
  maxAttempts: 5,
  maxRetryHours: 1,
};
/** A first failure is retried after 15–30 ms; no in-process retries unless a test says so. */
const FAST = TEST_WORKER_OPTIONS;

/** A request the vendor received, with the URL the destination addressed. */
interface SentRequest {
  method: string;
  url: URL;
  headers: IncomingHttpHeaders;
  text: string;
  /** The body parsed as JSON, or its text when it is not JSON. */
  body: unknown;
}

interface DeliveryCase {
  type: string;
  /** A realistic workspace config (defaults are filled by the destination's schema). */
  config: Record<string, unknown>;
  /** The config's credentials: requests carry them, dead letters must not. */
  secrets: string[];
  /** Events of two users, of the types the destination takes; the first is a track event. */
  events: SegmentEvent[];
  /** The vendor's answer to a request it accepts. */
  accept(request: RecordedRequest): ScriptedResponse;
  /** The body of the vendor's 400. */
  rejection: string;
  /** The body of the vendor's 429. */
  throttling?: string;
  /** The error a 429 is recorded with, when the destination words it. */
  throttledError?: RegExp;
  /** What the vendor received for `events`. */
  expectSuccess(requests: SentRequest[], events: SegmentEvent[]): void;
}

const ALICE = { userId: 'user-4711', anonymousId: 'a1b2c3d4-0000-4c4c-8888-0123456789ab' };
const BOB = {
  userId: 'bob@acme.example',
  anonymousId: '6f1c2b9e-58d4-4e0b-9a4c-2f7de0b1c3a5',
  context: MOBILE_CONTEXT,
};

/** An event as the gateway stores it, with its own messageId. */
function event(
  type: SegmentEvent['type'],
  person: Partial<SegmentEvent>,
  fields: Partial<SegmentEvent>,
): SegmentEvent {
  return segmentEvent(type, { messageId: randomUUID(), ...person, ...fields });
}

const ORDER = event('track', ALICE, {
  event: 'Order Completed',
  properties: {
    order_id: 'o-1001',
    total: 64.9,
    revenue: 55.5,
    currency: 'eur',
    affiliation: 'Salt & Pepper Store',
    products: [{ product_id: 'sku-1', name: 'Salt & Pepper Mill', price: 27.75, quantity: 2 }],
  },
});
const SIGNED_UP = event('track', BOB, { event: 'Signed Up', properties: { plan: 'pro' } });
const IDENTIFY = event('identify', ALICE, {
  traits: {
    email: 'alice@acme.example',
    firstName: 'Alice',
    lastName: 'Liddell',
    plan: 'pro',
    createdAt: '2024-04-30T09:00:00.000Z',
  },
});
const PAGE = event('page', ALICE, {
  name: 'Pricing',
  properties: { path: '/pricing', url: 'https://acme.example/pricing?plan=pro', title: 'Pricing' },
});
const SCREEN = event('screen', BOB, { name: 'Checkout', properties: { step: 2 } });
const GROUP = event('group', ALICE, {
  groupId: 'acme-inc',
  traits: { name: 'Acme Inc', employees: 120, plan: 'enterprise' },
});
const ALIAS = event('alias', BOB, { previousId: BOB.anonymousId });
/** Bob's account from before, merged into his current one. */
const MERGE_ACCOUNTS = event('alias', BOB, { previousId: 'bob-2019@acme.example' });
/** The Braze subscription group that Acme's group calls subscribe users to. */
const BRAZE_SUBSCRIPTION_GROUP = '8d5f0c6e-2b1a-4c3d-9e8f-7a6b5c4d3e2f';
/** A landing page whose campaign parameters take its URL past Customer.io's 100-byte names. */
const CAMPAIGN_PAGE = event('page', ALICE, {
  properties: {
    url: 'https://acme.example/pricing?utm_source=newsletter&utm_medium=email&utm_campaign=spring_sale_2024&utm_content=hero_button',
  },
});
/** An APNs device token as Segment's iOS SDK sends it, in `context.device.token`. */
const DEVICE_TOKEN = '740f4707bebcf74f9b7c25d48e3358945f6aa01da5ddb387462c7eaf61bb78ad';
const APP_OPENED = event('track', BOB, {
  event: 'Application Opened',
  properties: { from_background: false },
  context: { ...MOBILE_CONTEXT, device: { ...MOBILE_CONTEXT.device, token: DEVICE_TOKEN } },
});
/** Bob's profile with an email Klaviyo refuses. */
const KLAVIYO_BAD_PROFILE = event('identify', BOB, { traits: { email: 'bob at acme' } });
const ITERABLE_CHECKOUT = event('track', ALICE, {
  event: 'Checkout Started',
  properties: { order_id: 'o-1002', value: 12.5 },
});

/** The same people with their email in context.traits, as SDKs send it on every call. */
const ALICE_KNOWN = {
  ...ALICE,
  context: { ...BROWSER_CONTEXT, traits: { email: 'alice@acme.example' } },
};
const BOB_KNOWN = { ...BOB, context: { ...MOBILE_CONTEXT, traits: { email: 'bob@acme.example' } } };
const ORDER_KNOWN = { ...ORDER, ...ALICE_KNOWN };
const SIGNED_UP_KNOWN = { ...SIGNED_UP, ...BOB_KNOWN };
const BOB_IDENTIFY = event('identify', BOB, {
  traits: { email: 'bob@acme.example', firstName: 'Bob', plan: 'free' },
});
/** Intercom's documented 409 to creating a contact that exists (Create a contact). */
const INTERCOM_CONFLICT = {
  type: 'error.list',
  request_id: '80ec9d92-99ff-4da9-9a0e-c0ab7c42f7e7',
  errors: [
    {
      code: 'conflict',
      message: 'A contact matching those details already exists with id=5da6f18e3d7cf967e4582d05',
    },
  ],
};

const json = (value: unknown): string => JSON.stringify(value);
const accepted = (status: number, body: unknown) => (): ScriptedResponse => ({
  status,
  body: typeof body === 'string' ? body : json(body),
});

const CASES: DeliveryCase[] = [
  {
    type: 'webhook',
    config: {
      url: 'https://hooks.acme.example/sluice/events?source=web&token=wh-query-7f3a9c',
      headers: { Authorization: 'Bearer whsec_live_4fa9c2e1', 'X-Acme-Source': 'sluice' },
      batchSize: 20,
    },
    secrets: ['whsec_live_4fa9c2e1', 'wh-query-7f3a9c'],
    events: [ORDER, IDENTIFY, PAGE, GROUP, SIGNED_UP, SCREEN, ALIAS],
    accept: accepted(202, ''),
    rejection: '{"error":"unknown event schema"}',
    expectSuccess([request], events) {
      expect(request.method).toBe('POST');
      expect(String(request.url)).toBe(
        'https://hooks.acme.example/sluice/events?source=web&token=wh-query-7f3a9c',
      );
      expect(request.headers).toMatchObject({
        authorization: 'Bearer whsec_live_4fa9c2e1',
        'x-acme-source': 'sluice',
        'content-type': 'application/json',
      });
      // One array of both users' events, each user's in order, each as Sluice stores it.
      const byId = new Map(events.map((e) => [e.messageId, e]));
      const received = request.body as SegmentEvent[];
      expect(received.map((e) => e.messageId).sort()).toEqual([...byId.keys()].sort());
      for (const forwarded of received) expect(forwarded).toEqual(byId.get(forwarded.messageId));
      const alices = received.filter((e) => e.userId === ALICE.userId).map((e) => e.type);
      expect(alices).toEqual(['track', 'identify', 'page', 'group']);
    },
  },
  {
    type: 'amplitude',
    config: { apiKey: '3f1e9a7c2b5d4e8f9a0b1c2d3e4f5a6b', api: 'batch' },
    secrets: ['3f1e9a7c2b5d4e8f9a0b1c2d3e4f5a6b'],
    events: [ORDER, IDENTIFY, PAGE, GROUP, SCREEN],
    accept: accepted(200, { code: 200, events_ingested: 6, server_upload_time: Date.now() }),
    // A 400 about the request itself; one naming events is judged per event (see QUIRKS).
    rejection: json({ code: 400, error: 'Invalid API key' }),
    throttling: json({
      code: 429,
      error: 'Too many requests for some devices and users',
      eps_threshold: 30,
      throttled_users: { [ALICE.userId]: 31 },
    }),
    throttledError: /Amplitude throttled a user or device/,
    expectSuccess([request], [order, identify, page, group, screen]) {
      expect(request.method).toBe('POST');
      expect(String(request.url)).toBe('https://api2.amplitude.com/batch');
      expect(request.headers['content-type']).toBe('application/json');
      expect(request.body).toMatchObject({
        api_key: '3f1e9a7c2b5d4e8f9a0b1c2d3e4f5a6b',
        options: { min_id_length: 5 },
        events: [
          {
            event_type: 'Order Completed',
            user_id: ALICE.userId,
            device_id: ALICE.anonymousId,
            insert_id: order.messageId,
            time: TIMESTAMP_MS,
            revenue: 55.5,
            platform: 'Web',
            ip: '203.0.113.7',
          },
          {
            event_type: '$identify',
            insert_id: identify.messageId,
            user_properties: { $set: { email: 'alice@acme.example' } },
          },
          { event_type: 'Viewed Pricing Page', insert_id: page.messageId },
          { event_type: '$identify', user_properties: { $set: { company: 'acme-inc' } } },
          {
            event_type: '$groupidentify',
            insert_id: `${group.messageId}-group`,
            group_properties: { $set: { name: 'Acme Inc' } },
          },
          {
            event_type: 'Viewed Checkout Screen',
            user_id: BOB.userId,
            insert_id: screen.messageId,
            platform: 'iOS',
            idfa: MOBILE_CONTEXT.device.advertisingId,
          },
        ],
      });
    },
  },
  {
    type: 'mixpanel',
    config: {
      projectToken: '9c4f1e2d7a3b5c6d8e9f0a1b2c3d4e5f',
      region: 'eu',
      serviceAccount: {
        username: 'sluice.8d2f1a.mp-service-account',
        secret: 'Zq8vX2mN7bL4kP9wR3tY6uE1sD5fG0hJ',
        projectId: '3141592',
      },
      groupKey: 'company_id',
    },
    secrets: ['9c4f1e2d7a3b5c6d8e9f0a1b2c3d4e5f', 'Zq8vX2mN7bL4kP9wR3tY6uE1sD5fG0hJ'],
    events: [ORDER, IDENTIFY, PAGE, GROUP, SIGNED_UP],
    accept: (request) =>
      request.path.startsWith('/import')
        ? accepted(200, { code: 200, num_records_imported: 3, status: 'OK' })()
        : accepted(200, { error: null, status: 1 })(),
    rejection: json({ code: 400, error: 'unable to parse request body', status: 'Bad Request' }),
    expectSuccess(requests, [order, , page, , signedUp]) {
      // Alice's events go in her order: each /import or /engage step waits for the one before.
      const host = 'https://api-eu.mixpanel.com';
      expect(requests.map((r) => `${r.method} ${String(r.url)}`)).toEqual([
        `POST ${host}/import?strict=1&project_id=3141592`,
        `POST ${host}/engage?verbose=1&ip=0`,
        `POST ${host}/import?strict=1&project_id=3141592`,
        `POST ${host}/engage?verbose=1&ip=0`,
        `POST ${host}/groups?verbose=1`,
      ]);
      const [orderAndSignUp, identified, pageView, joined, group] = requests;
      const account = basic('sluice.8d2f1a.mp-service-account', 'Zq8vX2mN7bL4kP9wR3tY6uE1sD5fG0hJ');
      expect(orderAndSignUp.headers.authorization).toBe(account);
      expect(identified.headers.authorization).toBeUndefined();
      const required = (e: SegmentEvent) =>
        expect.objectContaining({ $insert_id: e.messageId, time: TIMESTAMP_MS });
      expect(orderAndSignUp.body).toEqual([
        { event: 'Order Completed', properties: required(order) },
        { event: 'Signed Up', properties: required(signedUp) },
      ]);
      expect(orderAndSignUp.body).toMatchObject([
        {
          properties: {
            distinct_id: ALICE.userId,
            $user_id: ALICE.userId,
            $device_id: ALICE.anonymousId,
            ip: '203.0.113.7',
          },
        },
        { properties: { distinct_id: BOB.userId, plan: 'pro', $os: 'iOS' } },
      ]);
      expect(pageView.body).toEqual([{ event: 'Viewed Pricing Page', properties: required(page) }]);
      const token = '9c4f1e2d7a3b5c6d8e9f0a1b2c3d4e5f';
      expect(identified.body).toEqual([
        {
          $token: token,
          $distinct_id: ALICE.userId,
          $ip: '203.0.113.7',
          $set: expect.objectContaining({ $email: 'alice@acme.example', $first_name: 'Alice' }),
        },
      ]);
      expect(joined.body).toMatchObject([{ $union: { company_id: ['acme-inc'] } }]);
      expect(group.body).toEqual([
        {
          $token: token,
          $group_key: 'company_id',
          $group_id: 'acme-inc',
          $set: expect.objectContaining({ $name: 'Acme Inc', employees: 120 }),
        },
      ]);
    },
  },
  {
    type: 'ga4',
    config: {
      measurementId: 'G-7Q2RW1P9ZK',
      apiSecret: 'xK4rT9_mPq2LwZ8vN3bYcA',
      identifyEventName: 'sign_in_identified',
    },
    secrets: ['xK4rT9_mPq2LwZ8vN3bYcA'],
    events: [ORDER, IDENTIFY, PAGE, GROUP, SIGNED_UP],
    // GA4 answers 204 to anything well-formed.
    accept: accepted(204, ''),
    rejection: json({
      error: { code: 400, message: 'Invalid JSON payload received.', status: 'INVALID_ARGUMENT' },
    }),
    expectSuccess(requests) {
      const url =
        'https://www.google-analytics.com/mp/collect?measurement_id=G-7Q2RW1P9ZK&api_secret=xK4rT9_mPq2LwZ8vN3bYcA';
      expect(requests.map((r) => `${r.method} ${String(r.url)}`)).toEqual([
        `POST ${url}`,
        `POST ${url}`,
      ]);
      const alice = requests.find((r) => (r.body as { user_id: string }).user_id === ALICE.userId);
      expect(alice?.body).toMatchObject({
        client_id: ALICE.anonymousId,
        user_properties: { plan: { value: 'pro' } },
        events: [
          {
            name: 'purchase',
            timestamp_micros: TIMESTAMP_MS * 1000,
            params: {
              transaction_id: 'o-1001',
              value: 55.5,
              currency: 'EUR',
              items: [
                { item_id: 'sku-1', item_name: 'Salt & Pepper Mill', price: 27.75, quantity: 2 },
              ],
            },
          },
          { name: 'sign_in_identified' },
          { name: 'page_view', params: { page_location: 'https://acme.example/pricing?plan=pro' } },
          { name: 'join_group', params: { group_id: 'acme-inc' } },
        ],
      });
      const bob = requests.find((r) => r !== alice);
      expect(bob?.body).toMatchObject({
        client_id: BOB.anonymousId,
        user_id: BOB.userId,
        events: [{ name: 'sign_up', params: { plan: 'pro' } }],
      });
    },
  },
  {
    type: 'segment',
    config: { writeKey: 'wK9dQ2mX7pL4vB8nR3tY6uE1' },
    secrets: ['wK9dQ2mX7pL4vB8nR3tY6uE1'],
    events: [ORDER, IDENTIFY, PAGE, GROUP, SIGNED_UP, SCREEN, ALIAS],
    accept: accepted(200, { success: true }),
    rejection: json({ code: 'invalid_request', message: 'batch: invalid JSON' }),
    expectSuccess([request], events) {
      expect(request.method).toBe('POST');
      expect(String(request.url)).toBe('https://api.segment.io/v1/batch');
      expect(request.headers.authorization).toBe(basic('wK9dQ2mX7pL4vB8nR3tY6uE1', ''));
      const { batch } = request.body as { batch: SegmentEvent[]; sentAt?: string };
      expect(request.body).not.toHaveProperty('sentAt');
      expect(batch.map((e) => e.messageId).sort()).toEqual(events.map((e) => e.messageId).sort());
      for (const forwarded of batch) {
        const original = events.find((e) => e.messageId === forwarded.messageId)!;
        const { receivedAt: _r, sentAt: _s, originalTimestamp: _o, ...rest } = original;
        expect(forwarded).toEqual(rest);
      }
    },
  },
  {
    type: 'slack',
    config: {
      webhookUrl: 'https://hooks.slack.com/services/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',
      templates: {
        'Order Completed':
          '{{userId}} ordered at {{properties.affiliation}} for {{properties.revenue}} {{properties.currency}}',
      },
      username: 'Sluice',
      iconEmoji: ':ocean:',
    },
    secrets: ['T024BE7LD/B08ABCDE12F/4wZqX8rT2mN6vB1cY9kL3pHd'],
    events: [ORDER, SIGNED_UP],
    accept: accepted(200, 'ok'),
    rejection: 'invalid_blocks',
    expectSuccess(requests) {
      for (const request of requests) {
        expect(request.method).toBe('POST');
        expect(String(request.url)).toBe(
          'https://hooks.slack.com/services/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',
        );
        expect(request.headers['content-type']).toBe('application/json');
      }
      expect(requests.map((r) => r.body)).toEqual([
        {
          text: 'user-4711 ordered at Salt &amp; Pepper Store for 55.5 eur',
          username: 'Sluice',
          icon_emoji: ':ocean:',
        },
        { text: 'bob@acme.example did Signed Up', username: 'Sluice', icon_emoji: ':ocean:' },
      ]);
    },
  },
  {
    type: 'posthog',
    config: { apiKey: 'phc_Vq3xK9mT2bL8nR4wY7zE1uA6sD5fG0hJ', host: 'https://eu.i.posthog.com' },
    secrets: ['phc_Vq3xK9mT2bL8nR4wY7zE1uA6sD5fG0hJ'],
    events: [ORDER, IDENTIFY, PAGE, GROUP, SCREEN, ALIAS],
    accept: accepted(200, { status: 'Ok' }),
    rejection: json({
      type: 'validation_error',
      code: 'invalid_payload',
      detail: 'Malformed request data',
    }),
    expectSuccess([request], [order, identify, page, group, screen, alias]) {
      expect(request.method).toBe('POST');
      expect(String(request.url)).toBe('https://eu.i.posthog.com/batch/');
      expect(request.body).toMatchObject({
        api_key: 'phc_Vq3xK9mT2bL8nR4wY7zE1uA6sD5fG0hJ',
        batch: [
          {
            event: 'Order Completed',
            distinct_id: ALICE.userId,
            uuid: order.messageId,
            timestamp: TIMESTAMP,
            properties: {
              revenue: 55.5,
              $ip: '203.0.113.7',
              $current_url: 'https://acme.example/pricing?plan=pro',
            },
          },
          {
            event: '$identify',
            uuid: identify.messageId,
            properties: {
              $set: { email: 'alice@acme.example' },
              $anon_distinct_id: ALICE.anonymousId,
            },
          },
          { event: '$pageview', uuid: page.messageId },
          {
            event: '$groupidentify',
            distinct_id: '$company_acme-inc',
            uuid: group.messageId,
            properties: { $group_type: 'company', $group_key: 'acme-inc' },
          },
          { event: '$screen', distinct_id: BOB.userId, uuid: screen.messageId },
          {
            event: '$create_alias',
            distinct_id: BOB.userId,
            uuid: alias.messageId,
            properties: { alias: BOB.anonymousId },
          },
        ],
      });
    },
  },
  {
    type: 'customerio',
    config: { siteId: 'a1b2c3d4e5f6a7b8c9d0', apiKey: 'f0e9d8c7b6a5f4e3d2c1' },
    secrets: ['f0e9d8c7b6a5f4e3d2c1'],
    events: [ORDER, IDENTIFY, PAGE, SCREEN, ALIAS, CAMPAIGN_PAGE, APP_OPENED],
    // Customer.io's documented rule ("Invalid API Requests"): names over 100 bytes are refused.
    accept(request) {
      const { name } = JSON.parse(request.body || '{}') as { name?: string };
      return name !== undefined && Buffer.byteLength(name) > 100
        ? {
            status: 400,
            body: json({ meta: { error: 'event name cannot be longer than 100 bytes' } }),
          }
        : { status: 200, body: '{}' };
    },
    rejection: json({ meta: { error: 'attribute "created_at" must be a number' } }),
    expectSuccess(requests) {
      const auth = basic('a1b2c3d4e5f6a7b8c9d0', 'f0e9d8c7b6a5f4e3d2c1');
      expect(requests.every((r) => r.headers.authorization === auth)).toBe(true);
      const track = 'https://track.customer.io/api/v1';
      // Each user's events in order; Bob's device is registered before his app-open event.
      expect(requests.map((r) => `${r.method} ${String(r.url)}`)).toEqual([
        `POST ${track}/customers/user-4711/events`,
        `POST ${track}/customers/bob%40acme.example/events`,
        `PUT ${track}/customers/user-4711`,
        `POST ${track}/merge_customers`,
        `POST ${track}/customers/user-4711/events`,
        `PUT ${track}/customers/bob%40acme.example/devices`,
        `POST ${track}/customers/bob%40acme.example/events`,
        `POST ${track}/customers/user-4711/events`,
      ]);
      const seconds = TIMESTAMP_MS / 1000;
      expect(requests.map((r) => r.body)).toMatchObject([
        { name: 'Order Completed', data: { order_id: 'o-1001' }, timestamp: seconds },
        { name: 'Checkout', type: 'screen', data: { step: 2 } },
        {
          email: 'alice@acme.example',
          created_at: Date.parse('2024-04-30T09:00:00.000Z') / 1000,
          anonymous_id: ALICE.anonymousId,
        },
        { primary: { id: BOB.userId }, secondary: { id: BOB.anonymousId } },
        { name: 'https://acme.example/pricing?plan=pro', type: 'page' },
        { device: { id: DEVICE_TOKEN, platform: 'ios', last_used: seconds } },
        { name: 'Application Opened', data: { from_background: false } },
        { name: 'https://acme.example/pricing', type: 'page' },
      ]);
    },
  },
  {
    type: 'braze',
    config: {
      restEndpoint: 'https://rest.iad-01.braze.com',
      apiKey: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
      appId: 'b1c2d3e4-5f60-4a7b-8c9d-0e1f2a3b4c5d',
      subscriptionGroups: { 'acme-inc': BRAZE_SUBSCRIPTION_GROUP },
    },
    secrets: ['7c9e6679-7425-40de-944b-e07fc1f90ae7'],
    events: [ORDER, IDENTIFY, SIGNED_UP, PAGE, GROUP, SCREEN, ALIAS, MERGE_ACCOUNTS],
    // /users/merge answers 202 (it is asynchronous); /users/track and /users/identify 201.
    accept: (request) =>
      request.path === '/users/merge'
        ? accepted(202, { message: 'success' })()
        : accepted(201, { message: 'success', attributes_processed: 1, events_processed: 1 })(),
    rejection: json({ message: "Invalid 'Authorization' header or missing 'app_id'" }),
    expectSuccess(requests) {
      expect(
        requests.every(
          (r) => r.headers.authorization === 'Bearer 7c9e6679-7425-40de-944b-e07fc1f90ae7',
        ),
      ).toBe(true);
      const rest = 'https://rest.iad-01.braze.com';
      // Each user's events in order: batchable ones of both users share a /users/track request.
      expect(requests.map((r) => `${r.method} ${String(r.url)}`)).toEqual([
        `POST ${rest}/users/track`,
        `POST ${rest}/users/identify`,
        `POST ${rest}/users/track`,
        `POST ${rest}/users/identify`,
        `POST ${rest}/users/merge`,
        `POST ${rest}/users/track`,
      ]);
      const [first, merge, attributes, alias, merged, last] = requests.map((r) => r.body);
      // Alice's order, Bob's sign-up and his screen view.
      expect(first).toMatchObject({
        events: [
          { external_id: BOB.userId, name: 'Signed Up', properties: { plan: 'pro' } },
          { external_id: BOB.userId, name: 'Viewed Checkout Screen', properties: { step: 2 } },
        ],
        purchases: [
          {
            external_id: ALICE.userId,
            product_id: 'Salt & Pepper Mill',
            price: 27.75,
            quantity: 2,
            currency: 'EUR',
            properties: { product_id: 'sku-1', name: 'Salt & Pepper Mill', order_id: 'o-1001' },
          },
        ],
      });
      expect(merge).toEqual({
        aliases_to_identify: [
          {
            external_id: ALICE.userId,
            user_alias: { alias_name: ALICE.anonymousId, alias_label: 'anonymous_id' },
          },
        ],
        merge_behavior: 'merge',
      });
      expect(attributes).toMatchObject({
        attributes: [
          { external_id: ALICE.userId, email: 'alice@acme.example', first_name: 'Alice' },
        ],
      });
      // Bob's alias of his anonymousId, then of his old account.
      expect(alias).toMatchObject({
        aliases_to_identify: [
          { external_id: BOB.userId, user_alias: { alias_name: BOB.anonymousId } },
        ],
      });
      expect(merged).toEqual({
        merge_updates: [
          {
            identifier_to_merge: { external_id: 'bob-2019@acme.example' },
            identifier_to_keep: { external_id: BOB.userId },
          },
        ],
      });
      // Alice's page view and her subscription through the group.
      expect(last).toMatchObject({
        attributes: [
          {
            external_id: ALICE.userId,
            subscription_groups: [
              { subscription_group_id: BRAZE_SUBSCRIPTION_GROUP, subscription_state: 'subscribed' },
            ],
          },
        ],
        events: [{ external_id: ALICE.userId, name: 'Viewed Pricing Page' }],
      });
    },
  },
  {
    type: 'klaviyo',
    config: { privateApiKey: 'pk_5f2c9a7e1b3d4f6a8c0e2b4d6f8a1c3e5b', profileImport: 'bulk' },
    secrets: ['pk_5f2c9a7e1b3d4f6a8c0e2b4d6f8a1c3e5b'],
    events: [SIGNED_UP, ORDER, IDENTIFY],
    accept: (request) =>
      request.path === '/api/profile-bulk-import-jobs'
        ? accepted(202, {
            data: {
              type: 'profile-bulk-import-job',
              id: 'ZXhhbXBsZS1qb2ItaWQ',
              attributes: { status: 'queued', created_at: TIMESTAMP, total_count: 1 },
              links: {
                self: 'https://a.klaviyo.com/api/profile-bulk-import-jobs/ZXhhbXBsZS1qb2ItaWQ',
              },
            },
          })()
        : accepted(202, '')(),
    // Klaviyo's JSON:API error shape (ClientError in its API reference).
    rejection: json({
      errors: [
        {
          id: '7c1a6e0f-3d2b-4c5a-8e9f-0a1b2c3d4e5f',
          status: 400,
          code: 'invalid',
          title: 'Invalid input.',
          detail: "'time' must be after the year 2000",
          source: { pointer: '/data/attributes/time' },
        },
      ],
    }),
    throttling: json({
      errors: [
        {
          id: '1f2e3d4c-5b6a-4798-8a9b-0c1d2e3f4a5b',
          status: 429,
          code: 'throttled',
          title: 'Request was throttled.',
          detail: 'Request was throttled. Expected available in 7 seconds.',
        },
      ],
    }),
    expectSuccess(requests, [signedUp, order]) {
      for (const request of requests) {
        expect(request.headers).toMatchObject({
          authorization: 'Klaviyo-API-Key pk_5f2c9a7e1b3d4f6a8c0e2b4d6f8a1c3e5b',
          revision: '2026-10-15',
          'content-type': 'application/vnd.api+json',
        });
      }
      const events = 'POST https://a.klaviyo.com/api/events';
      const job = 'POST https://a.klaviyo.com/api/profile-bulk-import-jobs';
      const addressed = requests.map((r) => `${r.method} ${String(r.url)}`);
      expect([...addressed].sort()).toEqual([events, events, events, job]);
      // Alice's order (Placed Order, Ordered Product) goes before her profile.
      expect(addressed.lastIndexOf(events)).toBeLessThan(addressed.indexOf(job));
      type Created = { data: { attributes: Record<string, unknown> } };
      const created = requests
        .filter((r) => String(r.url).endsWith('/api/events'))
        .map((r) => (r.body as Created).data.attributes);
      expect(created).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            unique_id: signedUp.messageId,
            properties: { plan: 'pro' },
            metric: { data: { type: 'metric', attributes: { name: 'Signed Up' } } },
            profile: {
              data: {
                type: 'profile',
                attributes: expect.objectContaining({
                  external_id: BOB.userId,
                  anonymous_id: BOB.anonymousId,
                }),
              },
            },
          }),
          expect.objectContaining({
            unique_id: order.messageId,
            value: 64.9,
            value_currency: 'EUR',
            metric: { data: { type: 'metric', attributes: { name: 'Placed Order' } } },
            properties: expect.objectContaining({
              OrderId: 'o-1001',
              ItemNames: ['Salt & Pepper Mill'],
            }),
          }),
          expect.objectContaining({
            unique_id: `${order.messageId}:0`,
            value: 55.5,
            metric: { data: { type: 'metric', attributes: { name: 'Ordered Product' } } },
          }),
        ]),
      );
      const profiles = requests.find((r) => r.url.pathname === '/api/profile-bulk-import-jobs');
      expect(profiles?.body).toEqual({
        data: {
          type: 'profile-bulk-import-job',
          attributes: {
            profiles: {
              data: [
                {
                  type: 'profile',
                  attributes: expect.objectContaining({
                    external_id: ALICE.userId,
                    email: 'alice@acme.example',
                    first_name: 'Alice',
                    last_name: 'Liddell',
                    properties: { plan: 'pro', createdAt: '2024-04-30T09:00:00.000Z' },
                  }),
                },
              ],
            },
          },
        },
      });
    },
  },
  {
    type: 'iterable',
    config: { apiKey: '4c8e2a9f6b1d3e5a7c9b0d2f4e6a8c1b', dataCenter: 'eu' },
    secrets: ['4c8e2a9f6b1d3e5a7c9b0d2f4e6a8c1b'],
    events: [SIGNED_UP, ORDER, IDENTIFY],
    accept: (request) =>
      /\/(trackBulk|bulkUpdate)$/.test(request.path)
        ? accepted(200, { successCount: 1, failCount: 0, failedUpdates: {} })()
        : accepted(200, { msg: '', code: 'Success', params: null })(),
    // Iterable's IterableApiResponse error shape.
    rejection: json({ msg: 'Invalid parameters: eventName', code: 'BadParams', params: null }),
    throttling: json({ msg: 'Rate limit exceeded', code: 'RateLimitExceeded', params: null }),
    expectSuccess(requests, [signedUp]) {
      const host = 'https://api.eu.iterable.com';
      expect(
        requests.every((r) => r.headers['api-key'] === '4c8e2a9f6b1d3e5a7c9b0d2f4e6a8c1b'),
      ).toBe(true);
      expect(requests.map((r) => `${r.method} ${String(r.url)}`).sort()).toEqual([
        `POST ${host}/api/commerce/trackPurchase`,
        `POST ${host}/api/events/trackBulk`,
        `POST ${host}/api/users/bulkUpdate`,
      ]);
      const bodyAt = (path: string) => requests.find((r) => r.url.pathname === path)?.body;
      expect(bodyAt('/api/events/trackBulk')).toEqual({
        events: [
          {
            userId: BOB.userId,
            eventName: 'Signed Up',
            id: signedUp.messageId,
            createdAt: TIMESTAMP_MS / 1000,
            dataFields: { plan: 'pro' },
          },
        ],
      });
      expect(bodyAt('/api/commerce/trackPurchase')).toEqual({
        id: 'o-1001',
        user: { userId: ALICE.userId },
        items: [{ id: 'sku-1', name: 'Salt & Pepper Mill', price: 27.75, quantity: 2 }],
        total: 64.9,
        createdAt: TIMESTAMP_MS / 1000,
        dataFields: { revenue: 55.5, currency: 'eur', affiliation: 'Salt & Pepper Store' },
      });
      expect(bodyAt('/api/users/bulkUpdate')).toEqual({
        users: [
          {
            userId: ALICE.userId,
            dataFields: {
              email: 'alice@acme.example',
              firstName: 'Alice',
              lastName: 'Liddell',
              plan: 'pro',
              createdAt: '2024-04-30T09:00:00.000Z',
            },
          },
        ],
      });
    },
  },
  {
    type: 'hubspot',
    config: {
      accessToken: 'pat-eu1-7e3c9a41-52b8-4d0f-9c6e-1f2a3b4c5d6e',
      hubId: '62515',
      events: { 'Order Completed': 'order_completed', 'Signed Up': 'signed_up' },
      contactProperties: { plan: 'plan' },
    },
    secrets: ['pat-eu1-7e3c9a41-52b8-4d0f-9c6e-1f2a3b4c5d6e'],
    events: [ORDER_KNOWN, IDENTIFY, SIGNED_UP_KNOWN],
    accept: (request) =>
      request.path.startsWith('/events/')
        ? accepted(204, '')()
        : accepted(200, { status: 'COMPLETE', results: [{ id: '512', new: false }] })(),
    // HubSpot's documented error shape (Error handling).
    rejection: json({
      status: 'error',
      message: 'Invalid input JSON on line 1, column 2',
      correlationId: 'a43683b0-5717-4ceb-80b4-104d02915d8c',
      category: 'VALIDATION_ERROR',
    }),
    // HubSpot's documented 429 (API usage guidelines), for the burst limit.
    throttling: json({
      status: 'error',
      message: 'You have reached your ten_secondly_rolling limit.',
      errorType: 'RATE_LIMIT',
      correlationId: 'c033cdaa-2c40-4a64-ae48-b4cec88dad24',
      policyName: 'TEN_SECONDLY_ROLLING',
    }),
    throttledError: /^HubSpot rate limit \(TEN_SECONDLY_ROLLING\)/,
    expectSuccess(requests, [order, , signedUp]) {
      const auth = 'Bearer pat-eu1-7e3c9a41-52b8-4d0f-9c6e-1f2a3b4c5d6e';
      expect(requests.every((r) => r.headers.authorization === auth)).toBe(true);
      expect(requests.map((r) => `${r.method} ${String(r.url)}`)).toEqual([
        'POST https://api.hubapi.com/events/v3/send/batch',
        'POST https://api.hubapi.com/crm/v3/objects/contacts/batch/upsert',
      ]);
      const [occurrences, contacts] = requests.map((r) => r.body);
      // Alice's order and Bob's sign-up share one batch.
      expect(occurrences).toEqual({
        inputs: [
          {
            eventName: 'pe62515_order_completed',
            email: 'alice@acme.example',
            occurredAt: order.timestamp,
            uuid: order.messageId,
            properties: expect.objectContaining({ order_id: 'o-1001', revenue: '55.5' }),
          },
          {
            eventName: 'pe62515_signed_up',
            email: 'bob@acme.example',
            occurredAt: signedUp.timestamp,
            uuid: signedUp.messageId,
            properties: { plan: 'pro' },
          },
        ],
      });
      expect(contacts).toEqual({
        inputs: [
          {
            idProperty: 'email',
            id: 'alice@acme.example',
            objectWriteTraceId: 'alice@acme.example',
            properties: {
              email: 'alice@acme.example',
              firstname: 'Alice',
              lastname: 'Liddell',
              plan: 'pro',
            },
          },
        ],
      });
    },
  },
  {
    type: 'intercom',
    config: { accessToken: 'dG9rOjY1YzFhZGVlXzk0NGFfNGQ5Nl84ZjNkOjE6MA==', region: 'eu' },
    secrets: ['dG9rOjY1YzFhZGVlXzk0NGFfNGQ5Nl84ZjNkOjE6MA=='],
    events: [SIGNED_UP, IDENTIFY, GROUP],
    accept(request) {
      if (request.path === '/events') return accepted(202, '')();
      if (request.path === '/companies') {
        return accepted(200, { type: 'company', id: '531ee472cce572a6ec000006' })();
      }
      if (request.path === '/contacts') {
        return accepted(200, { type: 'contact', id: '6657a1b2c3d4e5f601234567', role: 'user' })();
      }
      return accepted(200, { type: 'company', id: '531ee472cce572a6ec000006' })();
    },
    // Intercom's documented error.list (Create a contact, 400).
    rejection: json({
      type: 'error.list',
      request_id: '00043csj9iva7pl9mmmg',
      errors: [{ code: 'parameter_invalid', message: 'The owner specified is not a member' }],
    }),
    throttling: json({
      type: 'error.list',
      errors: [
        { code: 'rate_limit_exceeded', message: 'Exceeded rate limit of 1000 in 10_seconds' },
      ],
    }),
    throttledError: /^Intercom rate limit \(HTTP 429\)/,
    expectSuccess(requests, [signedUp, identify]) {
      const auth = 'Bearer dG9rOjY1YzFhZGVlXzk0NGFfNGQ5Nl84ZjNkOjE6MA==';
      for (const request of requests) {
        expect(request.headers).toMatchObject({ authorization: auth, 'intercom-version': '2.14' });
      }
      const host = 'https://api.eu.intercom.io';
      const alices = requests.filter((r) => !r.url.pathname.startsWith('/events'));
      expect(alices.map((r) => `${r.method} ${String(r.url)}`)).toEqual([
        `POST ${host}/contacts`,
        `POST ${host}/companies`,
        `POST ${host}/contacts`,
        `POST ${host}/contacts/6657a1b2c3d4e5f601234567/companies`,
      ]);
      const [contact, company, member, attach] = alices.map((r) => r.body);
      expect(contact).toEqual({
        role: 'user',
        external_id: ALICE.userId,
        email: 'alice@acme.example',
        name: 'Alice Liddell',
        signed_up_at: Date.parse('2024-04-30T09:00:00.000Z') / 1000,
        last_seen_at: Date.parse(identify.timestamp) / 1000,
        custom_attributes: { plan: 'pro' },
      });
      expect(company).toEqual({
        company_id: 'acme-inc',
        name: 'Acme Inc',
        plan: 'enterprise',
        size: 120,
      });
      expect(member).toEqual({ role: 'user', external_id: ALICE.userId });
      expect(attach).toEqual({ id: '531ee472cce572a6ec000006' });
      const [tracked] = requests.filter((r) => r.url.pathname === '/events');
      expect(tracked.body).toEqual({
        event_name: 'Signed Up',
        created_at: Date.parse(signedUp.timestamp) / 1000,
        user_id: BOB.userId,
        metadata: { plan: 'pro' },
      });
    },
  },
];

function caseOf(type: string): DeliveryCase {
  const found = CASES.find((c) => c.type === type);
  if (!found) throw new Error(`no delivery case for ${type}`);
  return found;
}

/** A worker for the case's destination (its id is the type), sending to the local vendor. */
function workerFor(deliveryCase: DeliveryCase, options: Partial<WorkerOptions> = {}) {
  const { type, config } = deliveryCase;
  return new DestinationWorker(
    {
      pool: database.pool,
      locks,
      logger: createLogger('silent'),
      metrics: createMetrics(),
      fetch: toLocalVendor,
    },
    type,
    toolDestinationOf(type)!,
    { config: validateDestinationConfig({ type, config }), destination: { id: type, name: type } },
    POLICY,
    { ...FAST, ...options },
  );
}

/** Queues events as the processor does; every event here has a userId, its user key. */
function enqueue(type: string, events: SegmentEvent[]): Promise<void> {
  return enqueueDeliveries(
    database.pool,
    type,
    events as Array<SegmentEvent & { userId: string; event: string }>,
  );
}

/** What the vendor received, paired with the URLs the destination addressed. */
function sent(): SentRequest[] {
  expect(addressed).toHaveLength(vendor.requests.length);
  return vendor.requests.map((request, index) => {
    const url = addressed[index];
    expect(`${url.pathname}${url.search}`).toBe(request.path);
    let body: unknown = request.body;
    try {
      body = JSON.parse(request.body);
    } catch {
      // not JSON: the text itself
    }
    return { method: request.method, url, headers: request.headers, text: request.body, body };
  });
}

/** The same event, later and under another name: the user's next event. */
function laterOf(event: SegmentEvent): SegmentEvent {
  return { ...event, messageId: randomUUID(), event: 'Checkout Started' };
}

/**
 * `next_attempt_at` is `delayMs` after the answer, which came between `before` and `after` (the
 * attempt's bounds, however long it took on this machine).
 */
function expectRetryAfter(nextAttemptAt: Date, before: number, after: number, delayMs: number) {
  expect(nextAttemptAt.getTime() - before).toBeGreaterThanOrEqual(delayMs - 100);
  expect(nextAttemptAt.getTime() - after).toBeLessThanOrEqual(delayMs);
}

/** Everything a request carries, Basic credentials decoded, to look for a secret in. */
function carried(request: SentRequest): string {
  const decoded = Object.values(request.headers).map((value) =>
    /^Basic /.test(String(value))
      ? Buffer.from(String(value).slice(6), 'base64').toString()
      : String(value),
  );
  return [String(request.url), ...decoded, request.text].join('\n');
}

/** A dead letter keeps the request without the credentials it carried (at least one). */
function expectCredentialsMasked(deliveryCase: DeliveryCase, lastRequest: string): void {
  const [request] = sent();
  const secrets = deliveryCase.secrets.filter((secret) => carried(request).includes(secret));
  expect(secrets).not.toEqual([]);
  for (const secret of secrets) expect(lastRequest).not.toContain(secret);
  if (request.headers.authorization) {
    expect(lastRequest).not.toContain(request.headers.authorization);
  }
}

describe.each(CASES)('$type delivery', (deliveryCase) => {
  const { type, events } = deliveryCase;
  const [first] = events;

  beforeEach(() => {
    vendor.script = deliveryCase.accept;
  });

  test('delivers every event type to the vendor’s endpoint and removes the rows', async () => {
    await enqueue(type, events);
    expect(await workerFor(deliveryCase).runOnce()).toBe(events.length);
    expect(await queuedJobs(database.pool, type)).toEqual([]);
    expect(await deadLetterRows(database.pool, type)).toEqual([]);
    deliveryCase.expectSuccess(sent(), events);
  });

  test('429 with Retry-After: the row waits that long, and so does the user’s next event', async () => {
    vendor.script = () => ({
      status: 429,
      headers: { 'retry-after': '7' },
      body: deliveryCase.throttling ?? '',
    });
    await enqueue(type, [first]);
    const worker = workerFor(deliveryCase);
    const before = Date.now();
    await worker.runOnce();
    const after = Date.now();
    const [row] = await queuedJobs(database.pool, type);
    expect(row.attempts).toBe(1);
    expect(row.last_error).toMatch(deliveryCase.throttledError ?? /^HTTP 429/);
    expectRetryAfter(row.next_attempt_at, before, after, 7000);

    // The user's next event arrives meanwhile: it is not sent, and waits for the same time.
    await enqueue(type, [laterOf(first)]);
    expect(await worker.runOnce()).toBe(0);
    expect(vendor.requests).toHaveLength(1);
    const [head, next] = await queuedJobs(database.pool, type);
    expect(next.attempts).toBe(0);
    expect(next.next_attempt_at).toEqual(head.next_attempt_at);
  });

  test('500, then success: delivered by the retry from the queue (quickRetries 0), unchanged', async () => {
    vendor.script = (request, index) =>
      index === 0 ? { status: 500, body: 'upstream connect error' } : deliveryCase.accept(request);
    await enqueue(type, [first]);
    const worker = workerFor(deliveryCase, { quickRetries: 0 });
    await worker.runOnce();
    const [row] = await queuedJobs(database.pool, type);
    expect(row.attempts).toBe(1);
    expect(row.last_error).toBe('HTTP 500: upstream connect error');

    await eventually(async () => {
      await worker.runOnce();
      expect(await queuedJobs(database.pool, type)).toEqual([]);
    });
    // The failed attempt and exactly one successful one, carrying the same event.
    const [failed, delivered, ...more] = sent();
    expect(more).toEqual([]);
    expect(delivered.url).toEqual(failed.url);
    expect(delivered.headers.authorization).toBe(failed.headers.authorization);
    expect(delivered.text).toBe(failed.text);
    expect(await deadLetterRows(database.pool, type)).toEqual([]);
  });

  test('400: not retried, dead-lettered with the vendor’s answer and the request masked', async () => {
    vendor.script = () => ({ status: 400, body: deliveryCase.rejection });
    await enqueue(type, [first]);
    // In-process retries allowed: a 400 must not use them.
    await workerFor(deliveryCase, { quickRetries: 2 }).runOnce();
    expect(vendor.requests).toHaveLength(1);
    expect(await queuedJobs(database.pool, type)).toEqual([]);

    const [letter, ...more] = await deadLetterRows(database.pool, type);
    expect(more).toEqual([]);
    expect(letter.message_id).toBe(first.messageId);
    expect(letter.attempts).toBe(1);
    expect(letter.reason).toBe(`HTTP 400: ${deliveryCase.rejection}`);
    expect(JSON.parse(letter.last_response)).toMatchObject({
      status: 400,
      body: deliveryCase.rejection,
    });
    const stored = JSON.parse(letter.last_request) as { method: string; url: string };
    const [request] = sent();
    expect(stored.method).toBe(request.method);
    expect(new URL(stored.url).host).toBe(request.url.host);
    expectCredentialsMasked(deliveryCase, letter.last_request);
  });
});

/** What must become of one queued event. */
type Expected =
  | 'delivered'
  | { abort: RegExp }
  | { retry: RegExp; /** The pause asked for; unset: the router's backoff. */ afterMs?: number };

/**
 * A vendor answer a destination reads itself, and what must follow for each queued event. The
 * events of several users share one batch where the destination batches, so the per-item cases
 * show that a refused event fails alone and the others are done (or sent again).
 */
interface Quirk {
  type: string;
  title: string;
  events?: SegmentEvent[];
  answer: ScriptedResponse;
  /** Requests sent, with two in-process retries allowed (default 1: none used). */
  requests?: number;
  /** One per queued event, in order; a single one applies to every event. */
  expected: Expected[];
}

/** Amplitude's items: an event each, a group call two (`$identify`, `$groupidentify`). */
const AMPLITUDE_BATCH = [ORDER, GROUP, SCREEN];

const QUIRKS: Quirk[] = [
  {
    type: 'amplitude',
    title: '429 without Retry-After: the user pauses 30 s',
    answer: { status: 429, body: caseOf('amplitude').throttling },
    expected: [{ retry: /Amplitude throttled a user or device/, afterMs: 30_000 }],
  },
  {
    type: 'amplitude',
    title: '429 over the daily quota: the user pauses an hour',
    answer: {
      status: 429,
      body: json({
        code: 429,
        error: 'Too many requests for some devices and users',
        exceeded_daily_quota_users: { [ALICE.userId]: 500_001 },
      }),
    },
    expected: [{ retry: /exceeded its daily event quota/, afterMs: 3_600_000 }],
  },
  {
    type: 'amplitude',
    title: '429 naming throttled events: only their user pauses, the others are sent again',
    events: [ORDER, SCREEN],
    // The documented TooManyRequestsForDeviceError shape (HTTP V2 API, "429").
    answer: {
      status: 429,
      body: json({
        code: 429,
        error: 'Too many requests for some devices and users',
        eps_threshold: 30,
        throttled_devices: { [BOB.anonymousId]: 31 },
        throttled_users: { [BOB.userId]: 32 },
        throttled_events: [1],
      }),
    },
    expected: [
      { retry: /refused the request for other users’ events \(HTTP 429\)/ },
      { retry: /Amplitude throttled a user or device/, afterMs: 30_000 },
    ],
  },
  {
    type: 'amplitude',
    title: '400 naming invalid events: those are dead-lettered, the others sent again',
    events: AMPLITUDE_BATCH,
    // The documented InvalidRequestError shape: events 0 (order), 1-2 (group), 3 (screen).
    answer: {
      status: 400,
      body: json({
        code: 400,
        error: 'Invalid field values on some events',
        events_with_invalid_fields: { time: [3] },
      }),
    },
    expected: [
      { retry: /refused the request for other events in it \(HTTP 400\)/ },
      { retry: /refused the request for other events in it/ },
      { abort: /^Amplitude rejected the event: invalid time$/ },
    ],
  },
  {
    type: 'amplitude',
    title: '400 naming a silenced device: its events are dead-lettered, the others sent again',
    events: AMPLITUDE_BATCH,
    // The documented SilencedDeviceID shape; the group's $groupidentify (2) is throttled.
    answer: {
      status: 400,
      body: json({
        code: 400,
        eps_threshold: 100,
        error: 'Events silenced for device_id',
        exceeded_daily_quota_devices: {},
        silenced_devices: [BOB.anonymousId],
        silenced_events: [3],
        throttled_devices: { [ALICE.anonymousId]: 100 },
        throttled_events: [2],
      }),
    },
    expected: [
      { retry: /refused the request for other events in it/ },
      { retry: /Amplitude throttled a user or device/, afterMs: 30_000 },
      { abort: /^Amplitude rejected the event: its device is silenced$/ },
    ],
  },
  {
    type: 'mixpanel',
    title: '/import 400 naming failed records: those are dead-lettered, the others were imported',
    events: [ORDER, SIGNED_UP],
    // The documented strict-mode answer (Mixpanel's "400 Bad Request" page).
    answer: {
      status: 400,
      body: json({
        code: 400,
        error: 'some data points in the request failed validation',
        num_records_imported: 1,
        status: 'Bad Request',
        failed_records: [
          {
            index: 1,
            insert_id: SIGNED_UP.messageId,
            field: 'properties.time',
            message: "'properties.time' is invalid: must be specified as seconds since epoch",
          },
        ],
      }),
    },
    expected: [
      'delivered',
      {
        abort:
          /^Mixpanel rejected the event: properties\.time: 'properties\.time' is invalid: must be specified as seconds since epoch$/,
      },
    ],
  },
  {
    type: 'mixpanel',
    title: '/engage 200 with status 0: the update is dead-lettered',
    events: [IDENTIFY],
    answer: { status: 200, body: json({ error: '$distinct_id is required', status: 0 }) },
    expected: [{ abort: /^Mixpanel rejected the update: \$distinct_id is required$/ }],
  },
  {
    type: 'slack',
    title: '400 invalid_payload: dead-lettered',
    answer: { status: 400, body: 'invalid_payload' },
    expected: [{ abort: /^Slack refused the message: invalid_payload$/ }],
  },
  {
    type: 'slack',
    title: 'a legacy webhook’s 500 channel_not_found: dead-lettered, not retried',
    answer: { status: 500, body: 'channel_not_found' },
    expected: [{ abort: /^Slack refused the message: channel_not_found$/ }],
  },
  {
    type: 'slack',
    title: '500 rollup_error: retried',
    answer: { status: 500, body: 'rollup_error' },
    requests: 3,
    expected: [{ retry: /rollup_error/ }],
  },
  {
    type: 'braze',
    title: '201 with errors naming objects: those are dead-lettered, the others were processed',
    // Alice's order (a purchase) and Bob's sign-up (an event) share one /users/track request.
    events: [ORDER, SIGNED_UP],
    answer: {
      status: 201,
      body: json({
        message: 'success',
        purchases_processed: 1,
        errors: [
          {
            type: "'external_id' or 'braze_id' or 'user_alias' is required",
            input_array: 'events',
            index: 0,
          },
        ],
      }),
    },
    expected: [
      'delivered',
      { abort: /^Braze dropped the object: events 'external_id' or 'braze_id'/ },
    ],
  },
  {
    type: 'braze',
    title: '201 with an error naming a group’s subscription object: that group call alone fails',
    // Alice's page view (events[0]) and group call (attributes[0]) share one /users/track request;
    // the error's shape is /users/track's non-fatal one (its text is this test's).
    events: [PAGE, GROUP],
    answer: {
      status: 201,
      body: json({
        message: 'success',
        events_processed: 1,
        errors: [{ type: 'invalid subscription group', input_array: 'attributes', index: 0 }],
      }),
    },
    expected: [
      'delivered',
      { abort: /^Braze dropped the object: attributes invalid subscription group$/ },
    ],
  },
  {
    type: 'braze',
    title:
      '201 with errors naming no object: the request is dead-lettered (Braze processed the rest)',
    answer: { status: 201, body: json({ message: 'success', errors: ['minor error message'] }) },
    expected: [{ abort: /^Braze dropped 1 object\(s\) and processed the others / }],
  },
  {
    type: 'klaviyo',
    title: 'a bulk import job refused naming a profile: it is dead-lettered, the others sent again',
    // Alice's and Bob's profiles share one job; Klaviyo's JSON:API error points at Bob's.
    events: [IDENTIFY, KLAVIYO_BAD_PROFILE],
    answer: {
      status: 400,
      body: json({
        errors: [
          {
            id: '0b9e6f3a-5b1c-4d1e-9f0a-2c3d4e5f6a7b',
            status: 400,
            code: 'invalid',
            title: 'Invalid input.',
            detail: 'Invalid email address',
            source: { pointer: '/data/attributes/profiles/data/1/attributes/email' },
          },
        ],
      }),
    },
    expected: [
      {
        retry: /^Klaviyo refused the import job for other profiles in it; sent again without them$/,
      },
      { abort: /^Klaviyo refused the profile: Invalid input\.: Invalid email address$/ },
    ],
  },
  {
    type: 'iterable',
    title: 'trackBulk naming an invalid userId: that event is dead-lettered, the other was taken',
    events: [SIGNED_UP, ITERABLE_CHECKOUT],
    // The documented BulkTrackResponse (Iterable API reference, POST /api/events/trackBulk).
    answer: {
      status: 200,
      body: json({
        successCount: 1,
        failCount: 1,
        disallowedEventNames: [],
        filteredOutFields: [],
        createdFields: [],
        failedUpdates: { invalidUserIds: [BOB.userId], invalidEmails: [] },
      }),
    },
    expected: [
      { abort: /^Iterable refused the event: invalid userId "bob@acme\.example"/ },
      'delivered',
    ],
  },
  {
    type: 'iterable',
    title: 'trackBulk naming a user not found yet: that event is sent again, the other was taken',
    events: [SIGNED_UP, ITERABLE_CHECKOUT],
    answer: {
      status: 200,
      body: json({
        successCount: 1,
        failCount: 1,
        failedUpdates: { notFoundUserIds: [ALICE.userId] },
      }),
    },
    expected: ['delivered', { retry: /^Iterable refused the event: no user with this userId yet/ }],
  },
  {
    type: 'iterable',
    title: 'bulkUpdate naming a userId conflict: the update is dead-lettered',
    events: [IDENTIFY],
    answer: {
      status: 200,
      body: json({
        successCount: 0,
        failCount: 1,
        failedUpdates: { conflictUserIds: [ALICE.userId] },
      }),
    },
    expected: [{ abort: /^Iterable refused the user update: userId of another user/ }],
  },
  {
    type: 'iterable',
    title: 'trackPurchase 409 (a forgotten user): dead-lettered, not retried',
    events: [ORDER],
    answer: {
      status: 409,
      body: json({ msg: 'Contact is GDPR forgotten', code: 'ForgottenUserError', params: null }),
    },
    expected: [{ abort: /^HTTP 409: .*ForgottenUserError/ }],
  },
  {
    type: 'hubspot',
    title: '207 naming a contact: it is dead-lettered, the other was upserted',
    // Alice's and Bob's contacts share one batch upsert; the documented multi-status answer.
    events: [IDENTIFY, BOB_IDENTIFY],
    answer: {
      status: 207,
      body: json({
        status: 'COMPLETE',
        numErrors: 1,
        results: [{ id: '101', objectWriteTraceId: 'alice@acme.example', new: false }],
        errors: [
          {
            status: 'error',
            category: 'VALIDATION_ERROR',
            message: 'Property values were not valid',
            context: { objectWriteTraceId: ['bob@acme.example'] },
          },
        ],
      }),
    },
    expected: [
      'delivered',
      { abort: /^HubSpot refused the contact: VALIDATION_ERROR: Property values were not valid$/ },
    ],
  },
  {
    type: 'hubspot',
    title: '429 over the daily limit, without Retry-After: the user pauses an hour',
    answer: {
      status: 429,
      body: json({
        status: 'error',
        message: 'You have reached your daily limit.',
        errorType: 'RATE_LIMIT',
        correlationId: 'c033cdaa-2c40-4a64-ae48-b4cec88dad24',
        policyName: 'DAILY',
      }),
    },
    expected: [{ retry: /^HubSpot rate limit \(DAILY\)/, afterMs: 3_600_000 }],
  },
];

describe.each(QUIRKS)('$type: $title', ({ type, events, answer, requests = 1, expected }) => {
  const deliveryCase = caseOf(type);
  const queued = events ?? [deliveryCase.events[0]];

  test('end to end', async () => {
    vendor.script = () => answer;
    await enqueue(type, queued);
    const before = Date.now();
    await workerFor(deliveryCase, { quickRetries: 2 }).runOnce();
    const after = Date.now();
    expect(vendor.requests).toHaveLength(requests);
    const rows = await queuedJobs(database.pool, type);
    const letters = await deadLetterRows(database.pool, type);
    const messageIdOf = (payload: string) => (JSON.parse(payload) as SegmentEvent).messageId;
    queued.forEach((event, index) => {
      const wanted = expected[index] ?? expected[0];
      const row = rows.find((r) => messageIdOf(r.payload) === event.messageId);
      const letter = letters.find((l) => l.message_id === event.messageId);
      if (wanted === 'delivered') {
        expect([row, letter]).toEqual([undefined, undefined]);
      } else if ('abort' in wanted) {
        expect(row).toBeUndefined();
        expect(letter.reason).toMatch(wanted.abort);
        expect(JSON.parse(letter.last_response)).toMatchObject({ status: answer.status });
        expectCredentialsMasked(deliveryCase, letter.last_request);
      } else {
        expect(letter).toBeUndefined();
        expect(row.attempts).toBe(1);
        expect(row.last_error).toMatch(wanted.retry);
        if (wanted.afterMs !== undefined) {
          expectRetryAfter(row.next_attempt_at, before, after, wanted.afterMs);
        }
      }
    });
  });
});

/**
 * Intercom assigns the ids its updates need: a contact that exists is answered with 409 and its
 * id, and the worker sends the update the destination derives from that answer (followUp).
 */
describe('intercom: an existing contact is updated by the id Intercom names', () => {
  test('end to end: 409 to the create, then PUT /contacts/{id}', async () => {
    const deliveryCase = caseOf('intercom');
    vendor.script = (request) =>
      request.method === 'POST'
        ? { status: 409, body: json(INTERCOM_CONFLICT) }
        : { status: 200, body: json({ type: 'contact', id: '5da6f18e3d7cf967e4582d05' }) };
    await enqueue('intercom', [IDENTIFY]);
    await workerFor(deliveryCase).runOnce();
    expect(await queuedJobs(database.pool, 'intercom')).toEqual([]);
    expect(await deadLetterRows(database.pool, 'intercom')).toEqual([]);
    const [create, update, ...more] = sent();
    expect(more).toEqual([]);
    expect(`${create.method} ${create.url.pathname}`).toBe('POST /contacts');
    expect(`${update.method} ${update.url.pathname}`).toBe(
      'PUT /contacts/5da6f18e3d7cf967e4582d05',
    );
    expect(update.text).toBe(create.text);
  });

  test('a 409 to the update is dead-lettered with Intercom’s answer', async () => {
    vendor.script = () => ({ status: 409, body: json(INTERCOM_CONFLICT) });
    await enqueue('intercom', [IDENTIFY]);
    await workerFor(caseOf('intercom')).runOnce();
    const [letter] = await deadLetterRows(database.pool, 'intercom');
    expect(letter.reason).toMatch(/^HTTP 409: .*already exists with id=5da6f18e3d7cf967e4582d05/);
    expect(vendor.requests.map((r) => r.method)).toEqual(['POST', 'PUT']);
  });

  test('a group: company, contact and attach; a 404 to the attach is retried', async () => {
    vendor.script = (request) => {
      if (request.path === '/companies') return { status: 200, body: json({ id: 'c-531' }) };
      if (request.path === '/contacts') return { status: 200, body: json({ id: 'u-6657' }) };
      const missing = { type: 'error.list', errors: [{ code: 'not_found', message: 'Not Found' }] };
      return { status: 404, body: json(missing) };
    };
    await enqueue('intercom', [GROUP]);
    await workerFor(caseOf('intercom')).runOnce();
    expect(vendor.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /companies',
      'POST /contacts',
      'POST /contacts/u-6657/companies',
    ]);
    const [row] = await queuedJobs(database.pool, 'intercom');
    expect(row.attempts).toBe(1);
    expect(row.last_error).toMatch(
      /^Intercom does not find the contact or company it just returned/,
    );
    expect(await deadLetterRows(database.pool, 'intercom')).toEqual([]);
  });
});
