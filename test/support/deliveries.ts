/** Puts events straight into the delivery queue (as the processor would) and reads it back. */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { z } from 'zod';
import {
  defineDestination,
  defineWarehouse,
  type Destination,
  type WarehouseDestination,
} from '../../destinations/destination';
import { EVENT_TYPES } from '../../src/event';

export async function enqueueDeliveries(
  pool: pg.Pool,
  destinationId: string,
  events: Array<{ userId: string; event: string; [field: string]: unknown }>,
): Promise<void> {
  for (const event of events) {
    const full = { type: 'track', messageId: randomUUID(), ...event };
    await pool.query(
      `INSERT INTO delivery_jobs (segment, destination_id, user_key, source_id, message_id, received_at, payload)
       VALUES ((SELECT max(segment) FROM delivery_segments), $1, $2, 'web', $3, now(), $4)`,
      [destinationId, event.userId, full.messageId, JSON.stringify(full)],
    );
  }
}

export async function queuedJobs(pool: pg.Pool, destinationId: string) {
  const { rows } = await pool.query(
    `SELECT id, user_key, attempts, next_attempt_at, last_error, payload
     FROM delivery_jobs WHERE destination_id = $1 ORDER BY id`,
    [destinationId],
  );
  return rows;
}

export async function deadLetterRows(pool: pg.Pool, destinationId: string) {
  const { rows } = await pool.query(
    'SELECT * FROM dead_letters WHERE destination_id = $1 ORDER BY id',
    [destinationId],
  );
  return rows;
}

/** A minimal destination for router tests: POSTs each event as JSON, optionally batched. */
export function testHook(
  options: { batch?: { maxItems: number; maxBytes?: number } } = {},
): Destination<{ url: string }> {
  return defineDestination({
    type: 'testhook',
    kind: 'tool',
    integrationName: 'Test Hook',
    configSchema: z.object({ url: z.string() }),
    supportedTypes: EVENT_TYPES,
    transform: (event, context) => [
      {
        method: 'POST',
        url: context.config.url,
        headers: { 'content-type': 'application/json', authorization: 'Bearer secret-token' },
        body: JSON.stringify(event),
        batch: options.batch ? { key: context.config.url, item: event } : undefined,
      },
    ],
    batching: options.batch && {
      maxItems: options.batch.maxItems,
      maxBytes: options.batch.maxBytes ?? 1_000_000,
      combine: (items, first) => ({ ...first, body: JSON.stringify(items), batch: undefined }),
    },
  });
}

/**
 * A warehouse the processor stages events for, for tests that stop at the staging table: the
 * loader never runs in them, so it cannot connect.
 */
export function testWarehouse(): WarehouseDestination<{ url: string }> {
  return defineWarehouse({
    type: 'testwarehouse',
    kind: 'warehouse',
    integrationName: 'Test Warehouse',
    configSchema: z.object({ url: z.string() }),
    supportedTypes: EVENT_TYPES,
    dialect: {
      maxNameLength: 63,
      maxColumns: 1600,
      reservedWords: new Set(),
      canStore: () => true,
    },
    schemaOf: (_config, source) => source.id,
    syncIntervalSeconds: () => 60,
    connect: () => {
      throw new Error('the test warehouse cannot be connected to');
    },
  });
}
