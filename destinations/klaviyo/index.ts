/**
 * The Klaviyo destination, through Klaviyo's dated REST API (a.klaviyo.com/api, the `revision`
 * header, a private API key): identify creates or updates the user's profile
 * (`POST /api/profile-import`, or batched into bulk profile import jobs), track creates metric
 * events (`POST /api/events`), Segment's e-commerce spec events as Klaviyo's e-commerce metrics.
 *
 * Events go one per request: Create Event deduplicates by `unique_id` (retries are safe) and
 * answers each event synchronously, where the bulk event job would fail a whole job over one
 * repeated unique_id. Profiles go one per request by default (Klaviyo advises its synchronous
 * profile API for small numbers of profiles); `profileImport: bulk` batches them into jobs of up
 * to 10,000, whose per-profile errors Klaviyo reports later, on the job, not in the response.
 */
import { z } from 'zod';
import type { SegmentEvent } from '../../src/event';
import {
  defineDestination,
  DestinationMappingError,
  type DestinationRequest,
  type ResponseVerdict,
  type TransformContext,
  type Verdict,
} from '../destination';
import { secret } from '../shared/config';
import { eventNameOf, personOf } from '../shared/events';
import {
  batchableRequest,
  excerpt,
  jsonBatching,
  jsonBodyOf,
  jsonRequest,
  type RequestTarget,
} from '../shared/requests';
import { isRecord, recordOf, stringOf, type JsonObject } from '../shared/values';
import { indexIn, perItemVerdict } from '../shared/verdicts';
import { metricEventsOf, type MetricEvent } from './metrics';
import { hasIdentifier, profileOf } from './profile';

const HOST = 'https://a.klaviyo.com';
/** The current stable revision (Klaviyo's changelog, October 2026). */
export const CURRENT_REVISION = '2026-10-15';
/** Bulk Import Profiles: "up to 10,000 profiles per request", "payload size is 5MB". */
const MAX_JOB_PROFILES = 10_000;
const MAX_JOB_BYTES = 5_000_000 - 100_000;
/** Create or Update Profile and Bulk Import Profiles: 100KB a profile. */
const MAX_PROFILE_BYTES = 100_000;

export const KlaviyoConfig = z.strictObject({
  /** A private API key with the profiles:write and events:write scopes (lists:write for bulk). */
  privateApiKey: secret(),
  /** The API revision every request names (`YYYY-MM-DD[.suffix]`). */
  revision: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}(\.[a-z0-9]+)?$/, 'must be a revision date (YYYY-MM-DD)')
    .default(CURRENT_REVISION),
  /** Profiles from identify: one Create or Update Profile each, or bulk import jobs. */
  profileImport: z.enum(['single', 'bulk']).default('single'),
  /** Segment's e-commerce events as Klaviyo's e-commerce metrics (Placed Order, ...). */
  ecommerceMetrics: z.boolean().default(true),
});

export type KlaviyoConfig = z.infer<typeof KlaviyoConfig>;

type Context = TransformContext<KlaviyoConfig>;

/** A bulk import job of the profile resources the requests carry. */
const batching = jsonBatching<KlaviyoConfig>({
  maxItems: MAX_JOB_PROFILES,
  maxBytes: MAX_JOB_BYTES,
  envelope: (profiles) => ({
    data: { type: 'profile-bulk-import-job', attributes: { profiles: { data: profiles } } },
  }),
});

function target(config: KlaviyoConfig, path: string): RequestTarget {
  return {
    method: 'POST',
    url: `${HOST}${path}`,
    headers: {
      Authorization: `Klaviyo-API-Key ${config.privateApiKey}`,
      revision: config.revision,
      Accept: 'application/vnd.api+json',
      'Content-Type': 'application/vnd.api+json',
    },
  };
}

