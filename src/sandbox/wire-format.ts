/**
 * What crosses the isolate boundary per call: strings only, one batch per call. Events arrive as
 * JSON text from the queue and leave as JSON text (validated inside the isolate), so nothing that
 * JSON cannot hold (BigInt, cycles, Dates, functions) escapes the sandbox to fail later. The host
 * parses the output texts unless the caller asks for them as text (`json`, what the processor
 * does: it stores text and hands text to the next transformation, and gets each output's
 * messageId beside its text).
 *
 * Into the isolate: a header and the event JSON texts as they are (never parsed on the host). The
 * isolate parses one event at a time, so each event's objects die young, which keeps the small
 * young generation of a 128 MB isolate cheap:
 *   header {"shared":[{sourceId,sourceName,destinationId,destinationName,destinationType}, ...],
 *           "sharedOf":[index into shared, per event] or null when all are shared[0],
 *           "ids":[messageId, per event], "receivedAt":[receivedAt, per event],
 *           "maxOutputs":most output events per input event}
 *   texts  "<event 0 JSON>\x1e<event 1 JSON>\x1e..." (one string: it enters the isolate as an
 *          external string, without a copy on the isolate's thread)
 * Out of the isolate (built by runtime-source.ts): an array of the header and the output event
 * texts in input order. An array, not one joined string: isolated-vm copies a long string out on
 * the isolate's thread (into freshly zeroed memory), while an array's strings are rebuilt on this
 * thread, which has time to spare; measured, that took 40 µs a call off the isolate.
 *   ['{"counts":[outputs of event 0 | -1 for an error, ...], "errors":[{index,message,stack?}],
 *      "ids":[messageId of each output text | null], "logs":[[level, message, eventIndex?]],
 *      "droppedLogs":n}', '<output 0 JSON>', ...]      or
 *   ['{"failAll":{message,stack?}, "logs":[...], "droppedLogs":n}']
 * The result comes from user-controlled code, so decoding validates every part of it.
 */
import { nestedDeeperThan } from '../json-scan';
import type { EventMetadata, SandboxError, SandboxLog, SandboxRun } from './transformation-sandbox';

/** How output events are returned: parsed objects, or each event's JSON text. */
export type OutputForm = 'objects' | 'json';

const SHARED_FIELDS = [
  'sourceId',
  'sourceName',
  'destinationId',
  'destinationName',
  'destinationType',
] as const;

const LOG_LEVELS = new Set(['log', 'warn', 'error']);

/** Joins the input event texts (see runtime-prelude.ts). */
const SEPARATOR = '\u001e';

/** The arguments of one call; `events` are JSON texts (used as they are) or values to serialize. */
export function encodePayload(
  events: readonly unknown[],
  metadata: readonly EventMetadata[],
  maxOutputs: number,
): { header: string; texts: string } {
  const count = events.length;
  // A batch almost always shares one source and destination: send that part once.
  const shared: EventMetadata[] = [];
  let sharedOf: number[] | null = null;
  let last = -1;
  const ids = new Array<string>(count);
  const receivedAt = new Array<string>(count);
  const texts = new Array<string>(count);
  for (let i = 0; i < count; i++) {
    const event = events[i];
    texts[i] = typeof event === 'string' ? event : (JSON.stringify(event) ?? 'null');
    const entry = metadata[i];
    if (last < 0 || !sameShared(shared[last], entry)) {
      last = shared.findIndex((known) => sameShared(known, entry));
      if (last < 0) last = shared.push(entry) - 1;
      if (last > 0) sharedOf ??= new Array<number>(count).fill(0);
    }
    if (sharedOf) sharedOf[i] = last;
    ids[i] = entry.messageId;
    receivedAt[i] = entry.receivedAt;
  }
  // Arrays of strings, not an array per event: JSON.stringify has a fast path for them.
  const header = JSON.stringify({
    shared: shared.map((entry) => Object.fromEntries(SHARED_FIELDS.map((f) => [f, entry[f]]))),
    sharedOf,
    ids,
    receivedAt,
    maxOutputs,
  });
  return { header, texts: texts.join(SEPARATOR) };
}

function sameShared(a: EventMetadata, b: EventMetadata): boolean {
  return (
    a === b ||
    (a.sourceId === b.sourceId &&
      a.sourceName === b.sourceName &&
      a.destinationId === b.destinationId &&
      a.destinationName === b.destinationName &&
      a.destinationType === b.destinationType)
  );
}

/** The same error for every event of a call (a timeout, a crash, a throwing transformBatch). */
export function failedRun(count: number, error: SandboxError, logs: SandboxLog[] = []): SandboxRun {
  return { results: Array.from({ length: count }, () => ({ error })), logs };
}

const MALFORMED: SandboxError = {
  message:
    'The transformation returned a malformed result; did it replace a built-in such as JSON or Array.prototype?',
};

