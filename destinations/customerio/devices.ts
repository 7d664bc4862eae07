/**
 * A person's mobile devices in Customer.io (Track API v1 "Add or update a customer device" and
 * "Delete a customer device"), for push notifications. Which events change them:
 *
 * - identify, and Segment's `Application Installed`, `Application Opened` and `Application
 *   Updated`, carrying a device token: add or update the device (Customer.io's SDKs associate the
 *   device with a person when they identify them, and note it as used when the app opens);
 * - `Application Uninstalled` with a token: delete the device;
 * - Customer.io's own semantic events `Device Created or Updated` and `Device Deleted` do only
 *   that, and fail without a token (Customer.io requires one).
 *
 * The token is Segment's `context.device.token`, else `properties.device.token` (where
 * Customer.io's example of its semantic event puts it). The platform, which Customer.io requires
 * to be `ios` or `android`, is `context.device.type`, else `properties.device.type`, else
 * `context.os.name`; a device on any other platform is not added.
 */
import type { SegmentEvent } from '../../src/event';
import { DestinationMappingError } from '../destination';
import { epochSeconds, firstString, stringOf, valueAt, type JsonObject } from '../shared/values';

export type DeviceChange = { kind: 'add'; device: JsonObject } | { kind: 'delete'; token: string };

/** What an event does to its person's devices, and whether it is also sent as an event. */
export interface DeviceEffect {
  change?: DeviceChange;
  /** False for Customer.io's semantic device events, which are operations, not activity. */
  sendEvent: boolean;
}

const ADDING = new Set(['Application Installed', 'Application Opened', 'Application Updated']);
const DELETING = new Set(['Application Uninstalled']);
const SEMANTIC = { 'Device Created or Updated': 'add', 'Device Deleted': 'delete' } as const;

const PLATFORMS: Record<string, 'ios' | 'android'> = {
  ios: 'ios',
  ipados: 'ios',
  'iphone os': 'ios',
  android: 'android',
};

function tokenOf(event: SegmentEvent): string | undefined {
  return firstString(
    valueAt(event.context, 'device.token'),
    valueAt(event.properties, 'device.token'),
  );
}

function platformOf(event: SegmentEvent): 'ios' | 'android' | undefined {
  for (const value of [
    valueAt(event.context, 'device.type'),
    valueAt(event.properties, 'device.type'),
    valueAt(event.context, 'os.name'),
  ]) {
    const platform = PLATFORMS[stringOf(value)?.trim().toLowerCase() ?? ''];
    if (platform) return platform;
  }
  return undefined;
}

/** The device an event runs on, as Customer.io's device object, when it can be added. */
function deviceOf(event: SegmentEvent): JsonObject | undefined {
  const token = tokenOf(event);
  const platform = platformOf(event);
  if (!token || !platform) return undefined;
  return { id: token, platform, last_used: epochSeconds(event.timestamp) };
}

function change(event: SegmentEvent, kind: DeviceChange['kind']): DeviceChange | undefined {
  if (kind === 'add') {
    const device = deviceOf(event);
    return device && { kind, device };
  }
  const token = tokenOf(event);
  return token ? { kind, token } : undefined;
}

/**
 * The device change an event makes for a person Customer.io knows (`identified`); anonymous
 * people have no devices in Customer.io, so their lifecycle events go as events alone.
 */
export function deviceEffectOf(event: SegmentEvent, identified: boolean): DeviceEffect {
  const name = event.type === 'track' ? firstString(event.event) : undefined;
  const semantic = name === undefined ? undefined : SEMANTIC[name as keyof typeof SEMANTIC];
  if (semantic) {
    const wanted = identified ? change(event, semantic) : undefined;
    if (!wanted) {
      throw new DestinationMappingError(
        `${name} needs an identified person (a userId, or an email) and a device token` +
          (semantic === 'add' ? ' on iOS or Android' : ''),
      );
    }
    return { change: wanted, sendEvent: false };
  }
  if (!identified) return { sendEvent: true };
  if (event.type === 'identify' || (name !== undefined && ADDING.has(name))) {
    return { change: change(event, 'add'), sendEvent: true };
  }
  if (name !== undefined && DELETING.has(name)) {
    return { change: change(event, 'delete'), sendEvent: true };
  }
  return { sendEvent: true };
}
