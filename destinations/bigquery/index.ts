/**
 * The BigQuery warehouse: Segment's tables (src/warehouse/event-rows.ts) in a dataset per source,
 * partitioned by day on `received_at`, loaded with load jobs and MERGEd by `id`
 * (bigquery-warehouse.ts). The real `@google-cloud/bigquery` client does the talking;
 * `apiEndpoint` sends it to another server that speaks BigQuery's REST API.
 */
import { BigQuery } from '@google-cloud/bigquery';
import { EVENT_TYPES } from '../../src/event';
import { warehouseName } from '../../src/warehouse/naming';
import { defineWarehouse } from '../destination';
import { BigQueryConfig, clientOptionsOf } from './bigquery-config';
import { BIGQUERY_DIALECT } from './bigquery-dialect';
import { BigQueryWarehouse } from './bigquery-warehouse';

export const bigquery = defineWarehouse<BigQueryConfig>({
  type: 'bigquery',
  kind: 'warehouse',
  integrationName: 'BigQuery',
  configSchema: BigQueryConfig,
  supportedTypes: EVENT_TYPES,
  dialect: BIGQUERY_DIALECT,
  schemaOf(config, source) {
    return (
      config.dataset ??
      warehouseName(source.name ?? source.id, BIGQUERY_DIALECT) ??
      // A source named without a letter or digit ("•••") goes by its id, if that has one.
      warehouseName(source.id, BIGQUERY_DIALECT) ??
      'sluice'
    );
  },
  syncIntervalSeconds: (config) => config.syncIntervalSeconds,
  connect(config, { logger }) {
    const client = new BigQuery(clientOptionsOf(config));
    return new BigQueryWarehouse(client, config.projectId, config.location, logger);
  },
  credentialsOf(config) {
    const key = config.credentials;
    if (key === undefined) return [];
    // The key as configured (one JSON text) is not kept: its parts are what could show.
    return [
      key.private_key,
      ...(typeof key.private_key_id === 'string' ? [key.private_key_id] : []),
    ];
  },
});