/** Turns the isolate's result (header and output texts) into one result per input event. */
export function decodeResult(
  parts: unknown,
  count: number,
  limits: { output: OutputForm; maxOutputs: number; maxDepth: number },
): SandboxRun {
  const { output, maxOutputs } = limits;
  if (!Array.isArray(parts) || typeof parts[0] !== 'string') return failedRun(count, MALFORMED);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(parts[0]) as Record<string, unknown>;
  } catch {
    return failedRun(count, MALFORMED);
  }
  if (header === null || typeof header !== 'object') return failedRun(count, MALFORMED);
  const logs = decodeLogs(header.logs, header.droppedLogs, count);
  if (header.failAll !== undefined) {
    return failedRun(count, asSandboxError(header.failAll) ?? MALFORMED, logs);
  }
  const counts = header.counts;
  if (!isCountList(counts, count, parts.length - 1)) return failedRun(count, MALFORMED, logs);
  const ids = header.ids;
  if (!isIdList(ids, parts.length - 1)) return failedRun(count, MALFORMED, logs);
  const errors = new Map<number, SandboxError>();
  if (Array.isArray(header.errors)) {
    for (const entry of header.errors as Array<{ index?: unknown }>) {
      const error = asSandboxError(entry);
      if (error && typeof entry.index === 'number') errors.set(entry.index, error);
    }
  }
  const results: SandboxRun['results'] = new Array(count);
  let next = 1;
  for (let i = 0; i < count; i++) {
    const outputs = counts[i];
    if (outputs < 0) {
      results[i] = { error: errors.get(i) ?? MALFORMED };
      continue;
    }
    // The runtime enforces the limit; checked again since its result is not to be trusted.
    if (outputs > maxOutputs) {
      results[i] = { error: MALFORMED };
      next += outputs;
      continue;
    }
    results[i] = decodeEvents(parts, next, outputs, limits);
    if (output === 'json' && 'events' in results[i]) {
      (results[i] as { messageIds: Array<string | null> }).messageIds = ids.slice(
        next - 1,
        next - 1 + outputs,
      );
    }
    next += outputs;
  }
  return { results, logs };
}

function isIdList(value: unknown, texts: number): value is Array<string | null> {
  return (
    Array.isArray(value) &&
    value.length === texts &&
    value.every((id) => id === null || typeof id === 'string')
  );
}

function isCountList(value: unknown, count: number, texts: number): value is number[] {
  if (!Array.isArray(value) || value.length !== count) return false;
  let total = 0;
  for (const outputs of value) {
    if (!Number.isInteger(outputs) || outputs < -1) return false;
    if (outputs > 0) total += outputs as number;
  }
  return total === texts;
}

function decodeEvents(
  parts: unknown[],
  from: number,
  outputs: number,
  { output, maxDepth }: { output: OutputForm; maxDepth: number },
): SandboxRun['results'][number] {
  const events = new Array<unknown>(outputs);
  for (let i = 0; i < outputs; i++) {
    const text = parts[from + i];
    if (typeof text !== 'string' || text.charCodeAt(0) !== 123 /* { */) return { error: MALFORMED };
    if (nestedDeeperThan(text, maxDepth)) {
      return {
        error: {
          message: `The transformation returned an event nested deeper than ${maxDepth} levels (SLUICE_MAX_JSON_DEPTH)`,
        },
      };
    }
    if (output === 'json') {
      events[i] = text;
      continue;
    }
    try {
      events[i] = JSON.parse(text);
    } catch {
      return { error: MALFORMED };
    }
    if (events[i] === null || typeof events[i] !== 'object' || Array.isArray(events[i])) {
      return { error: MALFORMED };
    }
  }
  return { events };
}

function asSandboxError(value: unknown): SandboxError | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const { message, stack } = value as { message?: unknown; stack?: unknown };
  if (typeof message !== 'string') return undefined;
  return typeof stack === 'string' ? { message, stack } : { message };
}

function decodeLogs(value: unknown, dropped: unknown, count: number): SandboxLog[] {
  const logs: SandboxLog[] = [];
  if (Array.isArray(value)) {
    for (const entry of value) {
      if (!Array.isArray(entry) || !LOG_LEVELS.has(entry[0]) || typeof entry[1] !== 'string') {
        continue;
      }
      const log: SandboxLog = { level: entry[0] as SandboxLog['level'], message: entry[1] };
      const index = entry[2];
      if (Number.isInteger(index) && index >= 0 && index < count) log.eventIndex = index;
      logs.push(log);
    }
  }
  if (typeof dropped === 'number' && dropped > 0) {
    logs.push({ level: 'warn', message: `${dropped} more log lines were dropped (limit: 1000)` });
  }
  return logs;
}
