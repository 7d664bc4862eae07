/**
 * Prometheus metrics. Each app instance has its own registry (tests start several apps in one
 * process); stages receive the Metrics object and update the series they own.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'sluice_' });
  const registers = [registry];
  return {
    registry,
    httpRequests: new Counter({
      name: 'sluice_gateway_requests_total',
      help: 'Gateway requests by route kind and status code',
      labelNames: ['route', 'status'] as const,
      registers,
    }),
    eventsAccepted: new Counter({
      name: 'sluice_gateway_events_accepted_total',
      help: 'Events committed to the ingest queue (before deduplication)',
      labelNames: ['source'] as const,
      registers,
    }),
    eventsRejected: new Counter({
      name: 'sluice_gateway_events_rejected_total',
      help: 'Events refused by the gateway, by reason',
      labelNames: ['source', 'code'] as const,
      registers,
    }),
    eventsDroppedDoNotTrack: new Counter({
      name: 'sluice_gateway_events_do_not_track_total',
      help: 'Events not stored because the request carried DNT or Sec-GPC',
      labelNames: ['source'] as const,
      registers,
    }),
    ingestDuplicates: new Counter({
      name: 'sluice_ingest_duplicates_total',
      help: 'Events dropped because their messageId was already handed on (SDK retries)',
      registers,
    }),
    processorEvents: new Counter({
      name: 'sluice_processor_events_total',
      help: 'Ingest events handed on by the processor',
      registers,
    }),
    processorFailures: new Counter({
      name: 'sluice_processor_transformation_failures_total',
      help: 'Events a transformation failed on (see failed_events)',
      registers,
    }),
    processorLagSeconds: new Gauge({
      name: 'sluice_processor_lag_seconds',
      help: 'Age of the newest event in the last chunk handed on',
      registers,
    }),
    deliveries: new Counter({
      name: 'sluice_router_deliveries_total',
      help: 'Delivery attempts by destination and outcome (ok, retry, abort)',
      labelNames: ['destination', 'outcome'] as const,
      registers,
    }),
    deliveryRequestSeconds: new Histogram({
      name: 'sluice_router_request_seconds',
      help: 'Duration of requests to destinations',
      labelNames: ['destination'] as const,
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    deliveryLagSeconds: new Histogram({
      name: 'sluice_router_delivery_lag_seconds',
      help: 'Time from receipt by the gateway to successful delivery',
      labelNames: ['destination'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600],
      registers,
    }),
    warehouseLoadedRows: new Counter({
      name: 'sluice_warehouse_loaded_rows_total',
      help: 'Rows written to warehouse tables, by destination',
      labelNames: ['destination'] as const,
      registers,
    }),
    warehouseLoadFailures: new Counter({
      name: 'sluice_warehouse_load_failures_total',
      help: 'Warehouse loads that failed (the rows stay staged and are retried)',
      labelNames: ['destination'] as const,
      registers,
    }),
    warehouseStagedRows: new Gauge({
      name: 'sluice_warehouse_staged_rows',
      help: 'Rows staged and waiting for their warehouse, as of the last load',
      labelNames: ['destination'] as const,
      registers,
    }),
    warehouseOldestStagedSeconds: new Gauge({
      name: 'sluice_warehouse_oldest_staged_seconds',
      help: 'Age of the oldest row waiting for its warehouse, as of the last load',
      labelNames: ['destination'] as const,
      registers,
    }),
    warehouseLastLoadTimestamp: new Gauge({
      name: 'sluice_warehouse_last_load_timestamp_seconds',
      help: 'When the last successful load of the warehouse ended (Unix time)',
      labelNames: ['destination'] as const,
      registers,
    }),
    ingestWriteRows: new Histogram({
      name: 'sluice_ingest_write_rows',
      help: 'Rows per group-commit write',
      buckets: [1, 10, 50, 100, 250, 500, 1000, 2500, 5000],
      registers,
    }),
    ingestWriteSeconds: new Histogram({
      name: 'sluice_ingest_write_seconds',
      help: 'Duration of group-commit writes',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
