/**
 * The Customer.io destination, through the Journeys Track API v1 (docs.customer.io/api/track/),
 * US or EU region, Basic auth with the site id and API key:
 * identify → `PUT /customers/{identifier}`; track, page, screen → `POST
 * /customers/{identifier}/events` (type event, page or screen), or `POST /events` with
 * `anonymous_id` for anonymous people (linked to the person when an identify carries the same
 * anonymous_id); alias → `POST /merge_customers`; device tokens → `PUT
 * /customers/{identifier}/devices` and `DELETE /customers/{identifier}/devices/{token}` (see
 * devices.ts). A person's identifier is their userId, else (by default) their email trait, as
 * Customer.io identifies people by id or email in workspaces that allow both (its default).
 * Event names stay within Customer.io's 100 bytes (names.ts).
 *
 * v1 rather than the v2 `/batch` endpoint: v1 gives every event its own status, and its rate
 * limit (100 requests/s) is the router's throttle to keep. v2 reports a failed item inside a
 * successful batch response, which a per-item verdict (interpretResponse) could now express.
 */
import { z } from 'zod';
import type { SegmentEvent } from '../../src/event';
import {
  defineDestination,
  DestinationMappingError,
  type DestinationRequest,
  type HttpMethod,
} from '../destination';
import { secret } from '../shared/config';
import { eventNameOf, pageOf, personOf } from '../shared/events';
import { basicAuth, jsonRequest, type RequestTarget } from '../shared/requests';
import { renameTraits, userTraits } from '../shared/traits';
import { epochSeconds, firstString, recordOf, type JsonObject } from '../shared/values';
import { deviceEffectOf, type DeviceChange } from './devices';
import { eventName, pageName } from './names';

const HOSTS = { us: 'https://track.customer.io', eu: 'https://track-eu.customer.io' } as const;

export const CustomerIoConfig = z.strictObject({
  siteId: secret(),
  apiKey: secret(),
  /** The workspace's data centre; sending EU data to the US host routes it through the US. */
  region: z.enum(['us', 'eu']).default('us'),
  /**
   * People without a userId are identified by their `email` trait (the workspace allows email
   * identifiers, Customer.io's default for new workspaces); false: only by userId, and events
   * of people without one are anonymous.
   */
  identifyByEmail: z.boolean().default(true),
});

export type CustomerIoConfig = z.infer<typeof CustomerIoConfig>;

function target(config: CustomerIoConfig, method: HttpMethod, path: string): RequestTarget {
  return {
    method,
    url: `${HOSTS[config.region]}/api/v1${path}`,
    headers: { Authorization: basicAuth(config.siteId, config.apiKey) },
  };
}

function customerPath(identifier: string): string {
  return `/customers/${encodeURIComponent(identifier)}`;
}

/** Who an event is about in Customer.io: an identifier, and the anonymousId it came with. */
interface Person {
  identifier?: string;
  anonymousId?: string;
}

function personIn(event: SegmentEvent, config: CustomerIoConfig): Person {
  const { userId, anonymousId } = personOf(event, 'Customer.io');
  const email = config.identifyByEmail ? firstString(userTraits(event).email) : undefined;
  return { identifier: userId ?? email, anonymousId };
}

/** Person attributes: traits as sent, `created_at` in Unix seconds as Customer.io expects. */
function attributesOf(event: SegmentEvent, anonymousId: string | undefined): JsonObject {
  // `id` would be read as a new identifier for the person; the path already names them.
  const attributes = renameTraits(userTraits(event), { createdAt: 'created_at', id: null });
  if (attributes.created_at !== undefined) {
    attributes.created_at = epochSeconds(attributes.created_at) ?? attributes.created_at;
  }
  return anonymousId ? { ...attributes, anonymous_id: anonymousId } : attributes;
}

