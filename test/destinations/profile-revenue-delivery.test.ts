/**
 * Amplitude's revenue per product and Mixpanel's profile operations and charges, delivered end to
 * end: the real DestinationWorker claims the rows from a real PostgreSQL queue, maps, batches and
 * sends them to a local server playing the vendor, and records each event's outcome. What matters
 * here is what the router makes of these mappings' shapes: items holding hundreds of events, an
 * event's several /engage updates as one item, an event sent as two requests in order.
 */
import { randomUUID } from 'node:crypto';
import { toolDestinationOf, validateDestinationConfig } from '../../destinations';
import type { SegmentEvent } from '../../src/event';
import type { DestinationWorker } from '../../src/router/destination-worker';
import { deadLetterRows, enqueueDeliveries, queuedJobs } from '../support/deliveries';
import { routerTestbed, toVendor } from '../support/router-testbed';
import type { ScriptedResponse } from '../support/vendor-server';
import { segmentEvent } from './support';

const testbed = routerTestbed();

/** A worker for a destination of `type` with `config`, sending one request at a time. */
function workerFor(type: string, config: Record<string, unknown>): DestinationWorker {
  const parsed = validateDestinationConfig({ type, config });
  return testbed.worker(toolDestinationOf(type)!, parsed, {
    fetch: toVendor(testbed.vendor),
    policy: { maxConcurrency: 1 },
  });
}

/** Queues events for the testbed's destination (`hook`), as the processor does. */
function enqueue(events: SegmentEvent[]): Promise<void> {
  return enqueueDeliveries(
    testbed.database.pool,
    'hook',
    events as Array<SegmentEvent & { userId: string; event: string }>,
  );
}

const queued = () => queuedJobs(testbed.database.pool, 'hook');
const deadLetters = () => deadLetterRows(testbed.database.pool, 'hook');

/** `type`'s event for user `userId`, with its own messageId. */
function eventOf(type: SegmentEvent['type'], userId: string, fields: Partial<SegmentEvent>) {
  return segmentEvent(type, {
    messageId: randomUUID(),
    userId,
    anonymousId: `device-of-${userId}`,
    ...fields,
  });
}

/** An order of `count` products of price 1, for `userId`. */
function orderOf(userId: string, count: number): SegmentEvent {
  const products = Array.from({ length: count }, (_, i) => ({ sku: `sku-${i}`, price: 1 }));
  return eventOf('track', userId, {
    event: 'Order Completed',
    properties: { order_id: `order-of-${userId}`, revenue: count, products },
  });
}

const json = (value: unknown): ScriptedResponse => ({ status: 200, body: JSON.stringify(value) });

describe('amplitude, revenue per product', () => {
  const config = { apiKey: 'amp-key-123', revenuePer: 'product' };

  test('orders of 500 products: three to a request, each request under 2000 events', async () => {
    testbed.vendor.script = () => json({ code: 200 });
    const orders = ['ann-00001', 'bob-00002', 'cat-00003', 'dan-00004'].map((u) => orderOf(u, 500));
    const click = eventOf('track', 'eve-00005', { event: 'Clicked' });
    await enqueue([...orders, click]);
    expect(await workerFor('amplitude', config).runOnce()).toBe(5);
    expect(await queued()).toEqual([]);
    expect(await deadLetters()).toEqual([]);
    const bodies = testbed.vendor.requests.map(
      (request) => JSON.parse(request.body) as { events: { event_type: string }[] },
    );
    const counts = bodies.map((body) => body.events.length).sort((a, b) => a - b);
    expect(counts).toEqual([1, 501, 3 * 501]);
    const purchases = bodies
      .flatMap((body) => body.events)
      .filter((e) => e.event_type === 'Product Purchased');
    expect(purchases).toHaveLength(2000);
  });

  test('a 400 naming one product’s event: its order is dead-lettered, the other sent again', async () => {
    const [ann, bob] = [orderOf('ann-00001', 2), orderOf('bob-00002', 2)];
    // Ann's events are 0 (the order) to 2, Bob's 3 to 5: Amplitude names Bob's first product.
    testbed.vendor.script = () => ({
      status: 400,
      body: JSON.stringify({
        code: 400,
        error: 'Invalid field values on some events',
        events_with_invalid_fields: { price: [4] },
      }),
    });
    await enqueue([ann, bob]);
    await workerFor('amplitude', config).runOnce();
    expect(testbed.vendor.requests).toHaveLength(1);
    const [letter, ...more] = await deadLetters();
    expect(more).toEqual([]);
    expect(letter.message_id).toBe(bob.messageId);
    expect(letter.reason).toBe('Amplitude rejected the event: invalid price');
    const [row, ...others] = await queued();
    expect(others).toEqual([]);
    expect(JSON.parse(row.payload as string)).toMatchObject({ messageId: ann.messageId });
    expect(row.last_error).toMatch(/refused the request for other events in it \(HTTP 400\)/);
  });
});

describe('mixpanel, profile operations and charges', () => {
  const config = {
    projectToken: 'tok-123',
    traitsToIncrement: ['logins'],
    traitsToUnion: ['teams'],
    trackCharges: true,
  };
  const engage = (request: { body: string }) => JSON.parse(request.body) as unknown[];

  test('two users’ identifies: one /engage request of their updates, each user’s in order', async () => {
    testbed.vendor.script = () => json({ error: null, status: 1 });
    const traits = { plan: 'pro', logins: 1, teams: 'blue' };
    const identifies = ['ann', 'bob'].map((u) => eventOf('identify', u, { traits, context: {} }));
    await enqueue(identifies);
    expect(await workerFor('mixpanel', config).runOnce()).toBe(2);
    expect(await queued()).toEqual([]);
    expect(testbed.vendor.requests.map((r) => r.path)).toEqual(['/engage?verbose=1&ip=0']);
    const who = (id: string) => ({ $token: 'tok-123', $distinct_id: id });
    expect(engage(testbed.vendor.requests[0])).toEqual([
      { ...who('ann'), $set: { plan: 'pro' } },
      { ...who('ann'), $add: { logins: 1 } },
      { ...who('ann'), $union: { teams: ['blue'] } },
      { ...who('bob'), $set: { plan: 'pro' } },
      { ...who('bob'), $add: { logins: 1 } },
      { ...who('bob'), $union: { teams: ['blue'] } },
    ]);
  });

  test('an order: the event imported, then the charge appended; a refused charge is dead-lettered', async () => {
    testbed.vendor.script = (request) =>
      request.path.startsWith('/import')
        ? json({ code: 200, num_records_imported: 1, status: 'OK' })
        : json({ error: '$append values must be objects', status: 0 });
    const order = eventOf('track', 'ann', {
      event: 'Order Completed',
      properties: { order_id: 'o-1', revenue: 25.32 },
      context: {},
    });
    await enqueue([order]);
    await workerFor('mixpanel', config).runOnce();
    expect(testbed.vendor.requests.map((r) => r.path)).toEqual([
      '/import?strict=1',
      '/engage?verbose=1&ip=0',
    ]);
    expect(engage(testbed.vendor.requests[1])).toEqual([
      {
        $token: 'tok-123',
        $distinct_id: 'ann',
        $append: { $transactions: { $time: '2024-05-01T12:00:00', $amount: 25.32 } },
      },
    ]);
    const [letter] = await deadLetters();
    expect(letter.reason).toBe('Mixpanel rejected the update: $append values must be objects');
  });
});
