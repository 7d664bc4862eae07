/**
 * The Segment destination: events forwarded to Segment, or any service speaking its HTTP
 * tracking API, in `/v1/batch` requests authenticated by a write key.
 *
 * Timestamps: Sluice already corrected the client's clock (`timestamp` = receivedAt − (sentAt −
 * originalTimestamp)). A batch's `sentAt` would make the receiver correct again, and a request
 * retried an hour later would shift every event by that hour, so no `sentAt` is sent; the
 * receiver then takes `timestamp` as it is (and records it as originalTimestamp). `receivedAt`,
 * `sentAt` and `originalTimestamp` are left out: the receiver sets them. The messageId goes
 * unchanged, so the receiver's deduplication sees retries as the same event.
 */
import { z } from 'zod';
import { EVENT_TYPES } from '../../src/event';
import { defineDestination, DestinationMappingError } from '../destination';
import { httpUrl, secret } from '../shared/config';
import { basicAuth, batchableRequest, joinUrl, jsonBatching } from '../shared/requests';
import { omit } from '../shared/values';

/** Segment's HTTP API: 32 KB per event, 500 KB and 2500 events per batch. */
const MAX_EVENT_BYTES = 32 * 1024;
const MAX_EVENTS = 2500;
const MAX_BYTES = 500 * 1000 - 8_192;

/** Fields the receiving end sets itself. */
const RECEIVER_FIELDS = ['receivedAt', 'sentAt', 'originalTimestamp'];

export const SegmentConfig = z.strictObject({
  writeKey: secret(),
  /** Segment's US endpoint by default; EU workspaces use https://events.eu1.segmentapis.com. */
  endpoint: httpUrl().default('https://api.segment.io'),
  path: z
    .string()
    .regex(/^\/\S*$/, 'must start with /')
    .default('/v1/batch'),
});

export type SegmentConfig = z.infer<typeof SegmentConfig>;

const batching = jsonBatching<SegmentConfig>({
  maxItems: MAX_EVENTS,
  maxBytes: MAX_BYTES,
  envelope: (items) => ({ batch: items }),
});

export const segment = defineDestination<SegmentConfig>({
  type: 'segment',
  kind: 'tool',
  integrationName: 'Segment',
  configSchema: SegmentConfig,
  supportedTypes: EVENT_TYPES,
  transform(event, context) {
    const { config } = context;
    const forwarded = omit(event, RECEIVER_FIELDS);
    const bytes = Buffer.byteLength(JSON.stringify(forwarded), 'utf8');
    if (bytes > MAX_EVENT_BYTES) {
      throw new DestinationMappingError(
        `the event is ${bytes} bytes; Segment accepts at most ${MAX_EVENT_BYTES}`,
      );
    }
    const target = {
      method: 'POST' as const,
      url: joinUrl(config.endpoint, config.path),
      headers: { Authorization: basicAuth(config.writeKey, '') },
    };
    return [batchableRequest(batching, context, target, forwarded)];
  },
  batching,
  credentialsOf: (config) => [config.writeKey],
});
