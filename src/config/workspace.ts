/**
 * The workspace file: sources (with write keys), destinations, transformations and the
 * connections between them, in YAML with `${ENV_VAR}` interpolation for secrets. Parsed and
 * validated once per load into a frozen Workspace; every error names the file and the field.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { SluiceError } from '../errors';

const Id = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 letters, digits, _ . or -');

const SourceSchema = z.strictObject({
  id: Id,
  name: z.string().min(1).optional(),
  writeKey: z.string().min(8, 'must be at least 8 characters'),
  enabled: z.boolean().default(true),
  /** Zero the last octet (IPv4) or last 80 bits (IPv6) of context.ip before storing. */
  anonymizeIp: z.boolean().default(false),
  /** Answer requests carrying `DNT: 1` or `Sec-GPC: 1` with 200 and store nothing. */
  dropDoNotTrack: z.boolean().default(false),
  /** Events per second this source may send (per gateway process), with a burst allowance. */
  rateLimit: z
    .strictObject({
      eventsPerSecond: z.number().positive(),
      burst: z.number().positive().optional(),
    })
    .optional(),
});

/** How the router delivers to a destination, whatever its type. */
const DeliverySchema = z.strictObject({
  /** Requests per second (per router process); unset means as fast as the vendor accepts. */
  requestsPerSecond: z.number().positive().optional(),
  /** Requests in flight at once (per router process). */
  maxConcurrency: z.number().int().min(1).max(1000).default(10),
  /** Per-request timeout. */
  timeoutMs: z.number().int().min(100).max(600_000).default(30_000),
  /** A delivery is aborted (dead-lettered) after this many attempts... */
  maxAttempts: z.number().int().min(1).max(1000).default(10),
  /** ...or once this many hours have passed since its first attempt. */
  maxRetryHours: z
    .number()
    .positive()
    .max(24 * 30)
    .default(3),
});

const DestinationSchema = z.strictObject({
  id: Id,
  name: z.string().min(1).optional(),
  type: z.string().min(1),
  enabled: z.boolean().default(true),
  config: z.record(z.string(), z.unknown()).default({}),
  delivery: DeliverySchema.prefault({}),
});

const TransformationSchema = z.strictObject({
  id: Id,
  name: z.string().min(1).optional(),
  file: z.string().min(1),
});

const EventFilterSchema = z.strictObject({
  /** Only these event types (track, identify, ...) pass. */
  allowTypes: z.array(z.string()).optional(),
  denyTypes: z.array(z.string()).optional(),
  /** Only track events with these names pass (other types are unaffected). */
  allowEvents: z.array(z.string()).optional(),
  denyEvents: z.array(z.string()).optional(),
});

const ConnectionSchema = z.strictObject({
  source: Id,
  destination: Id,
  enabled: z.boolean().default(true),
  transformations: z.array(Id).default([]),
  filter: EventFilterSchema.optional(),
});

const LibrarySchema = z.strictObject({
  /** The name transformations import it by: `import { hash } from 'pii-utils'`. */
  name: z.string().regex(/^[A-Za-z0-9_@/.-]{1,128}$/),
  file: z.string().min(1),
});

/** The transformation sandbox's limits; its defaults also serve runs without a workspace. */
export const SandboxSchema = z.strictObject({
  /** Hosts (exact, or `*.example.com`) that transformation code may fetch from. */
  fetchAllowList: z.array(z.string()).default([]),
  memoryLimitMb: z.number().int().min(8).max(4096).default(128),
  timeoutMs: z.number().int().min(10).max(600_000).default(4000),
  fetchTimeoutMs: z.number().int().min(10).max(600_000).default(2000),
  /**
   * Most events a transformation may make of one event; an event that fans out to more fails
   * with an error saying so. Bounds what one event can cost every stage after it.
   */
  maxOutputsPerEvent: z.number().int().min(1).max(100_000).default(1000),
});

const WorkspaceSchema = z.strictObject({
  sources: z.array(SourceSchema).default([]),
  destinations: z.array(DestinationSchema).default([]),
  transformations: z.array(TransformationSchema).default([]),
  libraries: z.array(LibrarySchema).default([]),
  connections: z.array(ConnectionSchema).default([]),
  sandbox: SandboxSchema.prefault({}),
});

export type Source = z.infer<typeof SourceSchema>;
export type DestinationConfig = z.infer<typeof DestinationSchema>;
export type DeliverySettings = z.infer<typeof DeliverySchema>;
export type TransformationConfig = z.infer<typeof TransformationSchema>;
export type LibraryConfig = z.infer<typeof LibrarySchema>;
export type Connection = z.infer<typeof ConnectionSchema>;
export type EventFilter = z.infer<typeof EventFilterSchema>;

