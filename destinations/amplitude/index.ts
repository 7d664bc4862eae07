/**
 * The Amplitude destination: every event type but alias goes to one endpoint, the HTTP V2 API
 * (or, by config, the Batch Event Upload API, which takes the same JSON and throttles per user
 * less), in the US or EU data centre. Identify and group become `$identify` / `$groupidentify`
 * events there rather than calls to the separate Identify and Group Identify APIs, so a user's
 * property updates and events travel in one request and keep their order.
 */
import { z } from 'zod';
import { defineDestination } from '../destination';
import { secret, viewNames } from '../shared/config';
import { batchableRequest, headerOf, jsonBatching, jsonBodyOf } from '../shared/requests';
import { isRecord } from '../shared/values';
import { amplitudeEventsOf } from './map-event';

const BASE_URLS = { us: 'https://api2.amplitude.com', eu: 'https://api.eu.amplitude.com' } as const;
const PATHS = { httpapi: '/2/httpapi', batch: '/batch' } as const;

/**
 * HTTP V2 takes fewer than 2000 events and under 1 MB per request (Batch Event Upload: 20 MB).
 * An item holds at most two events (a group call), hence 999 items; the byte limit is the
 * smaller of the two APIs', less room for the envelope.
 */
const MAX_ITEMS = 999;
const MAX_BYTES = 1_000_000 - 16_384;

/** Amplitude asks senders to pause a throttled user or device for 30 s. */
const THROTTLE_PAUSE_MS = 30_000;
/** A user or device over its daily event quota stays throttled for hours. */
const DAILY_QUOTA_PAUSE_MS = 60 * 60_000;

export const AmplitudeConfig = z.strictObject({
  apiKey: secret(),
  residency: z.enum(['us', 'eu']).default('us'),
  /** `batch`: the Batch Event Upload API, for high-volume users and backfills. */
  api: z.enum(['httpapi', 'batch']).default('httpapi'),
  /** Amplitude's min_id_length: shorter user and device ids are dropped (its default is 5). */
  minIdLength: z.number().int().min(1).max(100).default(5),
  pageNames: viewNames('Page'),
  screenNames: viewNames('Screen'),
  /** The group type a Segment group call's groupId belongs to (Accounts add-on). */
  groupType: z.string().min(1).default('company'),
});

export type AmplitudeConfig = z.infer<typeof AmplitudeConfig>;

const batching = jsonBatching<AmplitudeConfig>({
  maxItems: MAX_ITEMS,
  maxBytes: MAX_BYTES,
  envelope: (items, { config }) => ({
    api_key: config.apiKey,
    events: items.flat(),
    options: { min_id_length: config.minIdLength },
  }),
});

export const amplitude = defineDestination<AmplitudeConfig>({
  type: 'amplitude',
  kind: 'tool',
  integrationName: 'Amplitude',
  configSchema: AmplitudeConfig,
  supportedTypes: ['identify', 'track', 'page', 'screen', 'group'],
  transform(event, context) {
    const { config } = context;
    const events = amplitudeEventsOf(event, config);
    if (events.length === 0) return [];
    const url = `${BASE_URLS[config.residency]}${PATHS[config.api]}`;
    return [batchableRequest(batching, context, { method: 'POST', url, headers: {} }, events)];
  },
  batching,
  credentialsOf: (config) => [config.apiKey],
  interpretResponse(response) {
    if (response.status !== 429) return undefined;
    // 429 lists the throttled users and devices; a daily quota lasts longer than a burst.
    const body = jsonBodyOf(response);
    const overQuota =
      isRecord(body) &&
      [body.exceeded_daily_quota_users, body.exceeded_daily_quota_devices].some(
        (list) => isRecord(list) && Object.keys(list).length > 0,
      );
    return {
      outcome: 'retry',
      reason: overQuota
        ? 'Amplitude: a user or device exceeded its daily event quota'
        : 'Amplitude throttled a user or device in the request',
      // A Retry-After header, when Amplitude sends one, is honoured by the router instead.
      afterMs: headerOf(response, 'retry-after')
        ? undefined
        : overQuota
          ? DAILY_QUOTA_PAUSE_MS
          : THROTTLE_PAUSE_MS,
    };
  },
});
