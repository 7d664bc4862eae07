/**
 * The Meta Conversions API destination delivered end to end: the real DestinationWorker claims
 * rows from a real PostgreSQL queue, maps and batches them and records the outcomes. Meta's Graph
 * API cannot be reached from the test environment (and must not get test traffic), so a local
 * server plays it, answering with the shapes Meta documents: `events_received` on success, the
 * Graph API error object (`message`, `type`, `code`, `error_subcode`, `is_transient`,
 * `fbtrace_id`) on failure, throttling as a 400 with a rate-limit code and the
 * X-Business-Use-Case-Usage header.
 */
import { randomUUID } from 'node:crypto';
import { facebookConversions } from '../../destinations/facebook-conversions';
import { validateDestinationConfig } from '../../destinations';
import type { FacebookConversionsConfig } from '../../destinations/facebook-conversions';
import type { SegmentEvent } from '../../src/event';
import { deadLetterRows, enqueueDeliveries, queuedJobs } from '../support/deliveries';
import { eventually } from '../support/eventually';
import { routerTestbed, toVendor } from '../support/router-testbed';
import type { ScriptedResponse } from '../support/vendor-server';
import { MOBILE_CONTEXT, segmentEvent } from './support';

const testbed = routerTestbed();
const TOKEN = 'EAAGm0PX4ZCpsBA8ZAqk7Yc1';
const config = validateDestinationConfig({
  type: 'facebook_conversions',
  config: { pixelId: '1234567890', accessToken: TOKEN, testEventCode: 'TEST4039' },
}) as FacebookConversionsConfig;

const ALICE = { userId: 'user-4711', anonymousId: 'a1b2c3d4-0000-4c4c-8888-0123456789ab' };
const BOB = { userId: 'bob@acme.example', anonymousId: '6f1c2b9e-58d4-4e0b-9a4c-2f7de0b1c3a5' };

function event(person: typeof ALICE, fields: Partial<SegmentEvent>): SegmentEvent {
  return segmentEvent('track', { messageId: randomUUID(), ...person, ...fields });
}

const ORDER = event(ALICE, {
  event: 'Order Completed',
  properties: {
    order_id: 'o-1001',
    revenue: 55.5,
    currency: 'EUR',
    products: [{ product_id: 'sku-1', quantity: 2 }],
  },
  traits: { email: 'alice@acme.example' },
});
const SIGNED_UP = event(BOB, { event: 'Signed Up', context: MOBILE_CONTEXT });

const json = (value: unknown) => JSON.stringify(value);
const graphError = (code: number, extra: Record<string, unknown> = {}) =>
  json({
    error: { message: 'Error', type: 'OAuthException', code, fbtrace_id: 'AQk9x3', ...extra },
  });

/** Queues events for the destination `hook` (every event has a userId, its user key). */
function enqueue(events: SegmentEvent[]): Promise<void> {
  return enqueueDeliveries(
    testbed.database.pool,
    'hook',
    events as Array<SegmentEvent & { userId: string; event: string }>,
  );
}

function worker(addressed: URL[] = []) {
  return testbed.worker(facebookConversions, config, {
    fetch: toVendor(testbed.vendor, addressed),
    options: { quickRetries: 2 },
  });
}

/** The row was retried once, to be sent again `delayMs` after the answer. */
async function expectRetriedAfter(delayMs: number, before: number, after: number, error: RegExp) {
  const rows = await queuedJobs(testbed.database.pool, 'hook');
  expect(rows.length).toBeGreaterThan(0);
  for (const row of rows) {
    expect(row.attempts).toBe(1);
    expect(row.last_error).toMatch(error);
    expect(row.next_attempt_at.getTime() - before).toBeGreaterThanOrEqual(delayMs - 100);
    expect(row.next_attempt_at.getTime() - after).toBeLessThanOrEqual(delayMs);
  }
  expect(await deadLetterRows(testbed.database.pool, 'hook')).toEqual([]);
}

/** Runs one round against a vendor answering `answer`; returns the round's bounds. */
async function runAgainst(answer: ScriptedResponse, events = [ORDER]) {
  testbed.vendor.script = () => answer;
  await enqueue(events);
  const before = Date.now();
  await worker().runOnce();
  return { before, after: Date.now() };
}

