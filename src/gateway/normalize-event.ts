/**
 * Turns one message as an SDK sent it into the event Sluice stores: validated per type, batch
 * context merged in, messageId ensured, timestamps corrected for client clock skew, context.ip
 * filled from the request, write key removed. Invalid messages yield a SluiceError, never throw,
 * so one bad event in a batch costs only itself.
 */
import { randomUUID } from 'node:crypto';
import { SluiceError } from '../errors';
import { isEventType, type EventType, type SegmentEvent } from '../event';
import { isStorableId } from '../queue/text-columns';
import { anonymizeIp } from './client-ip';

/** What a request contributes to each of its events. */
export interface RequestContext {
  receivedAt: Date;
  receivedAtIso: string;
  /** The client address, already unmapped from IPv4-in-IPv6. */
  ip: string | undefined;
  anonymizeIp: boolean;
  /** The event type implied by the path (`/v1/track`, `/v1/t`), if any. */
  pathType?: EventType;
  /** Batch-level fields, merged into every item. */
  batchContext?: Record<string, unknown>;
  batchIntegrations?: Record<string, unknown>;
  /** The batch-level sentAt, parsed once per request (see parseBatchSentAt). */
  batchSentAt?: { ms: number; iso: string };
}

export type NormalizeResult =
  { ok: true; event: SegmentEvent } | { ok: false; error: SluiceError; messageId?: string };

const MAX_MESSAGE_ID_LENGTH = 100;
const OBJECT_FIELDS = ['context', 'integrations', 'properties', 'traits'] as const;
/** Fields that become text columns (message_id, user_key) when the event is queued. */
const ID_FIELDS = ['messageId', 'userId', 'anonymousId', 'groupId', 'previousId'] as const;

export function normalizeEvent(input: unknown, request: RequestContext): NormalizeResult {
  if (!isPlainObject(input)) return invalid('the event must be a JSON object');
  // The parsed message belongs to this request alone: normalize it in place.
  const event = input;
  // Python and other SDKs send null for unset fields: null at the top level means absent.
  for (const key in event) if (event[key] === null) delete event[key];
  delete event.writeKey;

  event.messageId ??= randomUUID();
  // messageId first: the errors of the other fields name the event by it.
  for (const field of ID_FIELDS) {
    const problem = normalizeId(event, field);
    if (problem) {
      return invalid(problem, field === 'messageId' ? undefined : (event.messageId as string));
    }
  }
  if ((event.messageId as string).length > MAX_MESSAGE_ID_LENGTH) {
    return invalid(`"messageId" must be at most ${MAX_MESSAGE_ID_LENGTH} characters`);
  }
  const fail = (message: string) => invalid(message, event.messageId as string);

  const type = request.pathType ?? event.type;
  if (!isEventType(type)) {
    return fail(
      event.type === undefined
        ? 'every event in a batch needs a "type"'
        : `"type" must be one of identify, track, page, screen, group, alias (got ${JSON.stringify(event.type)})`,
    );
  }
  event.type = type;

  for (const field of OBJECT_FIELDS) {
    if (event[field] !== undefined && !isPlainObject(event[field])) {
      return fail(`"${field}" must be an object`);
    }
  }

  const missing = missingField(type, event);
  if (missing) return fail(missing);

  if (request.batchContext) event.context = mergeDeep(request.batchContext, event.context);
  if (request.batchIntegrations) {
    event.integrations = mergeDeep(request.batchIntegrations, event.integrations);
  }

  const times = correctTimestamps(event, request);
  if (typeof times === 'string') return fail(times);
  Object.assign(event, times);

  const context = (event.context ?? {}) as Record<string, unknown>;
  if (context.ip === undefined || context.ip === null || context.ip === '') {
    if (request.ip) context.ip = request.ip;
    else delete context.ip;
  }
  if (request.anonymizeIp && context.ip !== undefined) {
    // Whoever set it: what cannot be read as an address cannot be anonymized, so it is dropped.
    const anonymized = typeof context.ip === 'string' ? anonymizeIp(context.ip) : undefined;
    if (anonymized === undefined) delete context.ip;
    else context.ip = anonymized;
  }
  event.context = context;

  return { ok: true, event: event as SegmentEvent };
}

/**
 * Numbers become strings and an empty id (but messageId) counts as absent; returns what is wrong
 * with the id, if anything.
 */
function normalizeId(
  event: Record<string, unknown>,
  field: (typeof ID_FIELDS)[number],
): string | undefined {
  const value = event[field];
  if (value === undefined) return undefined;
  if (typeof value === 'number' && Number.isFinite(value)) event[field] = String(value);
  else if (typeof value !== 'string') return `"${field}" must be a string`;
  const id = event[field] as string;
  if (id === '') {
    if (field === 'messageId') return '"messageId" must not be empty';
    delete event[field];
  } else if (!isStorableId(id)) {
    return `"${field}" must be printable: no control characters or lone surrogates`;
  }
  return undefined;
}

