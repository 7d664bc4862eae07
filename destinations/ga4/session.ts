/**
 * GA4's session parameters (`session_id`, `engagement_time_msec`: without them GA4 shows no
 * user activity in Realtime), taken from what the SDK or the caller provides, never invented:
 * the event's GA4 options (`integrations["Google Analytics 4"]`, where a site running gtag puts
 * gtag's session, as `{ sessionId, engagementTimeMsec }`), then the event's own properties
 * (`session_id`, `engagement_time_msec`), then, for the session only, the session RudderStack's
 * SDKs keep in `context.sessionId`.
 */
import type { SegmentEvent } from '../../src/event';
import { compact, firstNumber, recordOf, type JsonObject } from '../shared/values';

/** How Segment names GA4 in `integrations`, and the key of the GA4 options an event carries. */
export const INTEGRATION_NAME = 'Google Analytics 4';

/** The first number, or non-empty string, as it is. */
function firstId(...values: unknown[]): string | number | undefined {
  for (const value of values) {
    if (typeof value === 'number' && Number.isFinite(value)) return value;
    if (typeof value === 'string' && value !== '') return value;
  }
  return undefined;
}

/** `session_id` and `engagement_time_msec` when the event provides them. */
export function sessionParams(event: SegmentEvent): JsonObject {
  const options = recordOf(event.integrations?.[INTEGRATION_NAME]);
  const properties = recordOf(event.properties);
  return compact({
    session_id: firstId(options.sessionId, properties.session_id, event.context?.sessionId),
    engagement_time_msec: firstNumber(options.engagementTimeMsec, properties.engagement_time_msec),
  });
}
