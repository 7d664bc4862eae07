/**
 * Requests a destination derives from a vendor's answers (Destination.followUp), against a local
 * server playing the vendor: sent next and in order for an event sent on its own requests, never
 * for a combined batch, bounded by MAX_FOLLOW_UPS, and a failing derivation aborts the event.
 */
import {
  defineDestination,
  DestinationMappingError,
  MAX_FOLLOW_UPS,
  type Destination,
} from '../../destinations/destination';
import { deadLetterRows, enqueueDeliveries, queuedJobs, testHook } from '../support/deliveries';
import { routerTestbed } from '../support/router-testbed';

const testbed = routerTestbed();

/** The test hook, with `followUp` asking for `step N` requests as `next(answers)` says. */
function following(
  next: (answered: number) => number | 'throw',
  options: Parameters<typeof testHook>[0] = {},
): Destination<{ url: string }> {
  const hook = testHook(options);
  return defineDestination({
    ...hook,
    followUp(event, answers, { config }) {
      const count = next(answers.length);
      if (count === 'throw') throw new DestinationMappingError('no id in the answer');
      return Array.from({ length: count }, (_, i) => ({
        method: 'POST' as const,
        url: `${config.url}step-${answers.length}-${i}`,
        headers: {},
        body: JSON.stringify({ after: answers.map((a) => a.response.status) }),
      }));
    },
  });
}

async function deliver(destination: Destination<{ url: string }>, events = 1) {
  const { pool } = testbed.database;
  const queued = Array.from({ length: events }, (_, i) => ({ userId: `u${i}`, event: 'A' }));
  await enqueueDeliveries(pool, 'hook', queued);
  await testbed.worker(destination, { url: `${testbed.vendor.url}/` }).runOnce();
  return {
    paths: testbed.vendor.requests.map((request) => request.path),
    rows: await queuedJobs(pool, 'hook'),
    letters: await deadLetterRows(pool, 'hook'),
  };
}

test('follow-ups are sent next, in order, each seeing the answers before it', async () => {
  const { paths, rows, letters } = await deliver(following((n) => (n === 1 ? 2 : 0)));
  expect(paths).toEqual(['/', '/step-1-0', '/step-1-1']);
  expect(testbed.vendor.requests[2].body).toBe(JSON.stringify({ after: [200] }));
  expect([rows, letters]).toEqual([[], []]);
});

test(`more than ${MAX_FOLLOW_UPS} follow-ups: the event is dead-lettered`, async () => {
  const { paths, letters } = await deliver(following(() => 1));
  expect(paths).toHaveLength(1 + MAX_FOLLOW_UPS);
  expect(letters[0].reason).toBe(
    `the destination asked for more than ${MAX_FOLLOW_UPS} follow-up requests`,
  );
});

test('a derivation that fails dead-letters the event as a mapping failure', async () => {
  const { paths, letters } = await deliver(following(() => 'throw'));
  expect(paths).toEqual(['/']);
  expect(letters[0].reason).toBe('mapping failed: no id in the answer');
});

test('a combined batch gets no follow-ups', async () => {
  const { paths, rows } = await deliver(
    following(() => 1, { batch: { maxItems: 10 } }),
    2,
  );
  expect(paths).toEqual(['/']);
  expect(rows).toEqual([]);
});