/** identify → the user's profile; nothing when it has no identifier profiles take. */
function profileRequests(event: SegmentEvent, context: Context): DestinationRequest[] {
  const attributes = profileOf(event, { anonymousId: false });
  // Create or Update Profile finds profiles by external_id, email or phone_number only.
  if (!hasIdentifier(attributes)) return [];
  const profile = { type: 'profile', attributes };
  const bytes = Buffer.byteLength(JSON.stringify(profile));
  if (bytes > MAX_PROFILE_BYTES) {
    throw new DestinationMappingError(
      `the profile is ${bytes} bytes; Klaviyo takes at most ${MAX_PROFILE_BYTES}`,
    );
  }
  const { config } = context;
  if (config.profileImport === 'bulk') {
    return [
      batchableRequest(batching, context, target(config, '/api/profile-bulk-import-jobs'), profile),
    ];
  }
  return [jsonRequest(target(config, '/api/profile-import'), { data: profile })];
}

/** A Create Event body: the metric by name, the user's profile, the event's time. */
function createEvent(metric: MetricEvent, event: SegmentEvent, profile: JsonObject): JsonObject {
  return {
    data: {
      type: 'event',
      attributes: {
        properties: metric.properties,
        time: event.timestamp,
        ...(metric.value !== undefined ? { value: metric.value } : {}),
        ...(metric.currency ? { value_currency: metric.currency } : {}),
        unique_id: metric.uniqueId,
        metric: { data: { type: 'metric', attributes: { name: metric.name } } },
        profile: { data: { type: 'profile', attributes: profile } },
      },
    },
  };
}

function eventRequests(event: SegmentEvent, { config }: Context): DestinationRequest[] {
  personOf(event, 'Klaviyo'); // throws for an event with neither userId nor anonymousId
  const profile = profileOf(event, { anonymousId: true });
  return metricEventsOf(event, eventNameOf(event), config.ecommerceMetrics).map((metric) =>
    jsonRequest(target(config, '/api/events'), createEvent(metric, event, profile)),
  );
}

export const klaviyo = defineDestination<KlaviyoConfig>({
  type: 'klaviyo',
  kind: 'tool',
  integrationName: 'Klaviyo',
  configSchema: KlaviyoConfig,
  supportedTypes: ['identify', 'track'],
  transform(event, context) {
    if (event.type === 'identify') return profileRequests(event, context);
    if (event.type === 'track') return eventRequests(event, context);
    return [];
  },
  batching,
  credentialsOf: (config) => [config.privateApiKey],
  interpretResponse(response, sent) {
    // Only an import job of several profiles is judged per profile; the rest by status.
    if (sent.items.length < 2 || response.status < 400 || response.status >= 500) return undefined;
    if (response.status === 429) return undefined;
    return refusedProfiles(jsonBodyOf(response), sent.items.length);
  },
});

/** `/data/attributes/profiles/data/3/attributes/email` → 3. */
const PROFILE_POINTER = /^\/data\/attributes\/profiles\/data\/(\d+)(?:\/|$)/;

/**
 * A refused import job whose JSON:API errors point at profiles of the job (`source.pointer`):
 * those profiles are dead-lettered with Klaviyo's words; Klaviyo created no job, so the others are
 * sent again without them. An error about the job itself (no pointer into its profiles) leaves
 * the request to the router's status rule.
 */
function refusedProfiles(body: unknown, count: number): ResponseVerdict | undefined {
  const errors = isRecord(body) && Array.isArray(body.errors) ? body.errors : [];
  const refused = new Map<number, string[]>();
  for (const error of errors) {
    const { title, detail, source } = recordOf(error);
    const pointer = stringOf(recordOf(source).pointer) ?? '';
    const index = indexIn(Number(PROFILE_POINTER.exec(pointer)?.[1] ?? NaN), count);
    if (index === undefined) return undefined;
    const text = [stringOf(title), stringOf(detail)].filter(Boolean).join(': ');
    refused.set(index, [...(refused.get(index) ?? []), text]);
  }
  if (refused.size === 0) return undefined;
  const verdicts = new Map<number, Verdict>(
    [...refused].map(([index, texts]) => [
      index,
      { outcome: 'abort', reason: `Klaviyo refused the profile: ${excerpt(texts.join('; '))}` },
    ]),
  );
  return perItemVerdict(count, verdicts, {
    outcome: 'retry',
    reason: 'Klaviyo refused the import job for other profiles in it; sent again without them',
  });
}
