/**
 * The destination registry: every destination type Sluice knows, looked up by the `type` of a
 * workspace destination, and the validation of a workspace destination's `config` against its
 * type (the workspace loader calls it, so a bad config stops Sluice at start with the field named).
 */
import type { DestinationConfig } from '../src/config/workspace';
import { amplitude } from './amplitude';
import { bigquery } from './bigquery';
import { braze } from './braze';
import { customerio } from './customerio';
import type { AnyDestination, Destination } from './destination';
import { facebookConversions } from './facebook-conversions';
import { ga4 } from './ga4';
import { iterable } from './iterable';
import { klaviyo } from './klaviyo';
import { hubspot } from './hubspot';
import { intercom } from './intercom';
import { mixpanel } from './mixpanel';
import { posthog } from './posthog';
import { postgres } from './postgres';
import { segment } from './segment';
import { parseConfig } from './shared/config';
import { slack } from './slack';
import { tiktok } from './tiktok';
import { webhook } from './webhook';

// Each destination has its own Config type; the registry holds them side by side, and callers
// pass each one the config validateDestinationConfig parsed for it.
const ALL: readonly AnyDestination[] = [
  amplitude,
  bigquery,
  braze,
  customerio,
  facebookConversions,
  ga4,
  iterable,
  klaviyo,

  hubspot,
  intercom,
  mixpanel,
  posthog,
  postgres,
  segment,
  slack,
  tiktok,
  webhook,
];

/** Every destination by its workspace `type`. */
export const DESTINATIONS: ReadonlyMap<string, AnyDestination> = new Map(
  ALL.map((destination) => [destination.type, destination]),
);

/** The destination of a type, or undefined for an unknown type. */
export function destinationOf(type: string): AnyDestination | undefined {
  return DESTINATIONS.get(type);
}

/** The tool destination of a type; undefined for a warehouse or an unknown type. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function toolDestinationOf(type: string): Destination<any> | undefined {
  const found = DESTINATIONS.get(type);
  return found?.kind === 'tool' ? found : undefined;
}

/**
 * The destination's config parsed by its type's schema, defaults filled. Throws an Error whose
 * message names the field (`url: Invalid URL`) or the unknown type.
 */
export function validateDestinationConfig(
  destination: Pick<DestinationConfig, 'type' | 'config'>,
): Record<string, unknown> {
  const found = destinationOf(destination.type);
  if (!found) {
    const known = [...DESTINATIONS.keys()].sort().join(', ');
    throw new Error(`unknown destination type "${destination.type}" (known: ${known})`);
  }
  return parseConfig(found.configSchema, destination.config) as Record<string, unknown>;
}
