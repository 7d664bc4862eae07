/**
 * Prometheus metrics. Each app instance has its own registry (tests start several apps in one
 * process); stages receive the Metrics object and update the series they own.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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
      help: 'Events not stored because their messageId was already seen',
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
