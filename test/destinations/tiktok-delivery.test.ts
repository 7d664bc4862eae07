/**
 * The TikTok Events API destination delivered end to end: the real DestinationWorker claims rows
 * from a real PostgreSQL queue, maps and batches them and records the outcomes. TikTok's Business
 * API cannot be reached from the test environment (and must not get test traffic), so a local
 * server plays it, answering as TikTok does: HTTP 200 with `{"code", "message", "request_id",
 * "data"}`, where `code` 0 is success and other codes are errors (40100 requests made too
 * frequently, 40002 a bad parameter, 40105 a bad token, 5xxxx system errors).
 */
import { randomUUID } from 'node:crypto';
import { validateDestinationConfig } from '../../destinations';
import { tiktok, type TikTokConfig } from '../../destinations/tiktok';
import type { SegmentEvent } from '../../src/event';
import { deadLetterRows, enqueueDeliveries, queuedJobs } from '../support/deliveries';
import { eventually } from '../support/eventually';
import { routerTestbed, toVendor } from '../support/router-testbed';
import type { ScriptedResponse } from '../support/vendor-server';
import { MOBILE_CONTEXT, segmentEvent } from './support';

const testbed = routerTestbed();
const TOKEN = '9f4c2e7a1b3d5f6e8a0c2b4d6f8e0a1c3b5d7f9e';
const config = validateDestinationConfig({
  type: 'tiktok_events',
  config: { accessToken: TOKEN, pixelCode: 'COQDA8RC77U2TMR44LI0', appId: '7234567890' },
}) as TikTokConfig;

const ALICE = { userId: 'user-4711', anonymousId: 'a1b2c3d4-0000-4c4c-8888-0123456789ab' };
const BOB = { userId: 'bob@acme.example', anonymousId: '6f1c2b9e-58d4-4e0b-9a4c-2f7de0b1c3a5' };
const CAROL = { userId: 'carol-88', anonymousId: '0b7e3c1a-2d4f-4a6b-8c9d-1e2f3a4b5c6d' };

function event(person: typeof ALICE, fields: Partial<SegmentEvent>): SegmentEvent {
  return segmentEvent('track', { messageId: randomUUID(), ...person, ...fields });
}

const ORDER = event(ALICE, {
  event: 'Order Completed',
  properties: { order_id: 'o-1001', revenue: 55.5, currency: 'EUR' },
});
const SIGNED_UP = event(CAROL, { event: 'Signed Up' });
const APP_ORDER = event(BOB, {
  event: 'Order Completed',
  properties: { revenue: 9.99 },
  context: MOBILE_CONTEXT,
});

const answer = (code: number, message: string): ScriptedResponse => ({
  status: 200,
  body: JSON.stringify({ code, message, request_id: '202405011200', data: {} }),
});
const OK = answer(0, 'OK');

function enqueue(events: SegmentEvent[]): Promise<void> {
  return enqueueDeliveries(
    testbed.database.pool,
    'hook',
    events as Array<SegmentEvent & { userId: string; event: string }>,
  );
}

function worker(options: { quickRetries?: number } = {}) {
  return testbed.worker(tiktok, config, {
    fetch: toVendor(testbed.vendor),
    options: { quickRetries: 2, ...options },
  });
}

async function runAgainst(response: ScriptedResponse, events = [ORDER]) {
  testbed.vendor.script = () => response;
  await enqueue(events);
  const before = Date.now();
  await worker().runOnce();
  return { before, after: Date.now() };
}

