/**
 * Process settings: everything an operator sets through the environment, parsed once into a
 * frozen object and passed explicitly. The workspace (sources, destinations, ...) is separate:
 * see workspace.ts.
 */
import { z } from 'zod';
import { SluiceError } from '../errors';

export const ROLES = ['gateway', 'processor', 'router', 'warehouse'] as const;
export type Role = (typeof ROLES)[number];

/** Nesting limit for JSON bodies, and for the events transformations return. */
export const DEFAULT_MAX_JSON_DEPTH = 64;
const int = (min: number) => z.coerce.number().int().min(min);

const SettingsSchema = z.object({
  /** PostgreSQL connection string; when absent an embedded server is started. */
  databaseUrl: z.string().min(1).optional(),
  /** Folder for local state (the embedded PostgreSQL data) when no DATABASE_URL is set. */
  dataDir: z.string().default('.sluice'),
  port: int(0).max(65535).default(8080),
  host: z.string().default('0.0.0.0'),
  workspaceFile: z.string().default('sluice.yaml'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Express `trust proxy` value: which hops may set X-Forwarded-For (false, true, a hop count, or addresses/CIDRs). */
  trustProxy: z.string().default('loopback'),
  /** Public base URL (https://collector.example.com) used in served settings and analytics.js; else taken from the request. */
  publicUrl: z.string().url().optional(),
  maxEventBytes: int(1024).default(32 * 1024),
  maxBatchBytes: int(1024).default(500 * 1024),
  maxBatchEvents: int(1).default(2500),
  maxJsonDepth: int(2).default(DEFAULT_MAX_JSON_DEPTH),
  dedupWindowHours: z.coerce.number().min(0).default(24),
  /** Group commit: how long a write waits for company, how many rows one statement may carry. */
  groupCommitDelayMs: z.coerce.number().min(0).default(2),
  groupCommitMaxRows: int(1).default(4000),
  groupCommitMaxConcurrent: int(1).default(3),
  dbPoolSize: int(2).default(12),
  adminToken: z.string().min(16).optional(),
  shutdownTimeoutMs: int(0).default(25_000),
  roles: z
    .array(z.enum(ROLES))
    .min(1)
    .default([...ROLES]),
  /** Processes `sluice start` runs on this machine (see src/cli/cluster.ts). */
  workers: int(1).max(256).default(1),
});

export type Settings = Readonly<z.infer<typeof SettingsSchema>>;

const ENV_NAMES: Record<string, keyof z.input<typeof SettingsSchema>> = {
  DATABASE_URL: 'databaseUrl',
  SLUICE_DATA_DIR: 'dataDir',
  PORT: 'port',
  HOST: 'host',
  SLUICE_WORKSPACE: 'workspaceFile',
  SLUICE_LOG_LEVEL: 'logLevel',
  SLUICE_TRUST_PROXY: 'trustProxy',
  SLUICE_PUBLIC_URL: 'publicUrl',
  SLUICE_MAX_EVENT_BYTES: 'maxEventBytes',
  SLUICE_MAX_BATCH_BYTES: 'maxBatchBytes',
  SLUICE_MAX_BATCH_EVENTS: 'maxBatchEvents',
  SLUICE_MAX_JSON_DEPTH: 'maxJsonDepth',
  SLUICE_DEDUP_WINDOW_HOURS: 'dedupWindowHours',
  SLUICE_GROUP_COMMIT_DELAY_MS: 'groupCommitDelayMs',
  SLUICE_GROUP_COMMIT_MAX_ROWS: 'groupCommitMaxRows',
  SLUICE_GROUP_COMMIT_MAX_CONCURRENT: 'groupCommitMaxConcurrent',
  SLUICE_DB_POOL_SIZE: 'dbPoolSize',
  SLUICE_ADMIN_TOKEN: 'adminToken',
  SLUICE_SHUTDOWN_TIMEOUT_MS: 'shutdownTimeoutMs',
  SLUICE_ROLES: 'roles',
  SLUICE_WORKERS: 'workers',
};

/**
 * Builds settings from environment variables plus explicit overrides (command-line flags, tests).
 * Throws a SluiceError naming the variable when a value is invalid.
 */
export function loadSettings(
  env: NodeJS.ProcessEnv,
  overrides: Partial<z.input<typeof SettingsSchema>> = {},
): Settings {
  const raw: Record<string, unknown> = {};
  for (const [envName, key] of Object.entries(ENV_NAMES)) {
    const value = env[envName];
    if (value === undefined || value === '') continue;
    raw[key] = key === 'roles' ? parseRoles(value) : value;
  }
  Object.assign(raw, withoutUndefined(overrides));
  const parsed = SettingsSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = String(issue.path[0]);
    const envName = Object.entries(ENV_NAMES).find(([, k]) => k === key)?.[0] ?? key;
    throw new SluiceError('SLUICE_E_SETTINGS_INVALID', `${envName}: ${issue.message}`);
  }
  return Object.freeze(parsed.data);
}

/** Parses `gateway,processor` into a role list. */
export function parseRoles(value: string): string[] {
  return value
    .split(',')
    .map((role) => role.trim())
    .filter(Boolean);
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The database URL a one-off command works on; it cannot start an embedded server of its own. */
export function commandDatabaseUrl(settings: Settings, command: string): string {
  if (!settings.databaseUrl) {
    throw new SluiceError(
      'SLUICE_E_SETTINGS_INVALID',
      `DATABASE_URL: ${command} needs the database Sluice runs on`,
    );
  }
  return settings.databaseUrl;
}