test('two users’ events go in one request to the pixel’s /events, and the rows are done', async () => {
  testbed.vendor.script = () => ({
    status: 200,
    body: json({ events_received: 2, messages: [], fbtrace_id: 'AQk9x3' }),
  });
  await enqueue([ORDER, SIGNED_UP]);
  const addressed: URL[] = [];
  expect(await worker(addressed).runOnce()).toBe(2);
  expect(await queuedJobs(testbed.database.pool, 'hook')).toEqual([]);
  expect(await deadLetterRows(testbed.database.pool, 'hook')).toEqual([]);
  expect(addressed.map(String)).toEqual([
    `https://graph.facebook.com/v21.0/1234567890/events?access_token=${TOKEN}`,
  ]);
  const [request] = testbed.vendor.requests;
  expect(request.headers['content-type']).toBe('application/json');
  const body = JSON.parse(request.body) as { data: Array<Record<string, unknown>> };
  expect(body).toMatchObject({
    test_event_code: 'TEST4039',
    data: [
      {
        event_name: 'Purchase',
        event_id: ORDER.messageId,
        action_source: 'website',
        custom_data: { value: 55.5, currency: 'EUR' },
      },
      { event_name: 'CompleteRegistration', event_id: SIGNED_UP.messageId, action_source: 'app' },
    ],
  });
});

test('400 with a throttling code (17): retried after a minute, not dead-lettered', async () => {
  const { before, after } = await runAgainst({
    status: 400,
    body: graphError(17, { message: 'User request limit reached', error_subcode: 2446079 }),
  });
  expect(testbed.vendor.requests).toHaveLength(1);
  await expectRetriedAfter(
    60_000,
    before,
    after,
    /^Meta rate limit \(code 17\/2446079\): User request limit reached$/,
  );
});

test('throttled with X-Business-Use-Case-Usage: retried when Meta says access is regained', async () => {
  const usage = {
    '1234567890': [
      {
        type: 'ads_management',
        call_count: 100,
        total_cputime: 9,
        total_time: 9,
        estimated_time_to_regain_access: 5,
      },
    ],
  };
  const { before, after } = await runAgainst({
    status: 400,
    headers: { 'x-business-use-case-usage': json(usage) },
    body: graphError(80004, { message: 'There have been too many calls to this ad-account.' }),
  });
  await expectRetriedAfter(300_000, before, after, /^Meta rate limit \(code 80004\)/);
});

test('429 with Retry-After: retried after that long', async () => {
  const { before, after } = await runAgainst({
    status: 429,
    headers: { 'retry-after': '7' },
    body: graphError(4, { message: 'Application request limit reached' }),
  });
  await expectRetriedAfter(7_000, before, after, /^Meta rate limit \(code 4\)/);
});

test('a transient error is retried, and delivered by the retry', async () => {
  testbed.vendor.script = (_request, index) =>
    index === 0
      ? {
          status: 400,
          body: graphError(2, { message: 'Service temporarily unavailable', is_transient: true }),
        }
      : { status: 200, body: json({ events_received: 1, messages: [], fbtrace_id: 'x' }) };
  await enqueue([ORDER]);
  const retrying = testbed.worker(facebookConversions, config, {
    fetch: toVendor(testbed.vendor),
    options: { quickRetries: 0 },
  });
  await retrying.runOnce();
  const [row] = await queuedJobs(testbed.database.pool, 'hook');
  expect(row.last_error).toMatch(
    /^Meta temporary error \(code 2\): Service temporarily unavailable$/,
  );
  await eventually(async () => {
    await retrying.runOnce();
    expect(await queuedJobs(testbed.database.pool, 'hook')).toEqual([]);
  });
  const [failed, delivered] = testbed.vendor.requests;
  expect(delivered.body).toBe(failed.body);
});

test('400 invalid parameter: Meta rejected the whole request, every event in it is dead-lettered', async () => {
  const rejection = graphError(100, {
    message: 'Invalid parameter',
    error_subcode: 2804003,
    error_user_title: 'Event Timestamp Too Old',
    error_user_msg: 'The timestamp for this event is too far in the past.',
  });
  await runAgainst({ status: 400, body: rejection }, [ORDER, SIGNED_UP]);
  expect(testbed.vendor.requests).toHaveLength(1);
  expect(await queuedJobs(testbed.database.pool, 'hook')).toEqual([]);
  const letters = await deadLetterRows(testbed.database.pool, 'hook');
  expect(letters.map((letter) => letter.message_id).sort()).toEqual(
    [ORDER.messageId, SIGNED_UP.messageId].sort(),
  );
  for (const letter of letters) {
    expect(letter.reason).toBe(`HTTP 400: ${rejection}`);
    expect(letter.last_request).not.toContain(TOKEN);
  }
});

test('190 (expired token): dead-lettered with the token masked', async () => {
  await runAgainst({
    status: 401,
    body: graphError(190, { message: `Error validating access token: ${TOKEN} has expired` }),
  });
  const [letter] = await deadLetterRows(testbed.database.pool, 'hook');
  expect(letter.reason).toMatch(/^HTTP 401: .*Error validating access token/);
  for (const stored of [letter.reason, letter.last_request, letter.last_response]) {
    expect(stored).not.toContain(TOKEN);
  }
});
