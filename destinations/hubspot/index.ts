/**
 * The HubSpot destination, with a private app's access token (Bearer):
 * identify → contacts created or updated by email, `POST /crm/v3/objects/contacts/batch/upsert`
 * (`idProperty: email`); track and page → custom event occurrences,
 * `POST /events/v3/send/batch`, for the events the config maps to HubSpot event definitions
 * (fully qualified names `pe{HubID}_{name}`), attached to the contact by email.
 *
 * HubSpot cannot take what it was not told about: a contact property or an event that is not
 * defined in the account fails the whole request. So contacts get HubSpot's default properties and
 * the configured ones (every trait only with `allTraits`), and only mapped events are sent.
 *
 * Batching: 100 inputs per request (HubSpot's CRM batch limit; the events batch documents none, so
 * it gets the same). The upsert answers per input (`errors[]`, 207 Multi-Status): the contacts it
 * names fail alone. A 429 names its policy: the daily limit pauses an hour, the burst limit its
 * interval (`X-HubSpot-RateLimit-Interval-Milliseconds`), unless Retry-After says otherwise.
 */
import { z } from 'zod';
import type { SegmentEvent } from '../../src/event';
import {
  defineDestination,
  type DestinationRequest,
  type DestinationResponse,
  type ResponseVerdict,
  type TransformContext,
  type Verdict,
} from '../destination';
import { secret } from '../shared/config';
import { eventNameOf, pageOf } from '../shared/events';
import {
  batchableRequest,
  excerpt,
  headerOf,
  jsonBodyOf,
  jsonRequest,
  type Batching,
  type RequestTarget,
} from '../shared/requests';
import { userTraits } from '../shared/traits';
import {
  compact,
  firstString,
  isRecord,
  recordOf,
  uuidOf,
  type JsonObject,
} from '../shared/values';
import { contactPropertiesOf, eventPropertiesOf } from './properties';

const API = 'https://api.hubapi.com';
const UPSERT_PATH = '/crm/v3/objects/contacts/batch/upsert';
const EVENTS_PATH = '/events/v3/send/batch';
/** Inputs per CRM batch request (HubSpot's objects API limit). */
const MAX_INPUTS = 100;
/** HubSpot states no byte limit for these endpoints; this keeps a request modest. */
const MAX_BYTES = 1_000_000;
/** The daily limit resets at midnight in the account's time zone, which Sluice does not know. */
const DAILY_LIMIT_PAUSE_MS = 3_600_000;
/** HubSpot's burst limits are counted per 10 seconds. */
const BURST_PAUSE_MS = 10_000;

/** A fully qualified event name, `pe{HubID}_{name}`. */
const QUALIFIED_NAME = /^pe\d+_/;

/** A HubSpot event for a Segment event: its name, and optionally which properties to send. */
const EventMapping = z.union([
  z.string().min(1),
  z.strictObject({
    name: z.string().min(1),
    /** Event property path → HubSpot event property; default: every property, names normalized. */
    properties: z.record(z.string().min(1), z.string().min(1)).optional(),
  }),
]);

type EventMapping = z.infer<typeof EventMapping>;

export const HubSpotConfig = z
  .strictObject({
    /** A private app's access token with crm.objects.contacts.write (and analytics.behavioral_events.send). */
    accessToken: secret(),
    /** The account's Hub ID, to write event names without their `pe{HubID}_` prefix. */
    hubId: z.string().regex(/^\d+$/, 'must be the account’s Hub ID (digits)').optional(),
    /** Segment event name → HubSpot event; other track events are not sent. */
    events: z.record(z.string().min(1), EventMapping).default({}),
    /** The HubSpot event page views are sent as; unset: pages are not sent. */
    pageEvent: EventMapping.optional(),
    /** Trait path → HubSpot contact property, beyond the default properties. */
    contactProperties: z.record(z.string().min(1), z.string().min(1)).default({}),
    /** Send every other trait too, under its normalized name (each must exist in HubSpot). */
    allTraits: z.boolean().default(false),
  })
  .superRefine((config, context) => {
    if (config.hubId) return;
    const mappings: [PropertyKey[], EventMapping][] = Object.entries(config.events).map(
      ([event, mapping]) => [['events', event], mapping],
    );
    if (config.pageEvent) mappings.push([['pageEvent'], config.pageEvent]);
    for (const [path, mapping] of mappings) {
      if (!QUALIFIED_NAME.test(nameOf(mapping))) {
        context.addIssue({
          code: 'custom',
          path,
          message: 'is not a fully qualified name (pe<HubID>_<name>); set hubId to use short names',
        });
      }
    }
  });

