/**
 * The published server-side SDKs, unmodified and configured only with Sluice's address, deliver
 * into the ingest queue with the fields they send.
 */
import { Analytics } from '@segment/analytics-node';
import RudderAnalytics from '@rudderstack/rudder-sdk-node';
import { eventually } from '../support/eventually';
import { storedJobs } from '../support/ingest';
import { startTestSluice, SECOND_WRITE_KEY, WRITE_KEY, type TestSluice } from '../support/sluice';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

let database: TestDatabase;
let sluice: TestSluice;

beforeAll(async () => {
  database = await createTestDatabase();
  sluice = await startTestSluice(database);
});
afterAll(async () => {
  await sluice?.stop();
  await database?.drop();
});
beforeEach(async () => {
  await database.pool.query('TRUNCATE ingest_jobs, ingest_message_ids');
});

test('@segment/analytics-node delivers every call type with its fields', async () => {
  const analytics = new Analytics({
    writeKey: WRITE_KEY,
    host: sluice.url,
    flushAt: 5,
    flushInterval: 100,
  });
  const timestamp = new Date('2024-01-02T03:04:05.000Z');
  analytics.identify({ userId: 'user-1', traits: { email: 'ada@example.com', plan: 'pro' } });
  analytics.track({
    userId: 'user-1',
    event: 'Order Completed',
    properties: { revenue: 42.5, currency: 'EUR' },
    timestamp,
  });
  analytics.page({ anonymousId: 'anon-1', name: 'Pricing', properties: { path: '/pricing' } });
  analytics.screen({ userId: 'user-1', name: 'Settings' });
  analytics.group({ userId: 'user-1', groupId: 'acme', traits: { name: 'Acme' } });
  analytics.alias({ previousId: 'anon-1', userId: 'user-1' });
  await analytics.closeAndFlush({ timeout: 10_000 });

  const jobs = await storedJobs(database.pool);
  expect(jobs.map((job) => job.event.type)).toEqual([
    'identify',
    'track',
    'page',
    'screen',
    'group',
    'alias',
  ]);
  for (const job of jobs) {
    expect(job.sourceId).toBe('web');
    expect(job.messageId).toMatch(/^node-next-\d+-/);
    expect(job.event.context?.library).toEqual({
      name: '@segment/analytics-node',
      version: expect.any(String),
    });
    expect(job.event.receivedAt).toEqual(expect.any(String));
    expect(job.event).not.toHaveProperty('writeKey');
  }
  const [identify, trackCall, page, screen, group, alias] = jobs.map((job) => job.event);
  expect(identify.traits).toEqual({ email: 'ada@example.com', plan: 'pro' });
  expect(trackCall).toMatchObject({
    event: 'Order Completed',
    properties: { revenue: 42.5, currency: 'EUR' },
  });
  expect(trackCall.originalTimestamp).toBe(timestamp.toISOString());
  expect(page).toMatchObject({ anonymousId: 'anon-1', name: 'Pricing' });
  expect(screen.name).toBe('Settings');
  expect(group).toMatchObject({ groupId: 'acme', traits: { name: 'Acme' } });
  expect(alias).toMatchObject({ previousId: 'anon-1', userId: 'user-1' });
});

test('@rudderstack/rudder-sdk-node with gzip (its default) delivers its events', async () => {
  const client = new RudderAnalytics(SECOND_WRITE_KEY, {
    dataPlaneUrl: sluice.url,
    flushAt: 10,
    flushInterval: 50,
    gzip: true,
    logLevel: 'error',
  });
  client.identify({ userId: 'user-9', traits: { name: 'Grace' } });
  client.track({ userId: 'user-9', event: 'Plan Upgraded', properties: { to: 'enterprise' } });
  client.page({
    anonymousId: 'anon-9',
    name: 'Docs',
    properties: { url: 'https://example.com/docs' },
  });
  client.group({ userId: 'user-9', groupId: 'navy', traits: { size: 100 } });
  await client.flush();

  const jobs = await eventually(async () => {
    const stored = await storedJobs(database.pool);
    expect(stored.map((job) => job.event.type)).toEqual(['identify', 'track', 'page', 'group']);
    return stored;
  });
  for (const job of jobs) {
    expect(job.sourceId).toBe('server');
    expect(job.event.context?.library).toMatchObject({ name: 'analytics-node' });
    // RudderStack SDKs send originalTimestamp themselves; the gateway keeps it.
    expect(job.event.originalTimestamp).toEqual(expect.any(String));
  }
  expect(jobs[1].event).toMatchObject({
    userId: 'user-9',
    event: 'Plan Upgraded',
    properties: { to: 'enterprise' },
  });
  expect(jobs[2].event.properties).toMatchObject({ url: 'https://example.com/docs' });
});

test('120 events from analytics-node arrive complete, each request in the order tracked', async () => {
  const analytics = new Analytics({
    writeKey: WRITE_KEY,
    host: sluice.url,
    flushAt: 50,
    flushInterval: 50,
  });
  for (let i = 0; i < 120; i++)
    analytics.track({ userId: `u-${i % 7}`, event: 'Bulk', properties: { i } });
  await analytics.closeAndFlush({ timeout: 10_000 });
  const jobs = await storedJobs(database.pool);
  expect(jobs.map((job) => job.event.properties?.i as number).sort((a, b) => a - b)).toEqual(
    Array.from({ length: 120 }, (_, i) => i),
  );
  // The SDK sends its batches concurrently, so they may be stored in either order; within a
  // request (same receipt and send time) the events keep the order they were tracked in.
  const requests = new Map<string, number[]>();
  for (const job of jobs) {
    const key = `${job.event.receivedAt}|${job.event.sentAt}`;
    requests.set(key, [...(requests.get(key) ?? []), job.event.properties?.i as number]);
  }
  expect(requests.size).toBeGreaterThan(1);
  for (const sequence of requests.values()) {
    expect(sequence).toEqual([...sequence].sort((a, b) => a - b));
  }
});