export interface Workspace {
  readonly file: string;
  /** Folder that relative transformation and library paths are resolved against. */
  readonly dir: string;
  readonly sources: readonly Source[];
  readonly destinations: readonly DestinationConfig[];
  readonly transformations: readonly TransformationConfig[];
  readonly libraries: readonly LibraryConfig[];
  readonly connections: readonly Connection[];
  readonly sandbox: z.infer<typeof WorkspaceSchema>['sandbox'];
  readonly sourcesByWriteKey: ReadonlyMap<string, Source>;
}

/** Checks a destination's `config` against its type; throws with a message naming the field. */
export type DestinationValidator = (destination: DestinationConfig) => Record<string, unknown>;

export interface LoadWorkspaceOptions {
  env?: NodeJS.ProcessEnv;
  /** Validates each destination's config by type (the destination registry supplies it). */
  validateDestination?: DestinationValidator;
}

/** Reads, interpolates and validates a workspace file. */
export function loadWorkspace(file: string, options: LoadWorkspaceOptions = {}): Workspace {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new SluiceError('SLUICE_E_WORKSPACE_INVALID', `${file}: cannot be read`, {
      cause: error,
    });
  }
  return parseWorkspace(text, file, options);
}

/** Parses workspace YAML text; `file` is used for error messages and relative paths. */
export function parseWorkspace(
  text: string,
  file: string,
  options: LoadWorkspaceOptions = {},
): Workspace {
  const fail = (where: string, message: string): never => {
    throw new SluiceError('SLUICE_E_WORKSPACE_INVALID', `${file}: ${where}: ${message}`);
  };
  let document: unknown;
  try {
    document = YAML.parse(text) ?? {};
  } catch (error) {
    throw new SluiceError('SLUICE_E_WORKSPACE_INVALID', `${file}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const interpolated = interpolateEnv(document, options.env ?? process.env, '', fail);
  const parsed = WorkspaceSchema.safeParse(interpolated);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    fail(formatPath(issue.path) || '(top level)', issue.message);
  }
  const data = parsed.data!;
  checkReferences(data, fail);
  if (options.validateDestination) {
    data.destinations.forEach((destination, index) => {
      try {
        destination.config = options.validateDestination!(destination);
      } catch (error) {
        fail(`destinations[${index}].config`, (error as Error).message);
      }
    });
  }
  const sourcesByWriteKey = new Map(data.sources.map((source) => [source.writeKey, source]));
  return deepFreeze({
    ...data,
    file,
    dir: path.dirname(path.resolve(file)),
    sourcesByWriteKey,
  });
}

function checkReferences(
  data: z.infer<typeof WorkspaceSchema>,
  fail: (where: string, message: string) => never,
): void {
  const unique = <T>(items: T[], key: (item: T) => string, where: string, what: string) => {
    const seen = new Set<string>();
    items.forEach((item, index) => {
      const value = key(item);
      if (seen.has(value)) fail(`${where}[${index}]`, `duplicate ${what} "${value}"`);
      seen.add(value);
    });
  };
  unique(data.sources, (s) => s.id, 'sources', 'id');
  unique(data.sources, (s) => s.writeKey, 'sources', 'writeKey');
  unique(data.destinations, (d) => d.id, 'destinations', 'id');
  unique(data.transformations, (t) => t.id, 'transformations', 'id');
  unique(data.libraries, (l) => l.name, 'libraries', 'name');
  unique(data.connections, (c) => `${c.source} -> ${c.destination}`, 'connections', 'connection');
  const sources = new Set(data.sources.map((s) => s.id));
  const destinations = new Set(data.destinations.map((d) => d.id));
  const transformations = new Set(data.transformations.map((t) => t.id));
  data.connections.forEach((connection, index) => {
    if (!sources.has(connection.source))
      fail(`connections[${index}].source`, `no source with id "${connection.source}"`);
    if (!destinations.has(connection.destination))
      fail(
        `connections[${index}].destination`,
        `no destination with id "${connection.destination}"`,
      );
    connection.transformations.forEach((id, t) => {
      if (!transformations.has(id))
        fail(`connections[${index}].transformations[${t}]`, `no transformation with id "${id}"`);
    });
  });
}

const ENV_REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Replaces `${NAME}` and `${NAME:-default}` in every string value. */
function interpolateEnv(
  value: unknown,
  env: NodeJS.ProcessEnv,
  where: string,
  fail: (where: string, message: string) => never,
): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_REFERENCE, (_match, name: string, fallback?: string) => {
      const found = env[name];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      return fail(where || '(top level)', `environment variable ${name} is not set`);
    });
  }
  if (Array.isArray(value)) {
    return value.map((item, index) => interpolateEnv(item, env, `${where}[${index}]`, fail));
  }
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [
        key,
        interpolateEnv(item, env, where ? `${where}.${key}` : key, fail),
      ]),
    );
  }
  return value;
}

function formatPath(segments: readonly PropertyKey[]): string {
  return segments
    .map((segment, index) =>
      typeof segment === 'number' ? `[${segment}]` : `${index ? '.' : ''}${String(segment)}`,
    )
    .join('');
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    if (!(value instanceof Map)) for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}