export type HubSpotConfig = z.infer<typeof HubSpotConfig>;

type Context = TransformContext<HubSpotConfig>;

/** One contact of a batch upsert. `objectWriteTraceId` (the email, lower-cased) names it in errors. */
interface UpsertInput {
  idProperty: 'email';
  id: string;
  objectWriteTraceId: string;
  properties: Record<string, string>;
}

function nameOf(mapping: EventMapping): string {
  return typeof mapping === 'string' ? mapping : mapping.name;
}

/** The event's fully qualified name, `pe{HubID}_{name}`. */
function qualifiedName(mapping: EventMapping, config: HubSpotConfig): string {
  const name = nameOf(mapping);
  return QUALIFIED_NAME.test(name) ? name : `pe${config.hubId}_${name}`;
}

/**
 * Inputs for one contact merged into one (HubSpot refuses a batch naming a record twice): later
 * properties win.
 */
function mergedInputs(items: UpsertInput[]): UpsertInput[] {
  const byContact = new Map<string, UpsertInput>();
  for (const item of items) {
    const earlier = byContact.get(item.objectWriteTraceId);
    byContact.set(
      item.objectWriteTraceId,
      earlier ? { ...earlier, properties: { ...earlier.properties, ...item.properties } } : item,
    );
  }
  return [...byContact.values()];
}

const batching: Batching<HubSpotConfig> = {
  maxItems: MAX_INPUTS,
  maxBytes: MAX_BYTES,
  combine(items, first) {
    const { method, url, headers } = first;
    const inputs = url.endsWith(UPSERT_PATH) ? mergedInputs(items as UpsertInput[]) : items;
    return jsonRequest({ method, url, headers }, { inputs });
  },
};

function target(config: HubSpotConfig, path: string): RequestTarget {
  return {
    method: 'POST',
    url: `${API}${path}`,
    headers: { Authorization: `Bearer ${config.accessToken}` },
  };
}

/** The person's email: HubSpot's key for contacts and for attaching events to them. */
function emailOf(event: SegmentEvent): string | undefined {
  return firstString(userTraits(event).email);
}

function contactRequests(event: SegmentEvent, context: Context): DestinationRequest[] {
  const email = emailOf(event);
  // HubSpot keys contacts by email; a person without one has no contact to update.
  if (!email) return [];
  const { contactProperties, allTraits } = context.config;
  const input: UpsertInput = {
    idProperty: 'email',
    id: email,
    objectWriteTraceId: email.toLowerCase(),
    properties: contactPropertiesOf(event, contactProperties, allTraits),
  };
  return [batchableRequest(batching, context, target(context.config, UPSERT_PATH), input)];
}

/** An event occurrence for HubSpot event `mapping`, with `source` as its properties. */
function occurrenceRequests(
  event: SegmentEvent,
  context: Context,
  mapping: EventMapping,
  source: JsonObject,
): DestinationRequest[] {
  const email = emailOf(event);
  // An occurrence must name its contact; anonymous activity stays with HubSpot's tracking code.
  if (!email) return [];
  const occurrence = {
    eventName: qualifiedName(mapping, context.config),
    email,
    occurredAt: event.timestamp,
    // HubSpot accepts the first occurrence of a uuid within a year: a resent event stays one.
    uuid: uuidOf(event.messageId),
    properties: eventPropertiesOf(
      source,
      typeof mapping === 'string' ? undefined : mapping.properties,
    ),
  };
  return [batchableRequest(batching, context, target(context.config, EVENTS_PATH), occurrence)];
}

/** A page view's properties: the page call's own, then the page it names. */
function pagePropertiesOf(event: SegmentEvent): JsonObject {
  const page = pageOf(event);
  return {
    ...compact({ name: firstString(event.name), ...page }),
    ...recordOf(event.properties),
  };
}

