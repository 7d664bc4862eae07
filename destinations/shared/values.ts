/**
 * Reading loosely typed event data safely: type guards and coercions for values that arrive as
 * JSON from any SDK, dotted-path lookup, dropping absent fields, time conversions and stable
 * hashes. Every destination mapping reads events through these, so a string where a number was
 * expected is handled the same way everywhere.
 */
import { createHash } from 'node:crypto';

export type JsonObject = Record<string, unknown>;

/** True for a plain JSON object (not an array, not null). */
export function isRecord(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The object itself, or an empty one for anything else. */
export function recordOf(value: unknown): JsonObject {
  return isRecord(value) ? value : {};
}

/** A non-empty string; numbers and booleans are written out, everything else is undefined. */
export function stringOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value === '' ? undefined : value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'boolean') return String(value);
  return undefined;
}

/** A finite number; numeric strings (`"19.99"`) are parsed, everything else is undefined. */
export function numberOf(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && value.trim() !== '') {
    const parsed = Number(value);
    return Number.isFinite(parsed) ? parsed : undefined;
  }
  return undefined;
}

/** The first argument that is a non-empty string (see stringOf). */
export function firstString(...values: unknown[]): string | undefined {
  for (const value of values) {
    const text = stringOf(value);
    if (text !== undefined) return text;
  }
  return undefined;
}

/** The first argument that is a number (see numberOf). */
export function firstNumber(...values: unknown[]): number | undefined {
  for (const value of values) {
    const number = numberOf(value);
    if (number !== undefined) return number;
  }
  return undefined;
}

/**
 * The value at a dotted path (`context.page.url`), or undefined when any step is missing. Only
 * own properties of plain objects are followed, so `__proto__` or `constructor` read nothing.
 */
export function valueAt(root: unknown, path: string): unknown {
  let current: unknown = root;
  for (const step of path.split('.')) {
    if (!isRecord(current) || !Object.prototype.hasOwnProperty.call(current, step)) {
      return undefined;
    }
    current = current[step];
  }
  return current;
}

/** A copy without the keys whose value is undefined, null or an empty string. */
export function compact<T extends JsonObject>(object: T): Partial<T> {
  const result: JsonObject = {};
  for (const [key, value] of Object.entries(object)) {
    if (value !== undefined && value !== null && value !== '') result[key] = value;
  }
  return result as Partial<T>;
}

/** A copy without the listed keys. */
export function omit(object: JsonObject, keys: Iterable<string>): JsonObject {
  const dropped = new Set(keys);
  return Object.fromEntries(Object.entries(object).filter(([key]) => !dropped.has(key)));
}

/** Milliseconds since the epoch of an ISO-8601 date; undefined when it is not a date. */
export function epochMillis(iso: unknown): number | undefined {
  if (typeof iso === 'number') return Number.isFinite(iso) ? iso : undefined;
  if (typeof iso !== 'string') return undefined;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Whole seconds since the epoch (vendors that count in seconds round down). */
export function epochSeconds(iso: unknown): number | undefined {
  const ms = epochMillis(iso);
  return ms === undefined ? undefined : Math.floor(ms / 1000);
}

/** Microseconds since the epoch. */
export function epochMicros(iso: unknown): number | undefined {
  const ms = epochMillis(iso);
  return ms === undefined ? undefined : ms * 1000;
}

/** `YYYY-MM-DD` of a date (UTC), for vendors that store dates of birth without a time. */
export function calendarDate(iso: unknown): string | undefined {
  if (typeof iso === 'string' && /^\d{4}-\d\d-\d\d$/.test(iso)) return iso;
  const ms = epochMillis(iso);
  return ms === undefined ? undefined : new Date(ms).toISOString().slice(0, 10);
}

/** Lowercase hex SHA-256 of the text: a deterministic, opaque stand-in for an identifier. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * A UUID that is the text itself when it already is one, else one derived from its SHA-256
 * (version nibble 5, RFC 4122 variant), so a retried event keeps the same id.
 */
export function uuidOf(text: string): string {
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(text)) {
    return text.toLowerCase();
  }
  const hex = sha256Hex(text);
  const variant = ((parseInt(hex[16], 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** The text cut to `max` characters (by code point, so no surrogate pair is split). */
export function truncate(text: string, max: number): string {
  const points = Array.from(text);
  return points.length <= max ? text : points.slice(0, max).join('');
}

/**
 * The text cut to at most `maxBytes` bytes of UTF-8, at a character boundary (no code point is
 * split, so the result is valid UTF-8), for vendors that count limits in bytes.
 */
export function truncateBytes(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  let bytes = 0;
  let end = 0;
  for (const point of text) {
    bytes += Buffer.byteLength(point, 'utf8');
    if (bytes > maxBytes) break;
    end += point.length;
  }
  return text.slice(0, end);
}
