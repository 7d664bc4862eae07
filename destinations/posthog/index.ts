/**
 * The PostHog destination: events to the capture API's `/batch/` endpoint of PostHog Cloud (US
 * or EU) or a self-hosted instance (posthog.com/docs/api/capture). Pages become `$pageview`,
 * screens `$screen`, identify `$identify` with `$set` (and `$anon_distinct_id`, which merges the
 * anonymous person in), group `$groupidentify`, alias `$create_alias`; every other event names
 * its groups in `$groups`.
 */
import { z } from 'zod';
import { EVENT_TYPES, type SegmentEvent } from '../../src/event';
import { defineDestination } from '../destination';
import { httpUrl, secret } from '../shared/config';
import { userTraits } from '../shared/traits';
import { eventNameOf, fieldsFrom, pageOf, personOf } from '../shared/events';
import { batchableRequest, joinUrl, jsonBatching } from '../shared/requests';
import { compact, firstString, recordOf, uuidOf, valueAt, type JsonObject } from '../shared/values';

/** /batch/ has no event count limit and takes request bodies under 20 MB. */
const MAX_EVENTS = 1000;
const MAX_BYTES = 20 * 1000 * 1000 - 65_536;

/** PostHog's own property names for what the Segment context states. */
const CONTEXT_PROPERTIES = {
  $ip: 'context.ip',
  $lib: 'context.library.name',
  $lib_version: 'context.library.version',
  $current_url: 'context.page.url',
  $pathname: 'context.page.path',
  $referrer: 'context.page.referrer',
  $os: 'context.os.name',
  $os_version: 'context.os.version',
  $app_name: 'context.app.name',
  $app_version: 'context.app.version',
  $app_build: 'context.app.build',
  $device_manufacturer: 'context.device.manufacturer',
  $device_model: 'context.device.model',
  $screen_width: 'context.screen.width',
  $screen_height: 'context.screen.height',
  $timezone: 'context.timezone',
  $locale: 'context.locale',
  $device_id: 'context.device.id',
  // Read by PostHog's User Agent Populator transformation ($browser, $os, $device_type).
  $useragent: 'context.userAgent',
  utm_source: 'context.campaign.source',
  utm_medium: 'context.campaign.medium',
  utm_campaign: 'context.campaign.name',
  utm_term: 'context.campaign.term',
  utm_content: 'context.campaign.content',
} as const;

export const PostHogConfig = z.strictObject({
  /** The project API key (phc_...), which may only write events. */
  apiKey: secret(),
  /** https://us.i.posthog.com, https://eu.i.posthog.com or a self-hosted instance. */
  host: httpUrl().default('https://us.i.posthog.com'),
  /** The group type of Segment group calls (PostHog group analytics). */
  groupType: z.string().min(1).default('company'),
});

export type PostHogConfig = z.infer<typeof PostHogConfig>;

const batching = jsonBatching<PostHogConfig>({
  maxItems: MAX_EVENTS,
  maxBytes: MAX_BYTES,
  envelope: (items, { config }) => ({ api_key: config.apiKey, batch: items }),
});

/** An event as PostHog captures it. */
interface Capture {
  event: string;
  distinct_id: string | undefined;
  properties: JsonObject;
}

/** PostHog's event name, distinct_id and properties for an event. */
function captureOf(event: SegmentEvent, config: PostHogConfig): Capture {
  const properties = recordOf(event.properties);
  const context = fieldsFrom(event, CONTEXT_PROPERTIES);
  const { userId, anonymousId } =
    event.type === 'group'
      ? { userId: undefined, anonymousId: undefined }
      : personOf(event, 'PostHog');
  const distinctId = userId ?? anonymousId;
  switch (event.type) {
    case 'track':
      return {
        event: eventNameOf(event),
        distinct_id: distinctId,
        properties: { ...context, ...properties },
      };
    case 'page': {
      const page = pageOf(event);
      const pageProperties = compact({
        $current_url: page.url,
        $pathname: page.path,
        $referrer: page.referrer,
        title: page.title,
      });
      return {
        event: '$pageview',
        distinct_id: distinctId,
        properties: { ...context, ...properties, ...pageProperties },
      };
    }
    case 'screen':
      return {
        event: '$screen',
        distinct_id: distinctId,
        properties: {
          ...context,
          ...properties,
          // Mobile SDKs send the screen's name as `name`; some only as `properties.name`.
          ...compact({ $screen_name: firstString(event.name, properties.name) }),
        },
      };
    case 'identify':
      return {
        event: '$identify',
        distinct_id: distinctId,
        properties: {
          ...context,
          $set: userTraits(event),
          ...(userId && anonymousId ? { $anon_distinct_id: anonymousId } : {}),
        },
      };
    case 'group':
      return {
        event: '$groupidentify',
        // PostHog's SDKs capture group updates under a distinct_id made from the group.
        distinct_id: `$${config.groupType}_${event.groupId}`,
        properties: {
          ...context,
          $group_type: config.groupType,
          $group_key: event.groupId,
          $group_set: recordOf(event.traits),
        },
      };
    case 'alias':
      return {
        event: '$create_alias',
        distinct_id: event.userId,
        properties: { ...context, alias: event.previousId },
      };
  }
}

/**
 * `$groups`, by which group analytics counts an event for its groups: PostHog keeps no group of a
 * person, so every event names its own (its SDKs add the groups of `posthog.group` calls to each
 * event). Segment's SDKs name the account of a call in `context.groupId`: it counts under the
 * configured group type, beside any `$groups` the event's properties carry. A group call's own
 * `$groupidentify` names its group as `$group_key` instead.
 */
function withGroups(capture: Capture, event: SegmentEvent, groupType: string): Capture {
  if (event.type === 'group') return capture;
  const groupId = firstString(valueAt(event.context, 'groupId'));
  const groups = {
    ...(groupId === undefined ? {} : { [groupType]: groupId }),
    ...recordOf(capture.properties.$groups),
  };
  if (Object.keys(groups).length === 0) return capture;
  return { ...capture, properties: { ...capture.properties, $groups: groups } };
}

export const posthog = defineDestination<PostHogConfig>({
  type: 'posthog',
  kind: 'tool',
  integrationName: 'PostHog',
  configSchema: PostHogConfig,
  supportedTypes: EVENT_TYPES,
  transform(event, context) {
    const { config } = context;
    const item = {
      ...withGroups(captureOf(event, config), event, config.groupType),
      timestamp: event.timestamp,
      // The event's id: a retry sends the same uuid (the messageId's, or one derived from it).
      uuid: uuidOf(event.messageId),
    };
    const url = joinUrl(config.host, '/batch/');
    return [batchableRequest(batching, context, { method: 'POST', url, headers: {} }, item)];
  },
  batching,
  credentialsOf: (config) => [config.apiKey],
});
