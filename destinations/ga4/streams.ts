/**
 * Which GA4 stream an event goes to, and the device id it is sent with: an event carrying the
 * Firebase SDK's app_instance_id goes to the app stream (`firebase_app_id` in the URL,
 * `app_instance_id` in the body) when one is configured; every other event to the web stream
 * (`measurement_id`, `client_id`). Each stream has its own API secret.
 */
import type { SegmentEvent } from '../../src/event';
import { DestinationMappingError } from '../destination';
import { withQuery } from '../shared/requests';
import { firstString, valueAt } from '../shared/values';
import type { Ga4Config } from './config';

const HOSTS = {
  global: 'https://www.google-analytics.com',
  eu: 'https://region1.google-analytics.com',
} as const;

/** The device id field of a request body: one of the two GA4 knows. */
export type Ga4Device = { client_id: string } | { app_instance_id: string };

export interface Ga4Stream {
  url: string;
  device: Ga4Device;
}

/** The gtag client id: at `clientIdPath`, else (if allowed) the userId. */
function clientIdOf(event: SegmentEvent, config: Ga4Config): string {
  const clientId =
    firstString(valueAt(event, config.clientIdPath)) ??
    (config.userIdAsClientId ? firstString(event.userId) : undefined);
  if (clientId === undefined) {
    throw new DestinationMappingError(
      `GA4 needs a client id, and the event has none at "${config.clientIdPath}"`,
    );
  }
  return clientId;
}

/** The stream an event is sent to; throws when the event has no id that stream takes. */
export function streamOf(event: SegmentEvent, config: Ga4Config): Ga4Stream {
  const collect = `${HOSTS[config.region]}/mp/collect`;
  if (config.firebaseAppId) {
    const appInstanceId = firstString(valueAt(event, config.appInstanceIdPath));
    if (appInstanceId !== undefined) {
      return {
        url: withQuery(collect, {
          firebase_app_id: config.firebaseAppId,
          api_secret: config.firebaseApiSecret,
        }),
        device: { app_instance_id: appInstanceId },
      };
    }
    if (!config.measurementId) {
      throw new DestinationMappingError(
        `GA4 app streams need an app_instance_id, and the event has none at "${config.appInstanceIdPath}"`,
      );
    }
  }
  return {
    url: withQuery(collect, {
      measurement_id: config.measurementId,
      api_secret: config.apiSecret,
    }),
    device: { client_id: clientIdOf(event, config) },
  };
}