function missingField(type: EventType, event: Record<string, unknown>): string | undefined {
  if (type === 'alias') {
    if (event.previousId === undefined) return 'an alias needs "previousId"';
    if (event.userId === undefined) return 'an alias needs "userId"';
    return undefined;
  }
  if (event.userId === undefined && event.anonymousId === undefined) {
    // analytics-node may send a group with only groupId; accept it, keyed by the group.
    if (!(type === 'group' && event.groupId !== undefined)) {
      return `a ${type} needs "userId" or "anonymousId"`;
    }
  }
  if (type === 'track' && (typeof event.event !== 'string' || event.event.trim() === '')) {
    return 'a track needs "event", a non-empty string';
  }
  if (type === 'group' && event.groupId === undefined) return 'a group needs "groupId"';
  for (const field of ['name', 'category'] as const) {
    if (event[field] !== undefined && typeof event[field] !== 'string') {
      return `"${field}" must be a string`;
    }
  }
  return undefined;
}

/**
 * receivedAt is the server clock; originalTimestamp the client's time of the call; timestamp
 * corrects the client clock: receivedAt - (sentAt - originalTimestamp). Returns an error message
 * for a timestamp that is present but not a date. Dates already in canonical form are reused as
 * they are: formatting a date costs more than everything else here.
 */
function correctTimestamps(
  event: Record<string, unknown>,
  request: RequestContext,
): Pick<SegmentEvent, 'receivedAt' | 'originalTimestamp' | 'timestamp' | 'sentAt'> | string {
  const original = event.timestamp ?? event.originalTimestamp;
  const originalMs = parseTime(original);
  if (Number.isNaN(originalMs)) return '"timestamp" must be an ISO-8601 date';
  const sent =
    event.sentAt !== undefined ? parseTime(event.sentAt) : (request.batchSentAt?.ms ?? undefined);
  if (Number.isNaN(sent)) return '"sentAt" must be an ISO-8601 date';
  const receivedAt = request.receivedAt.getTime();
  const originalTimestamp =
    originalMs === undefined ? request.receivedAtIso : (canonical(original) ?? toIso(originalMs));
  let timestamp: string;
  if (sent === undefined || originalMs === undefined) timestamp = originalTimestamp;
  else if (sent === originalMs) timestamp = request.receivedAtIso;
  else timestamp = toIso(receivedAt - (sent - originalMs));
  const times: ReturnType<typeof correctTimestamps> = {
    receivedAt: request.receivedAtIso,
    originalTimestamp,
    timestamp,
  };
  if (sent !== undefined) {
    times.sentAt =
      event.sentAt === undefined
        ? request.batchSentAt!.iso
        : (canonical(event.sentAt) ?? toIso(sent));
  }
  return times;
}

/** Parses a batch-level sentAt once per request; undefined when absent or not a date. */
export function parseBatchSentAt(value: unknown): RequestContext['batchSentAt'] {
  const ms = parseTime(value);
  if (ms === undefined || Number.isNaN(ms)) return undefined;
  return { ms, iso: canonical(value) ?? toIso(ms) };
}

/** Milliseconds since the epoch; undefined when absent, NaN when not a date. */
function parseTime(value: unknown): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'number') return Number.isFinite(value) ? value : NaN;
  if (typeof value !== 'string') return NaN;
  const parsed = Date.parse(value);
  return Number.isNaN(parsed) || !Number.isFinite(new Date(parsed).getTime()) ? NaN : parsed;
}

const CANONICAL_DATE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** The value itself when it is already a UTC ISO-8601 string with milliseconds. */
function canonical(value: unknown): string | undefined {
  return typeof value === 'string' && CANONICAL_DATE.test(value) ? value : undefined;
}

function toIso(ms: number): string {
  // A wildly wrong client clock can push the corrected time out of Date's range.
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? new Date(0).toISOString() : date.toISOString();
}

/**
 * Merges `base` (batch level) under `override` (the item): the item wins, objects merge. Only own
 * keys are read, and keys are defined, never assigned, so `__proto__`, `constructor` and
 * `prototype` stay plain data keys as JSON.parse made them (an assignment to `__proto__` would
 * set the object's prototype instead).
 */
function mergeDeep(base: Record<string, unknown>, override: unknown): Record<string, unknown> {
  // Spreading defines properties, so a `__proto__` key of `base` is copied as data.
  const merged: Record<string, unknown> = { ...base };
  if (!isPlainObject(override)) return merged;
  for (const key of Object.keys(override)) {
    const value = override[key];
    const under = Object.hasOwn(base, key) ? base[key] : undefined;
    Object.defineProperty(merged, key, {
      value: isPlainObject(value) && isPlainObject(under) ? mergeDeep(under, value) : value,
      writable: true,
      enumerable: true,
      configurable: true,
    });
  }
  return merged;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(message: string, messageId?: string): NormalizeResult {
  return { ok: false, error: new SluiceError('SLUICE_E_INVALID_EVENT', message), messageId };
}
