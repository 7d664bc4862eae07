/**
 * What every mapping reads from a Segment event: who it is about (userId, anonymousId), the
 * name a page or screen view gets in tools that only know named events, the page it happened on,
 * and vendor fields filled from event paths by a table (`{ $os: 'context.os.name' }`), so that
 * context mappings are data rather than code.
 */
import type { SegmentEvent } from '../../src/event';
import { DestinationMappingError } from '../destination';
import { firstString, valueAt, type JsonObject } from './values';

/** The ids of the person an event is about; at least one is present. */
export interface Person {
  userId?: string;
  anonymousId?: string;
}

/** userId and anonymousId; throws when both are missing (a group sent with a groupId only). */
export function personOf(event: SegmentEvent, vendor: string): Person {
  const userId = firstString(event.userId);
  const anonymousId = firstString(event.anonymousId);
  if (userId === undefined && anonymousId === undefined) {
    throw new DestinationMappingError(
      `${vendor} needs a userId or an anonymousId, and this ${event.type} has neither`,
    );
  }
  return { userId, anonymousId };
}

/** The name of a track event (the gateway guarantees one; a transformation may not). */
export function eventNameOf(event: SegmentEvent): string {
  const name = firstString(event.event);
  if (name === undefined) throw new DestinationMappingError('the track event has no "event" name');
  return name;
}

/** Names for page or screen views: `named` may contain `{name}` and `{category}`. */
export interface ViewNames {
  named: string;
  unnamed: string;
}

/** The event name a page or screen view gets (`Viewed Pricing Page`, else `Loaded a Page`). */
export function viewEventName(event: SegmentEvent, names: ViewNames): string {
  const name = firstString(event.name, event.properties?.name);
  if (name === undefined) return names.unnamed;
  const category = firstString(event.category, event.properties?.category) ?? '';
  // Replacer functions: a name like "Save $& more" must not be read as a replacement pattern.
  return names.named
    .replaceAll('{name}', () => name)
    .replaceAll('{category}', () => category)
    .replace(/\s+/g, ' ')
    .trim();
}

/** The page an event happened on: page properties first, then `context.page`. */
export function pageOf(event: SegmentEvent): {
  url?: string;
  path?: string;
  title?: string;
  referrer?: string;
  search?: string;
} {
  const field = (name: string) =>
    firstString(
      event.type === 'page' ? valueAt(event.properties, name) : undefined,
      valueAt(event.context, `page.${name}`),
    );
  return {
    url: field('url'),
    path: field('path'),
    title: field('title'),
    referrer: field('referrer'),
    search: field('search'),
  };
}

/**
 * Vendor fields filled from event paths: `{ $os: 'context.os.name' }` reads `context.os.name` into
 * `$os`. Absent, null and empty values are left out.
 */
export function fieldsFrom(
  event: SegmentEvent,
  paths: Readonly<Record<string, string>>,
): JsonObject {
  const fields: JsonObject = {};
  for (const [field, path] of Object.entries(paths)) {
    const value = valueAt(event, path);
    if (value !== undefined && value !== null && value !== '') fields[field] = value;
  }
  return fields;
}
