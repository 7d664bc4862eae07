/**
 * The `bigquery` destination's workspace config, and the client options it gives. Credentials are
 * a service account's JSON key as text (usually `${BQ_SERVICE_ACCOUNT_JSON}`); without them the
 * client finds Application Default Credentials as Google's libraries do. No error message quotes
 * the key: JSON.parse's own message would show its beginning, so it is never used.
 */
import { inspect } from 'node:util';
import type { BigQueryOptions } from '@google-cloud/bigquery';
import { z } from 'zod';
import { httpUrl } from '../shared/config';

/** The fields of a service account key that authentication needs. */
const ServiceAccountKey = z.looseObject({
  type: z.literal('service_account', { message: 'must be "service_account"' }),
  client_email: z.email({ message: "must be the service account's email" }),
  private_key: z.string().includes('PRIVATE KEY', { message: 'must be a PEM private key' }),
  universe_domain: z.string().min(1).optional(),
});

export type ServiceAccountKey = z.infer<typeof ServiceAccountKey>;

/** A service account key as JSON text, parsed; issues name the key's field, never its value. */
const serviceAccountJson = z.string().transform((text, context): ServiceAccountKey => {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    context.addIssue({ code: 'custom', message: 'must be a service account key (JSON)' });
    return z.NEVER;
  }
  const key = ServiceAccountKey.safeParse(parsed);
  if (key.success) return unprintable(key.data);
  for (const issue of key.error.issues) {
    const [field] = issue.path;
    const given = typeof parsed === 'object' && parsed !== null && field !== undefined;
    const missing = given && (parsed as Record<PropertyKey, unknown>)[field] === undefined;
    context.addIssue({
      code: 'custom',
      message: missing ? 'required' : issue.message,
      path: issue.path,
    });
  }
  return z.NEVER;
});

/** A dataset ID: letters, digits and `_` (BigQuery's rule), so it is safe inside backticks. */
export const DATASET_ID = /^[A-Za-z0-9_]{1,1024}$/;

/**
 * The key, which prints as a placeholder (JSON.stringify, pino, util.inspect) wherever the
 * parsed config is logged; its fields read as they are, for the client.
 */
function unprintable(key: ServiceAccountKey): ServiceAccountKey {
  const placeholder = () => '[service account key]';
  return Object.defineProperties(key, {
    toJSON: { value: placeholder },
    [inspect.custom]: { value: placeholder },
  });
}

export const BigQueryConfig = z.strictObject({
  /**
   * Google Cloud project IDs are 6-30 lower-case letters, digits and hyphens, beginning with a
   * letter; older ones may have a `domain:` before them. Checked because the ID is written
   * into SQL (inside backticks).
   */
  projectId: z
    .string()
    .regex(
      /^(?:[a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$/,
      'must be a Google Cloud project ID (6-30 lower-case letters, digits or hyphens)',
    ),
  /** Defaults to the source's name in snake_case. */
  dataset: z.string().regex(DATASET_ID, 'must be 1-1024 letters, digits or _').optional(),
  /** Where a dataset Sluice creates is kept (`EU`, `US`, `europe-west3`, ...). */
  location: z
    .string()
    .regex(/^[A-Za-z0-9-]{1,64}$/, 'must be a BigQuery location such as EU or europe-west3')
    .optional(),
  credentials: serviceAccountJson.optional(),
  /** A server that speaks BigQuery's REST API in Google's place. */
  apiEndpoint: httpUrl().optional(),
  syncIntervalSeconds: z.number().int().min(1).default(60),
});

export type BigQueryConfig = z.infer<typeof BigQueryConfig>;

/** Options for `new BigQuery(...)`. */
export function clientOptionsOf(config: BigQueryConfig): BigQueryOptions {
  return {
    projectId: config.projectId,
    ...(config.location !== undefined && { location: config.location }),
    ...(config.apiEndpoint !== undefined && { apiEndpoint: config.apiEndpoint }),
    ...(config.credentials !== undefined && { credentials: config.credentials }),
  };
}
