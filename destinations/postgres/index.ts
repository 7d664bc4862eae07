/**
 * The `postgres` warehouse: events loaded into Segment's tables (src/warehouse/event-rows.ts) in
 * a PostgreSQL database of the user's, one schema per source unless the config names one.
 * Names follow PostgreSQL's limits (63-byte names, 1,600 columns a table) and its reserved words.
 */
import { z } from 'zod';
import { EVENT_TYPES } from '../../src/event';
import { warehouseName } from '../../src/warehouse/naming';
import { defineWarehouse } from '../destination';
import { secret } from '../shared/config';
import { POSTGRES_DIALECT } from './dialect';
import { PostgresWarehouse } from './postgres-warehouse';

export const PostgresConfig = z.strictObject({
  /** postgres://user:password@host:port/database */
  connectionString: secret().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL'),
  /** Every source's events go to this schema; by default each source's to its own. */
  schema: z.string().min(1).optional(),
  syncIntervalSeconds: z.number().int().min(1).max(86_400).default(60),
});

export type PostgresConfig = z.infer<typeof PostgresConfig>;

export const postgres = defineWarehouse<PostgresConfig>({
  type: 'postgres',
  kind: 'warehouse',
  integrationName: 'Postgres',
  configSchema: PostgresConfig,
  supportedTypes: EVENT_TYPES,
  dialect: POSTGRES_DIALECT,
  schemaOf: (config, source) =>
    warehouseName(config.schema ?? source.name ?? source.id, POSTGRES_DIALECT) ?? '_source',
  syncIntervalSeconds: (config) => config.syncIntervalSeconds,
  connect: (config, context) => new PostgresWarehouse(config.connectionString, context.logger),
  credentialsOf: (config) => {
    const password = new URL(config.connectionString).password;
    return [config.connectionString, ...(password ? [decodeURIComponent(password)] : [])];
  },
});
