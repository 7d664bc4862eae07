/**
 * What a router test file needs: a database of its own, the delivery locks of one router
 * process, a local server playing the vendor, and DestinationWorkers for destination `hook`.
 * Rows and the vendor are reset before each test; the workers made are stopped after it.
 */
import type pg from 'pg';
import type { Destination } from '../../destinations/destination';
import { createLogger } from '../../src/log';
import { createMetrics } from '../../src/metrics';
import { DeliveryLocks } from '../../src/router/delivery-locks';
import {
  DestinationWorker,
  type DeliveryPolicy,
  type WorkerOptions,
} from '../../src/router/destination-worker';
import { createTestDatabase, type TestDatabase } from './test-database';
import { startVendor, type ScriptedResponse, type VendorServer } from './vendor-server';

export interface RouterTestbed {
  readonly database: TestDatabase;
  readonly vendor: VendorServer;
  /** A worker for destination `hook` (stopped after the test). */
  worker<Config>(
    destination: Destination<Config>,
    config: Config,
    settings?: {
      pool?: pg.Pool;
      policy?: Partial<DeliveryPolicy>;
      options?: Partial<WorkerOptions>;
      /** What sends requests; default the global fetch (see toVendor). */
      fetch?: typeof fetch;
    },
  ): DestinationWorker;
}

const POLICY: DeliveryPolicy = {
  maxConcurrency: 4,
  timeoutMs: 5000,
  maxAttempts: 10,
  maxRetryHours: 3,
};

/** A first failure is retried after 15–30 ms; no in-process retries unless a test says so. */
export const TEST_WORKER_OPTIONS: WorkerOptions = {
  parallelRounds: 1,
  claimLimit: 100,
  idleMs: 10,
  backoff: { baseMs: 30, maxMs: 200 },
  quickRetries: 0,
  quickRetryMinMs: 10,
};

/** Registers the file's hooks; the testbed's fields are set from beforeAll on. */
export function routerTestbed(): RouterTestbed {
  let locks: DeliveryLocks;
  const workers: DestinationWorker[] = [];
  const testbed = {
    worker(destination, config, { pool, policy, options, fetch } = {}) {
      const created = new DestinationWorker(
        {
          pool: pool ?? testbed.database.pool,
          locks,
          logger: createLogger('silent'),
          metrics: createMetrics(),
          fetch,
        },
        'hook',
        destination as Destination<unknown>,
        { config, destination: { id: 'hook' } },
        { ...POLICY, ...policy },
        { ...TEST_WORKER_OPTIONS, ...options },
      );
      workers.push(created);
      return created;
    },
  } as RouterTestbed & { database: TestDatabase; vendor: VendorServer };
  beforeAll(async () => {
    testbed.database = await createTestDatabase();
    locks = new DeliveryLocks(testbed.database.pool);
    testbed.vendor = await startVendor();
  });
  afterAll(async () => {
    await testbed.vendor?.close();
    await locks?.close();
    await testbed.database?.drop();
  });
  beforeEach(async () => {
    await testbed.database.pool.query('TRUNCATE delivery_jobs, dead_letters');
    testbed.vendor.requests.length = 0;
    testbed.vendor.script = () => ({ status: 200 });
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((worker) => worker.stop()));
  });
  return testbed;
}

/**
 * A vendor script answering each request by the `event` of the (single) event it carries, 200
 * for events not named.
 */
export function answerByEvent(answers: Record<string, ScriptedResponse>) {
  return (request: { body: string }): ScriptedResponse =>
    answers[(JSON.parse(request.body) as { event: string }).event] ?? { status: 200 };
}

/**
 * A fetch that sends every request, whatever vendor host it addresses, to the local vendor server
 * (path and query kept), recording the URL the destination addressed in `addressed`.
 */
export function toVendor(vendor: VendorServer, addressed: URL[] = []): typeof fetch {
  return (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    addressed.push(url);
    return fetch(new URL(`${url.pathname}${url.search}`, vendor.url), init);
  };
}
