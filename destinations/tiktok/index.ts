/**
 * The TikTok Events API destination: track and page events as TikTok events,
 * `POST https://business-api.tiktok.com/open_api/v1.3/event/track/` with the `Access-Token`
 * header and a JSON body `{"event_source": "web" | "app", "event_source_id": pixel code or TikTok
 * App ID, "test_event_code": …, "data": [events]}`. See tiktok-event.ts for the mapping.
 *
 * TikTok answers HTTP 200 to most requests and states the outcome in the body's `code`: 0 is
 * success; 40100 and 40133 (requests made too frequently) are retried after Retry-After or a
 * minute; 5xxxx system errors are retried with the router's backoff; any other code (a bad
 * parameter, an invalid token, no permission) aborts the request with TikTok's message. TikTok
 * judges a request as a whole, so a verdict is always for the whole request.
 *
 * Batching: up to 1,000 events a request, per event source; `maxEventsPerRequest` narrows it,
 * since one invalid event fails its whole request.
 */
import { z } from 'zod';
import { defineDestination, type DestinationResponse, type Verdict } from '../destination';
import { callingCode, count, eventNameMap, secret } from '../shared/config';
import { batchableRequest, excerpt, headerOf, jsonBodyOf, jsonRequest } from '../shared/requests';
import type { Batching } from '../shared/requests';
import { isRecord, numberOf, stringOf } from '../shared/values';
import { tiktokEventOf, type SourcedEvent } from './tiktok-event';

const ENDPOINT = 'https://business-api.tiktok.com/open_api/v1.3/event/track/';
const MAX_EVENTS = 1000;
/** TikTok states no byte limit; this keeps a request far from proxy limits. */
const MAX_BYTES = 2_000_000;
/** Requests made too frequently (app level, advertiser level). */
const RATE_LIMIT_CODES = new Set([40100, 40133]);
/** Codes from 50000 up are TikTok's system errors. */
const SYSTEM_ERROR_FROM = 50000;
const THROTTLE_PAUSE_MS = 60_000;

export const TikTokConfig = z
  .strictObject({
    /** An Events API access token (Events Manager → the pixel or app → Settings). */
    accessToken: secret(),
    /** The pixel code web events are reported under. */
    pixelCode: z.string().min(1).optional(),
    /** The TikTok App ID app events (from iOS and Android SDKs) are reported under. */
    appId: z.string().min(1).optional(),
    /** Events Manager's test event code: events show in Test Events only. */
    testEventCode: z.string().min(1).optional(),
    /** Prepended to phone numbers written without their country code (`1` for the US). */
    phoneCountryCode: callingCode().optional(),
    /** Segment event name → TikTok event name, before the standard mapping. */
    eventNames: eventNameMap(),
    /** The event page views are sent as; null: page views are not sent. */
    pageEvent: z.string().min(1).nullable().default('Pageview'),
    maxEventsPerRequest: count(MAX_EVENTS).default(MAX_EVENTS),
  })
  .refine((config) => config.pixelCode ?? config.appId, {
    message: 'a pixelCode (web events) or an appId (app events) is required',
    path: ['pixelCode'],
  });

export type TikTokConfig = z.infer<typeof TikTokConfig>;

/** Items carry their event source; a batch's items share it (it is part of the batch key). */
const batching: Batching<TikTokConfig> = {
  maxItems: MAX_EVENTS,
  maxBytes: MAX_BYTES,
  combine(items, first, { config }) {
    const sourced = items as SourcedEvent[];
    const body = {
      ...sourced[0].source,
      ...(config.testEventCode ? { test_event_code: config.testEventCode } : {}),
      data: sourced.map((item) => item.event),
    };
    return jsonRequest({ method: first.method, url: first.url, headers: first.headers }, body);
  },
};

export const tiktok = defineDestination<TikTokConfig>({
  type: 'tiktok_events',
  kind: 'tool',
  integrationName: 'TikTok Conversions',
  configSchema: TikTokConfig,
  supportedTypes: ['track', 'page'],
  transform(event, context) {
    const { config } = context;
    const sourced = tiktokEventOf(event, config);
    if (!sourced) return [];
    const target = {
      method: 'POST' as const,
      url: ENDPOINT,
      headers: { 'Access-Token': config.accessToken },
    };
    return [
      batchableRequest(batching, context, target, sourced, {
        keyParts: [sourced.source.event_source, sourced.source.event_source_id],
        limits: { maxItems: config.maxEventsPerRequest },
      }),
    ];
  },
  batching,
  interpretResponse: (response) => tiktokVerdict(response),
  credentialsOf: (config) => [config.accessToken],
});

/** The verdict on TikTok's answer, or undefined to leave it to the router's status rules. */
function tiktokVerdict(response: DestinationResponse): Verdict | undefined {
  const body = jsonBodyOf(response);
  if (!isRecord(body)) return undefined;
  const code = numberOf(body.code);
  if (code === undefined || code === 0) return undefined;
  const said = `(code ${code}): ${excerpt(stringOf(body.message) ?? '')}`;
  if (RATE_LIMIT_CODES.has(code)) {
    return {
      outcome: 'retry',
      reason: `TikTok rate limit ${said}`,
      afterMs: headerOf(response, 'retry-after') ? undefined : THROTTLE_PAUSE_MS,
    };
  }
  if (code >= SYSTEM_ERROR_FROM) return { outcome: 'retry', reason: `TikTok system error ${said}` };
  return { outcome: 'abort', reason: `TikTok rejected the request ${said}` };
}