export const hubspot = defineDestination<HubSpotConfig>({
  type: 'hubspot',
  kind: 'tool',
  integrationName: 'HubSpot',
  configSchema: HubSpotConfig,
  supportedTypes: ['identify', 'track', 'page'],
  transform(event, context) {
    const { config } = context;
    if (event.type === 'identify') return contactRequests(event, context);
    if (event.type === 'page') {
      if (!config.pageEvent) return [];
      return occurrenceRequests(event, context, config.pageEvent, pagePropertiesOf(event));
    }
    if (event.type !== 'track') return [];
    const name = eventNameOf(event);
    // Own keys only: an event named `constructor` is no mapping.
    if (!Object.hasOwn(config.events, name)) return [];
    const mapping = config.events[name];
    return occurrenceRequests(event, context, mapping, recordOf(event.properties));
  },
  batching,
  credentialsOf: (config) => [config.accessToken],
  interpretResponse(response, sent) {
    if (response.status === 429) return throttled(response);
    const upsert = sent.request.url.endsWith(UPSERT_PATH);
    if (upsert && (response.status === 200 || response.status === 207)) {
      return upsertVerdicts(jsonBodyOf(response), sent.items as UpsertInput[]);
    }
    return undefined;
  },
});

/** A 429: how long the policy HubSpot names (`policyName`) asks to wait. */
function throttled(response: DestinationResponse): Verdict {
  const body = recordOf(jsonBodyOf(response));
  const policy = firstString(body.policyName) ?? 'unnamed policy';
  const reason = `HubSpot rate limit (${policy}): ${excerpt(firstString(body.message) ?? response.body)}`;
  // Retry-After, when HubSpot sends one, is honoured by the router (afterMs left unset).
  if (headerOf(response, 'retry-after')) return { outcome: 'retry', reason };
  if (policy === 'DAILY') return { outcome: 'retry', reason, afterMs: DAILY_LIMIT_PAUSE_MS };
  const interval = Number(headerOf(response, 'x-hubspot-ratelimit-interval-milliseconds'));
  const afterMs = Number.isInteger(interval) && interval > 0 ? interval : BURST_PAUSE_MS;
  return { outcome: 'retry', reason, afterMs };
}

/** Every text an error names its input by: its `id`, and the values of its `context`. */
function namesOf(error: JsonObject): Set<string> {
  const names = [error.id, ...Object.values(recordOf(error.context)).flat()];
  return new Set(names.flatMap((name) => firstString(name)?.toLowerCase() ?? []));
}

/**
 * The batch upsert's answer per contact: those its `errors[]` name (by objectWriteTraceId or
 * email) are dead-lettered; when an error names none of them, the contacts HubSpot did not confirm
 * in `results[]` are sent again (an upsert is safe to repeat).
 */
function upsertVerdicts(body: unknown, items: UpsertInput[]): ResponseVerdict | undefined {
  const errors = isRecord(body) && Array.isArray(body.errors) ? body.errors.filter(isRecord) : [];
  if (errors.length === 0) return undefined;
  const keys = items.map((item) => item.objectWriteTraceId);
  const refused = new Map<string, string[]>();
  const unattributed: string[] = [];
  for (const error of errors) {
    const names = namesOf(error);
    const text = [error.category, error.message].flatMap((part) => firstString(part) ?? []);
    const hits = keys.filter((key) => names.has(key));
    if (hits.length === 0) unattributed.push(text.join(': '));
    for (const key of hits) refused.set(key, [...(refused.get(key) ?? []), text.join(': ')]);
  }
  const results =
    isRecord(body) && Array.isArray(body.results) ? body.results.filter(isRecord) : [];
  const confirmed = new Set(
    results.flatMap((result) =>
      [result.objectWriteTraceId, recordOf(result.properties).email].flatMap(
        (name) => firstString(name)?.toLowerCase() ?? [],
      ),
    ),
  );
  const others: Verdict = unattributed.length
    ? {
        outcome: 'retry',
        reason: `HubSpot reported errors naming no contact of the batch: ${excerpt(unattributed.join('; '))}`,
      }
    : { outcome: 'ok' };
  return {
    outcome: 'per-item',
    items: keys.map((key): Verdict => {
      const reasons = refused.get(key);
      if (reasons) {
        return {
          outcome: 'abort',
          reason: `HubSpot refused the contact: ${excerpt(reasons.join('; '))}`,
        };
      }
      return confirmed.has(key) ? { outcome: 'ok' } : others;
    }),
  };
}