test('web events share a request to the pixel, app events go to the app; rows are done', async () => {
  testbed.vendor.script = () => OK;
  await enqueue([ORDER, SIGNED_UP, APP_ORDER]);
  expect(await worker().runOnce()).toBe(3);
  expect(await queuedJobs(testbed.database.pool, 'hook')).toEqual([]);
  expect(await deadLetterRows(testbed.database.pool, 'hook')).toEqual([]);
  const requests = testbed.vendor.requests;
  expect(requests.map((r) => r.path)).toEqual([
    '/open_api/v1.3/event/track/',
    '/open_api/v1.3/event/track/',
  ]);
  expect(requests.every((r) => r.headers['access-token'] === TOKEN)).toBe(true);
  const bodies = requests
    .map((r) => JSON.parse(r.body) as { event_source: string; data: Array<{ event_id: string }> })
    .sort((a, b) => a.event_source.localeCompare(b.event_source));
  expect(bodies).toMatchObject([
    { event_source: 'app', event_source_id: '7234567890', data: [{ event: 'Purchase' }] },
    {
      event_source: 'web',
      event_source_id: 'COQDA8RC77U2TMR44LI0',
      data: [{ event: 'Purchase' }, { event: 'CompleteRegistration' }],
    },
  ]);
  expect(bodies[0].data[0].event_id).toBe(APP_ORDER.messageId);
});

test('code 40100 (requests made too frequently) in a 200: retried after a minute', async () => {
  const { before, after } = await runAgainst(answer(40100, 'Requests made too frequently.'));
  expect(testbed.vendor.requests).toHaveLength(1);
  const [row] = await queuedJobs(testbed.database.pool, 'hook');
  expect(row.attempts).toBe(1);
  expect(row.last_error).toBe('TikTok rate limit (code 40100): Requests made too frequently.');
  expect(row.next_attempt_at.getTime() - before).toBeGreaterThanOrEqual(60_000 - 100);
  expect(row.next_attempt_at.getTime() - after).toBeLessThanOrEqual(60_000);
});

test('429 with Retry-After: retried after that long', async () => {
  const { before, after } = await runAgainst({
    status: 429,
    headers: { 'retry-after': '7' },
    body: '',
  });
  const [row] = await queuedJobs(testbed.database.pool, 'hook');
  expect(row.last_error).toMatch(/^HTTP 429/);
  expect(row.next_attempt_at.getTime() - before).toBeGreaterThanOrEqual(7_000 - 100);
  expect(row.next_attempt_at.getTime() - after).toBeLessThanOrEqual(7_000);
});

test('a system error is retried, and delivered by the retry', async () => {
  testbed.vendor.script = (_request, index) => (index === 0 ? answer(50000, 'System error') : OK);
  await enqueue([ORDER]);
  const retrying = worker({ quickRetries: 0 });
  await retrying.runOnce();
  const [row] = await queuedJobs(testbed.database.pool, 'hook');
  expect(row.last_error).toBe('TikTok system error (code 50000): System error');
  await eventually(async () => {
    await retrying.runOnce();
    expect(await queuedJobs(testbed.database.pool, 'hook')).toEqual([]);
  });
  const [failed, delivered] = testbed.vendor.requests;
  expect(delivered.body).toBe(failed.body);
});

test('a bad parameter fails the whole request: every event in it is dead-lettered', async () => {
  await runAgainst(answer(40002, 'Invalid value for data[1].event_time'), [ORDER, SIGNED_UP]);
  expect(testbed.vendor.requests).toHaveLength(1);
  expect(await queuedJobs(testbed.database.pool, 'hook')).toEqual([]);
  const letters = await deadLetterRows(testbed.database.pool, 'hook');
  expect(letters.map((letter) => letter.reason)).toEqual([
    'TikTok rejected the request (code 40002): Invalid value for data[1].event_time',
    'TikTok rejected the request (code 40002): Invalid value for data[1].event_time',
  ]);
});

test('an invalid token (40105): dead-lettered with the token masked', async () => {
  await runAgainst(answer(40105, `Access token ${TOKEN} is incorrect or has been revoked.`));
  const [letter] = await deadLetterRows(testbed.database.pool, 'hook');
  expect(letter.reason).toMatch(/^TikTok rejected the request \(code 40105\): Access token/);
  for (const stored of [letter.reason, letter.last_request, letter.last_response]) {
    expect(stored).not.toContain(TOKEN);
  }
});
