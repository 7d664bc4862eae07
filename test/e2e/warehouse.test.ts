/**
 * A PostgreSQL warehouse end to end: events from @segment/analytics-node through a running
 * Sluice (every role) land where a Segment user's SQL expects them; operators see the loads in
 * /admin/queues and /metrics; `sluice warehouse sync` loads at once; a graceful stop loads what
 * is staged.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { Analytics } from '@segment/analytics-node';
import pg from 'pg';
import request from 'supertest';
import { eventually } from '../support/eventually';
import { startTestSluice, type TestSluice } from '../support/sluice';
import {
  createTestDatabase,
  createWarehouseDatabase,
  type TestDatabase,
} from '../support/test-database';

const ADMIN_TOKEN = 'warehouse-admin-token-0123456789';
const CLI = path.resolve(__dirname, '../../dist/src/cli/main.js');
let database: TestDatabase;
let warehouse: { url: string; drop(): Promise<void> };
let dwh: pg.Pool;

beforeAll(async () => {
  database = await createTestDatabase();
  warehouse = await createWarehouseDatabase();
  dwh = new pg.Pool({ connectionString: warehouse.url, max: 2 });
});
afterAll(async () => {
  await dwh?.end();
  await warehouse?.drop();
  await database?.drop();
});

function workspaceYaml(syncIntervalSeconds: number) {
  return `
sources:
  - { id: website, writeKey: warehouse-write-key }
destinations:
  - id: dwh
    type: postgres
    config: { connectionString: "${warehouse.url}", schema: shop, syncIntervalSeconds: ${syncIntervalSeconds} }
connections:
  - { source: website, destination: dwh }
`;
}

async function sum(sql: string): Promise<unknown> {
  const { rows } = await dwh.query(sql);
  return rows[0];
}

test('events from analytics-node are queryable as a Segment user’s SQL expects them', async () => {
  const sluice = await startTestSluice(database, {
    workspace: workspaceYaml(1),
    settings: { adminToken: ADMIN_TOKEN },
  });
  try {
    const analytics = new Analytics({
      writeKey: 'warehouse-write-key',
      host: sluice.url,
      flushAt: 10,
      flushInterval: 50,
    });
    analytics.identify({ userId: 'ada', traits: { plan: 'pro', email: 'ada@example.com' } });
    for (let i = 1; i <= 4; i++) {
      analytics.track({
        userId: 'ada',
        event: 'Order Completed',
        properties: { order_id: `o-${i}`, revenue: i * 10.5, currency: 'EUR' },
      });
    }
    analytics.page({ userId: 'ada', name: 'Pricing', properties: { path: '/pricing' } });
    await analytics.closeAndFlush({ timeout: 10_000 });

    await eventually(async () => {
      expect(await sum('SELECT sum(revenue) AS revenue FROM shop.order_completed')).toEqual({
        revenue: 105,
      });
    }, 30_000);
    expect(
      await sum(`SELECT count(*)::int AS n FROM shop.tracks WHERE event = 'order_completed'`),
    ).toEqual({ n: 4 });
    expect(await sum('SELECT plan, email FROM shop.users WHERE id = $$ada$$')).toEqual({
      plan: 'pro',
      email: 'ada@example.com',
    });
    expect(await sum('SELECT name, path, context_library_name FROM shop.pages')).toEqual({
      name: 'Pricing',
      path: '/pricing',
      context_library_name: '@segment/analytics-node',
    });

    const queues = await request(sluice.url)
      .get('/admin/queues')
      .set('Authorization', `Bearer ${ADMIN_TOKEN}`);
    expect(queues.body.warehouses).toEqual([
      expect.objectContaining({
        destinationId: 'dwh',
        staged: 0,
        lastLoad: expect.objectContaining({ tables: expect.arrayContaining(['shop.users']) }),
        lastError: null,
      }),
    ]);
    const metrics = await request(sluice.url).get('/metrics');
    expect(metrics.text).toMatch(/sluice_warehouse_loaded_rows_total\{destination="dwh"\} \d+/);
    expect(metrics.text).toMatch(
      /sluice_warehouse_last_load_timestamp_seconds\{destination="dwh"\}/,
    );
  } finally {
    await sluice.stop();
  }
});

test('a graceful stop loads what is staged; `sluice warehouse sync` loads at once', async () => {
  // An hour between syncs: only the stop, or the command, can load these events.
  let sluice: TestSluice = await startTestSluice(database, { workspace: workspaceYaml(3600) });
  const send = async (event: string) => {
    const response = await request(sluice.url)
      .post('/v1/track')
      .auth('warehouse-write-key', '')
      .send({ userId: 'bob', event });
    expect(response.status).toBe(200);
  };
  await send('Stopped Before Sync');
  await eventually(async () => {
    const { rows } = await database.pool.query(
      'SELECT count(*)::int AS n FROM warehouse_staging WHERE destination_id = $1',
      ['dwh'],
    );
    expect(rows[0].n).toBe(1);
  });
  await sluice.stop();
  expect(await sum('SELECT count(*)::int AS n FROM shop.stopped_before_sync')).toEqual({ n: 1 });

  sluice = await startTestSluice(database, {
    workspace: workspaceYaml(3600),
    settings: { roles: ['gateway', 'processor'] },
  });
  try {
    await send('Synced By Hand');
    await eventually(async () => {
      const { rows } = await database.pool.query(
        'SELECT count(*)::int AS n FROM warehouse_staging',
      );
      expect(rows[0].n).toBe(1);
    });
    const result = spawnSync(
      process.execPath,
      ['--no-node-snapshot', CLI, 'warehouse', 'sync', '--destination', 'dwh'],
      {
        env: {
          ...process.env,
          DATABASE_URL: database.url,
          SLUICE_WORKSPACE: sluice.workspaceFile,
          SLUICE_LOG_LEVEL: 'warn',
        },
        encoding: 'utf8',
      },
    );
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      loads: [expect.objectContaining({ destinationId: 'dwh', events: 1, refused: 0 })],
    });
    expect(await sum('SELECT count(*)::int AS n FROM shop.synced_by_hand')).toEqual({ n: 1 });
  } finally {
    await sluice.stop();
  }
});
