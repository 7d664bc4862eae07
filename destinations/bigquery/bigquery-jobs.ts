/**
 * BigQuery jobs, run to their end: a load job that reads newline-delimited JSON sent with it (a
 * multipart upload; load jobs are free, and unlike streaming inserts leave no streaming buffer
 * that blocks the MERGE after them), and a query job for the MERGE script. A job that fails
 * throws BigQueryJobError; one still running after JOB_DEADLINE_MS throws a plain Error, and
 * query jobs also carry that limit to BigQuery, which stops them there.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { BigQuery, Job, JobMetadata, Table, TableField } from '@google-cloud/bigquery';
import { BigQueryJobError, type JobKind } from './bigquery-job-error';

export const JOB_DEADLINE_MS = 10 * 60 * 1000;

/** First wait between two looks at a running job, doubled up to the longest. */
const FIRST_POLL_MS = 250;
const LONGEST_POLL_MS = 2000;

/** Loads `ndjson` into `table` (which exists, with `fields`), replacing what it held. */
export async function runLoadJob(
  table: Table,
  ndjson: string,
  fields: TableField[],
): Promise<void> {
  // createWriteStream_ is the upload that createLoadJob uses for a local file, without writing
  // the rows to disk and without the public stream's own polling (this module polls, bounded).
  const upload = table.createWriteStream_({
    sourceFormat: 'NEWLINE_DELIMITED_JSON',
    schema: { fields },
    createDisposition: 'CREATE_NEVER',
    writeDisposition: 'WRITE_TRUNCATE',
    jobPrefix: 'sluice_load_',
  });
  const job = await new Promise<Job>((resolve, reject) => {
    upload.once('job', resolve);
    upload.once('error', reject);
    upload.end(ndjson);
  });
  await finished(job, 'load');
}

/** Runs a SQL script in `location` (the dataset's; undefined: BigQuery's default). */
export async function runQueryJob(
  client: BigQuery,
  query: string,
  location: string | undefined,
): Promise<void> {
  const [job] = await client.createQueryJob({
    query,
    ...(location !== undefined && { location }),
    jobPrefix: 'sluice_merge_',
    jobTimeoutMs: JOB_DEADLINE_MS,
  });
  await finished(job, 'query');
}

async function finished(job: Job, kind: JobKind): Promise<JobMetadata> {
  const deadline = Date.now() + JOB_DEADLINE_MS;
  let metadata: JobMetadata = job.metadata;
  let wait = FIRST_POLL_MS;
  while (metadata.status?.state !== 'DONE') {
    if (Date.now() > deadline) {
      throw new Error(`BigQuery ${kind} job ${job.id} still running after ${JOB_DEADLINE_MS} ms`);
    }
    await sleep(wait);
    wait = Math.min(wait * 2, LONGEST_POLL_MS);
    [metadata] = await job.getMetadata();
  }
  if (metadata.status.errorResult) throw new BigQueryJobError(kind, job.id!, metadata.status);
  return metadata;
}
