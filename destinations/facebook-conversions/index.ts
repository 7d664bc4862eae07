/**
 * The Meta (Facebook) Conversions API destination: track and page events as server events,
 * `POST https://graph.facebook.com/{apiVersion}/{pixelId}/events?access_token=…` with a JSON body
 * `{"data": [server events], "test_event_code": …}` (developers.facebook.com/docs/marketing-api/
 * conversions-api/using-the-api). See server-event.ts for the mapping, graph-errors.ts for how
 * Meta's answers are judged.
 *
 * Batching: Meta takes up to 1,000 events in `data`, and rejects the whole request when one of
 * them is invalid, without saying which. `maxEventsPerRequest` trades throughput for how many
 * events one invalid event takes down with it.
 */
import { z } from 'zod';
import { defineDestination } from '../destination';
import { callingCode, count, eventNameMap, secret } from '../shared/config';
import { batchableRequest, jsonBatching, withQuery } from '../shared/requests';
import { graphVerdict } from './graph-errors';
import { ACTION_SOURCES, serverEventOf } from './server-event';

/** Meta's documented limit of events in one request's `data`. */
const MAX_EVENTS = 1000;
/** Meta states no byte limit for /events; this keeps a request well within the Graph API's. */
const MAX_BYTES = 2_000_000;

export const FacebookConversionsConfig = z.strictObject({
  /** The pixel (dataset) id the events belong to. */
  pixelId: z.string().regex(/^\d+$/, 'must be the numeric pixel (dataset) id'),
  /** A Conversions API access token generated for the pixel (Events Manager → Settings). */
  accessToken: secret(),
  /** The Graph API version; each is supported for at least two years. */
  apiVersion: z
    .string()
    .regex(/^v\d+\.\d+$/, 'must look like v21.0')
    .default('v21.0'),
  /** Where conversions happen, for events that are not from an app and do not say. */
  actionSource: z.enum(ACTION_SOURCES).default('website'),
  /** Events Manager's test event code: events show in Test Events and count nowhere else. */
  testEventCode: z.string().min(1).optional(),
  /** Prepended to phone numbers written without their country code (`1` for the US). */
  phoneCountryCode: callingCode().optional(),
  /** Segment event name → Meta event name, before the standard mapping (`"Lead Captured": "Lead"`). */
  eventNames: eventNameMap(),
  maxEventsPerRequest: count(MAX_EVENTS).default(MAX_EVENTS),
});

export type FacebookConversionsConfig = z.infer<typeof FacebookConversionsConfig>;

const batching = jsonBatching<FacebookConversionsConfig>({
  maxItems: MAX_EVENTS,
  maxBytes: MAX_BYTES,
  envelope: (items, { config }) =>
    config.testEventCode ? { data: items, test_event_code: config.testEventCode } : { data: items },
});

export const facebookConversions = defineDestination<FacebookConversionsConfig>({
  type: 'facebook_conversions',
  kind: 'tool',
  integrationName: 'Facebook Conversions API',
  configSchema: FacebookConversionsConfig,
  supportedTypes: ['track', 'page'],
  transform(event, context) {
    const { config } = context;
    const serverEvent = serverEventOf(event, config);
    if (!serverEvent) return [];
    const url = withQuery(
      `https://graph.facebook.com/${config.apiVersion}/${config.pixelId}/events`,
      { access_token: config.accessToken },
    );
    return [
      batchableRequest(batching, context, { method: 'POST', url, headers: {} }, serverEvent, {
        limits: { maxItems: config.maxEventsPerRequest },
      }),
    ];
  },
  batching,
  interpretResponse: (response) => graphVerdict(response),
  credentialsOf: (config) => [config.accessToken],
});
