/**
 * A BigQuery job that ran and failed, and which failures are the rows' fault.
 *
 * BigQuery reports a failed job with `status.errorResult` and `status.errors`, each with a
 * `reason` ("Error messages" in BigQuery's docs): `invalid` is input BigQuery refused,
 * `invalidQuery` a statement it refused; `accessDenied`, `billingNotEnabled`, `notFound`,
 * `quotaExceeded`, `rateLimitExceeded`, `backendError`, `internalError`, `stopped`, `timeout`, ...
 * are about the project, its permissions and limits, or BigQuery itself. A request BigQuery
 * refused before any job ran (a 403 on `tables.get`, a network error) is not this error at all.
 */
import type { JobMetadata } from '@google-cloud/bigquery';

export type JobKind = 'load' | 'query';

interface JobErrorEntry {
  reason?: string;
  message?: string;
  location?: string;
}

export class BigQueryJobError extends Error {
  /** Every reason the job reported, its errorResult's first. */
  readonly reasons: string[];

  constructor(
    readonly kind: JobKind,
    readonly jobId: string,
    status: NonNullable<JobMetadata['status']>,
  ) {
    const result: JobErrorEntry = status.errorResult ?? {};
    const errors: JobErrorEntry[] = status.errors ?? [];
    super(
      `BigQuery ${kind} job ${jobId} failed: ${result.message ?? result.reason ?? 'no reason'}`,
    );
    this.name = 'BigQueryJobError';
    this.reasons = [result, ...errors].flatMap((entry) => (entry.reason ? [entry.reason] : []));
  }
}

/**
 * Whether the rows made the load fail: a load job refused them (every reason `invalid`). Rows
 * reach BigQuery only through load jobs; the MERGE copies columns between tables of the same
 * types, so a failed query is never the rows' fault (a schema changed by hand, a concurrent
 * update, a quota) and splitting the batch would not help it.
 */
export function isDataError(error: unknown): boolean {
  return (
    error instanceof BigQueryJobError &&
    error.kind === 'load' &&
    error.reasons.length > 0 &&
    error.reasons.every((reason) => reason === 'invalid')
  );
}
