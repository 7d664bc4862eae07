/**
 * Where an event goes: the enabled connections of its source (a routing table built once per
 * workspace version), and per connection whether the event is admitted before transformations —
 * the Segment `integrations` object, the event types the destination supports, and the
 * connection's event filter.
 */
import type { AnyDestination } from '../../destinations/destination';
import type {
  Connection,
  DestinationConfig,
  EventFilter,
  Source,
  TransformationConfig,
  Workspace,
} from '../config/workspace';
import type { SegmentEvent } from '../event';

/** One enabled connection, resolved. */
export interface Route {
  readonly source: Source;
  readonly connection: Connection;
  readonly destination: DestinationConfig;
  readonly module: AnyDestination;
  readonly transformations: readonly TransformationConfig[];
  /** Keys that address this destination in `integrations`, most specific first. */
  readonly integrationKeys: readonly string[];
}

export type DestinationRegistry = (type: string) => AnyDestination | undefined;

const tables = new WeakMap<Workspace, ReadonlyMap<string, readonly Route[]>>();

/** The routes of every source, built once per workspace object. */
export function routingTable(
  workspace: Workspace,
  registry: DestinationRegistry,
): ReadonlyMap<string, readonly Route[]> {
  let table = tables.get(workspace);
  if (table) return table;
  const byId = <T extends { id: string }>(items: readonly T[]) =>
    new Map(items.map((i) => [i.id, i]));
  const sources = byId(workspace.sources);
  const destinations = byId(workspace.destinations);
  const transformations = byId(workspace.transformations);
  const built = new Map<string, Route[]>();
  for (const connection of workspace.connections) {
    const source = sources.get(connection.source)!;
    const destination = destinations.get(connection.destination)!;
    const module = registry(destination.type);
    if (!connection.enabled || !destination.enabled || !module) continue;
    const route: Route = {
      source,
      connection,
      destination,
      module,
      transformations: connection.transformations.map((id) => transformations.get(id)!),
      integrationKeys: [
        ...new Set([destination.name, destination.id, module.integrationName]),
      ].filter((key): key is string => !!key),
    };
    built.set(source.id, [...(built.get(source.id) ?? []), route]);
  }
  table = built;
  tables.set(workspace, table);
  return table;
}

/** Why an event does not go to a route, or undefined when it does. */
export function rejection(route: Route, event: SegmentEvent): string | undefined {
  if (!integrationEnabled(event.integrations, route)) return 'disabled by integrations';
  if (!route.module.supportedTypes.includes(event.type)) return `${event.type} is not supported`;
  const filter = route.connection.filter;
  if (filter && !passesFilter(filter, event)) return 'filtered by the connection';
  return undefined;
}

/**
 * Segment's rule: a key naming the destination decides (false/null disables, anything else —
 * true or an options object — enables); otherwise `All` decides (default true). `All: false`
 * does not stop warehouses, as in Segment.
 */
function integrationEnabled(integrations: SegmentEvent['integrations'], route: Route): boolean {
  if (!integrations) return true;
  for (const key of route.integrationKeys) {
    if (key in integrations) return isOn(integrations[key]);
  }
  if (route.module.kind === 'warehouse') return true;
  return !('All' in integrations) || isOn(integrations.All);
}

function isOn(value: unknown): boolean {
  return value !== false && value !== null && value !== undefined;
}

function passesFilter(filter: EventFilter, event: SegmentEvent): boolean {
  if (filter.allowTypes && !filter.allowTypes.includes(event.type)) return false;
  if (filter.denyTypes?.includes(event.type)) return false;
  if (event.type === 'track') {
    const name = event.event ?? '';
    if (filter.allowEvents && !filter.allowEvents.includes(name)) return false;
    if (filter.denyEvents?.includes(name)) return false;
  }
  return true;
}
