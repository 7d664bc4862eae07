/**
 * Building blocks of destination config schemas (URLs, secrets, header maps, event-name maps)
 * and the one way a config error is worded: the field's path, then what is wrong with it
 * (`url: Invalid URL`, `region: Invalid option: expected one of "us"|"eu"`).
 */
import { z } from 'zod';

/** An absolute http(s) URL. */
export function httpUrl() {
  return z.url({ protocol: /^https?$/, message: 'Invalid URL' });
}

/**
 * An https URL. Vendors' endpoints carry credentials, so they are never sent in clear; the
 * workspace interpolates `${ENV}` before validation, so this sees the real value.
 */
export function httpsUrl() {
  return z.url({ protocol: /^https$/, message: 'Invalid URL (must be https)' });
}

/** A credential from the workspace (usually `${ENV_VAR}`); only emptiness is checked. */
export function secret() {
  return z.string().min(1, 'must not be empty');
}

/** Header names are RFC 9110 tokens; values are kept as given. */
export function headerMap() {
  return z.record(
    z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'is not a valid header name'),
    z.string(),
  );
}

/** A positive whole number with a vendor's upper bound. */
export function count(max: number) {
  return z.number().int().min(1).max(max);
}

/** The path of an issue as it reads in the workspace file: `headers.X-Key`, `templates[0]`. */
function pathOf(segments: readonly PropertyKey[]): string {
  return segments
    .map((segment, index) =>
      typeof segment === 'number' ? `[${segment}]` : `${index ? '.' : ''}${String(segment)}`,
    )
    .join('');
}

/** The value at an issue's path in the config as given. */
function inputAt(input: unknown, segments: readonly PropertyKey[]): unknown {
  let current = input;
  for (const segment of segments) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[segment];
  }
  return current;
}

/** One line naming the first invalid field of a config and what is wrong with it. */
function describeConfigError(error: z.ZodError, input?: unknown): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid config';
  const where = pathOf(issue.path);
  if (issue.code === 'unrecognized_keys') {
    const field = where ? `${where}.${issue.keys[0]}` : issue.keys[0];
    return `${field}: unknown field`;
  }
  let message = issue.message;
  // A schema's own message (`Invalid URL`) would hide that the field is simply missing.
  if (issue.code === 'invalid_type' && inputAt(input, issue.path) === undefined) {
    message = 'required';
  }
  return where ? `${where}: ${message}` : message;
}

/** The config parsed (defaults filled) by `schema`; throws an Error naming the field. */
export function parseConfig<Config>(schema: z.ZodType<Config>, config: unknown): Config {
  const input = config ?? {};
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new Error(describeConfigError(parsed.error, input));
  return parsed.data;
}

/**
 * How page or screen views are named for tools that only know named events: `named` may use
 * `{name}` and `{category}`; `unnamed` is for views without a name.
 */
export function viewNames(kind: 'Page' | 'Screen') {
  return z
    .strictObject({
      named: z.string().min(1).default(`Viewed {name} ${kind}`),
      unnamed: z.string().min(1).default(`Loaded a ${kind}`),
    })
    .prefault({});
}

/** A country calling code (`1`, `49`), prepended to phone numbers written without one. */
export function callingCode() {
  return z.string().regex(/^[1-9]\d{0,2}$/, 'must be a country calling code such as 1 or 49');
}

/** Segment event name → the vendor's event name, matched before the destination's own table. */
export function eventNameMap() {
  return z.record(z.string().min(1), z.string().min(1)).default({});
}
