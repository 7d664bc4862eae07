/**
 * Which failed loads are the rows' fault (Warehouse.isDataError): the loader splits a batch that
 * failed so, to load the rows around the bad one, and keeps any other failure staged for a retry.
 * Every error here comes from the real client, failing against the fake BigQuery the way
 * BigQuery fails (its reasons as its "Error messages" page lists them).
 */
jest.mock('teeny-request', () => jest.requireActual('../support/native-teeny-request'));
import { FakeError, type FakeRequest } from '../support/fake-bigquery';
import { DATASET, rowsOf, startTestbed, type Testbed } from './bigquery-testbed';
import { track } from './support';

const rows = rowsOf([
  track('Order Completed', { revenue: 30 }, { messageId: 'order-1' }),
  track('Order Completed', { revenue: 12 }, { messageId: 'order-2' }),
]);

let bed: Testbed | undefined;
afterEach(async () => {
  await bed?.close();
  bed = undefined;
});

/** The error a load fails with, on a testbed set up by `arrange`. */
async function failure(
  arrange: (bed: Testbed) => void = () => {},
  ...testbed: Parameters<typeof startTestbed>
): Promise<unknown> {
  bed = await startTestbed(...testbed);
  arrange(bed);
  const error = await bed.warehouse.load({ schema: DATASET, rows }).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  // An Error, though not always this realm's: node-fetch runs outside Jest's sandbox.
  expect(error).toHaveProperty('message');
  return error;
}

test('a load job refusing the rows (invalid) is a data error, and the rows around the bad one load', async () => {
  const error = await failure((bed) =>
    bed.fake.failJob(
      'load',
      'invalid',
      'Error while reading data, error message: JSON parsing error in row starting at position 0: Could not convert value to double. Field: revenue; Value: abc',
    ),
  );
  expect(bed!.warehouse.isDataError(error)).toBe(true);
  expect((error as Error).message).toMatch(
    /^BigQuery load job sluice_load_\S+ failed: Error while reading data/,
  );

  // The loader then loads the batch in parts; the fake refused one load job only.
  await bed!.warehouse.load({ schema: DATASET, rows: rows.slice(0, 2) });
  await bed!.warehouse.load({ schema: DATASET, rows: rows.slice(2) });
  expect(bed!.fake.table(DATASET, 'order_completed')!.rows).toHaveLength(2);
});

test.each([
  ['load', 'backendError', 'Backend error. Job aborted.'],
  ['load', 'quotaExceeded', 'Quota exceeded: Your project exceeded quota for imports per project.'],
  ['load', 'rateLimitExceeded', 'Exceeded rate limits: too many table update operations.'],
  ['load', 'stopped', 'Job execution was cancelled: Job timed out after 10 min'],
  ['query', 'invalidQuery', 'Could not serialize access to table due to concurrent update'],
  ['query', 'invalid', 'Query error: Cannot insert a value into column quantity'],
  ['query', 'resourcesExceeded', 'Resources exceeded during query execution'],
] as const)('a %s job failing with %s is not a data error', async (kind, reason, message) => {
  const error = await failure((bed) => bed.fake.failJob(kind, reason, message));
  expect((error as Error).message).toContain(message);
  expect(bed!.warehouse.isDataError(error)).toBe(false);
});

const onPath = (pattern: RegExp) => (request: FakeRequest) => pattern.test(request.path);

test.each([
  ['permission denied on tables.get', onPath(/\/tables\/tracks$/), 403, 'accessDenied'],
  ['a quota on load jobs', onPath(/^\/upload\//), 403, 'quotaExceeded'],
  [
    'a missing dataset on tables.insert',
    (r: FakeRequest) => r.method === 'POST' && r.path.endsWith('/tables'),
    404,
    'notFound',
  ],
  ['a request BigQuery calls invalid', onPath(/\/jobs$/), 400, 'invalid'],
  [
    'a duplicate table (another loader made it)',
    (r: FakeRequest) => r.method === 'POST' && r.path.endsWith('/tables'),
    409,
    'duplicate',
  ],
])('an HTTP error, %s, is not a data error', async (_, matches, status, reason) => {
  const error = await failure((bed) =>
    bed.fake.failRequest(matches, new FakeError(status, reason, `${reason} (${status})`)),
  );
  expect(error).toMatchObject({ code: status });
  expect(bed!.warehouse.isDataError(error)).toBe(false);
});

test('a project that does not exist is not a data error', async () => {
  const error = await failure(undefined, { projectId: 'no-such-project' });
  expect((error as Error).message).toContain('Not found: Project no-such-project');
  expect(bed!.warehouse.isDataError(error)).toBe(false);
});

test('credentials BigQuery does not accept are not a data error', async () => {
  const error = await failure(undefined, {}, { trusted: 'another key' });
  expect(error).toMatchObject({ code: 401 });
  expect(bed!.warehouse.isDataError(error)).toBe(false);
});

test(
  'BigQuery out of reach is not a data error',
  async () => {
    const error = await failure((bed) => void bed.fake.close());
    expect(error).toMatchObject({ code: 'ECONNREFUSED' });
    expect(bed!.warehouse.isDataError(error)).toBe(false);
  },
  // The client retries a failed request three times, waiting a few seconds between.
  60_000,
);

test('what is no error of BigQuery is not a data error', async () => {
  bed = await startTestbed();
  for (const error of [
    undefined,
    null,
    'invalid',
    new Error('invalid'),
    { reasons: ['invalid'] },
  ]) {
    expect(bed.warehouse.isDataError(error)).toBe(false);
  }
});