/** The name and type of the Customer.io event a track, page or screen becomes. */
function activityOf(event: SegmentEvent): { name: string; type?: 'page' | 'screen' } {
  if (event.type === 'track') {
    const name = eventName(eventNameOf(event));
    // Customer.io trims names and refuses blank ones ("event name must not be blank").
    if (!name) throw new DestinationMappingError("the track event's name is blank");
    return { name };
  }
  // Page and screen events are named after what was viewed: the URL, or the screen's name.
  const url = event.type === 'page' ? pageOf(event).url : undefined;
  const viewed = firstString(event.name, event.properties?.name);
  const name = url ? pageName(url) : viewed && eventName(viewed);
  if (!name) {
    throw new DestinationMappingError(
      `Customer.io names ${event.type} views after the ${event.type === 'page' ? 'URL' : 'screen name'}, and this ${event.type} has none`,
    );
  }
  return { name, type: event.type === 'page' ? 'page' : 'screen' };
}

function activityRequest(
  event: SegmentEvent,
  config: CustomerIoConfig,
  { identifier, anonymousId }: Person,
): DestinationRequest {
  const { name, type } = activityOf(event);
  // A page named after less than its URL keeps the whole URL (its campaign parameters) in data.
  const url = type === 'page' ? pageOf(event).url : undefined;
  const body: JsonObject = {
    name,
    ...(type ? { type } : {}),
    data: { ...(url ? { url } : {}), ...recordOf(event.properties) },
    timestamp: epochSeconds(event.timestamp),
  };
  if (identifier) {
    return jsonRequest(target(config, 'POST', `${customerPath(identifier)}/events`), body);
  }
  return jsonRequest(target(config, 'POST', '/events'), { ...body, anonymous_id: anonymousId });
}

function deviceRequest(
  config: CustomerIoConfig,
  identifier: string,
  change: DeviceChange,
): DestinationRequest {
  const devices = `${customerPath(identifier)}/devices`;
  if (change.kind === 'add') {
    return jsonRequest(target(config, 'PUT', devices), { device: change.device });
  }
  const { method, url, headers } = target(
    config,
    'DELETE',
    `${devices}/${encodeURIComponent(change.token)}`,
  );
  return { method, url, headers: { ...headers } };
}

/**
 * A person's requests in the order they must succeed: the person before their device (identify),
 * the device change before the event that reports it, since a device request is idempotent and
 * may be repeated by a retry, where a repeated event would be logged twice.
 */
function requestsOf(event: SegmentEvent, config: CustomerIoConfig): DestinationRequest[] {
  const person = personIn(event, config);
  const { identifier } = person;
  const effect = deviceEffectOf(event, identifier !== undefined);
  const device = effect.change && deviceRequest(config, identifier!, effect.change);
  if (event.type === 'identify') {
    // The Track API keeps no profiles of people without an identifier: their traits have nowhere to go.
    if (!identifier) return [];
    const body = attributesOf(event, person.anonymousId);
    const customer = jsonRequest(target(config, 'PUT', customerPath(identifier)), body);
    return device ? [customer, device] : [customer];
  }
  const activity = effect.sendEvent ? [activityRequest(event, config, person)] : [];
  return device ? [device, ...activity] : activity;
}

export const customerio = defineDestination<CustomerIoConfig>({
  type: 'customerio',
  kind: 'tool',
  integrationName: 'Customer.io',
  configSchema: CustomerIoConfig,
  supportedTypes: ['identify', 'track', 'page', 'screen', 'alias'],
  transform(event, { config }) {
    switch (event.type) {
      case 'identify':
      case 'track':
      case 'page':
      case 'screen':
        return requestsOf(event, config);
      case 'alias':
        return [
          jsonRequest(target(config, 'POST', '/merge_customers'), {
            primary: { id: event.userId },
            secondary: { id: event.previousId },
          }),
        ];
      default:
        return [];
    }
  },
  credentialsOf: (config) => [config.siteId, config.apiKey],
});
