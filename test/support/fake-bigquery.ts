/**
 * A local server that plays BigQuery's REST API for the real `@google-cloud/bigquery` client, as
 * far as the warehouse uses it. It records every request and keeps what BigQuery would:
 * - datasets (get, insert), tables (get, insert, patch, delete) with their schemas, partitioning,
 *   expiration and etag; a patch with a stale etag is refused (412) and so is one that drops or
 *   retypes a column; names, types and column counts are held to BigQuery's documented rules;
 * - load jobs sent as multipart uploads of newline-delimited JSON: every row is checked against
 *   the table's schema (unknown fields, types, timestamps as BigQuery's JSON loads read them)
 *   and stored, as BigQuery stores them (timestamps in UTC with microseconds);
 * - query jobs running `BEGIN TRANSACTION; MERGE ...; COMMIT TRANSACTION;` scripts of the one
 *   MERGE shape Sluice writes (fake-bigquery-merge.ts), all or nothing;
 * - jobs reported RUNNING when inserted and DONE when first asked for;
 * - authentication: every request must carry a JWT signed with the test's service account key.
 * It does not check BigQuery's semantics beyond that: no SQL other than that MERGE, no quotas,
 * no locations (a location is recorded, not enforced), no streaming, no resumable uploads (the
 * 8.x client sends loads as multipart), no partition pruning (the filter's meaning is applied,
 * its cost is not).
 */
import { createVerify, type KeyObject } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TableField } from '@google-cloud/bigquery';
import { runScript } from './fake-bigquery-merge';
import { checkedRow, checkedSchema, FakeError, type Row } from './fake-bigquery-rules';

export { FakeError };

export interface FakeRequest {
  method: string;
  /** The path without the query string. */
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface FakeTable {
  fields: TableField[];
  timePartitioning?: { type: string; field?: string };
  expirationTime?: string;
  rows: Row[];
  etag: number;
}

export interface FakeDataset {
  location?: string;
  tables: Map<string, FakeTable>;
}

export interface FakeJob {
  id: string;
  kind: 'load' | 'query';
  location?: string;
  configuration: Record<string, unknown>;
  status: { state: string; errorResult?: ApiErrorEntry; errors?: ApiErrorEntry[] };
  /** Times the job was asked for. */
  polls: number;
}

interface ApiErrorEntry {
  reason: string;
  message: string;
}

type Answer = { status: number; body?: unknown };

export interface FakeBigQuery {
  readonly url: string;
  readonly requests: FakeRequest[];
  /** Requests no route took, or that broke the fake: a test expects none. */
  readonly unhandled: FakeRequest[];
  readonly datasets: Map<string, FakeDataset>;
  readonly jobs: FakeJob[];
  /** Answers the next request that `matches` with an HTTP error instead. */
  failRequest(matches: (request: FakeRequest) => boolean, error: FakeError): void;
  /** Makes the next job of `kind` end with this error. */
  failJob(kind: FakeJob['kind'], reason: string, message: string): void;
  table(dataset: string, table: string): FakeTable | undefined;
  close(): Promise<void>;
}

export async function startFakeBigQuery(options: {
  projectId: string;
  clientEmail: string;
  publicKey: KeyObject;
}): Promise<FakeBigQuery> {
  const { projectId } = options;
  const requests: FakeRequest[] = [];
  const unhandled: FakeRequest[] = [];
  const datasets = new Map<string, FakeDataset>();
  const jobs: FakeJob[] = [];
  const requestFailures: Array<{ matches: (r: FakeRequest) => boolean; error: FakeError }> = [];
  const jobFailures: Array<{ kind: FakeJob['kind'] } & ApiErrorEntry> = [];
  let etags = 0;

  const datasetOf = (id: string) => {
    const dataset = datasets.get(id);
    if (!dataset) throw new FakeError(404, 'notFound', `Not found: Dataset ${projectId}:${id}`);
    return dataset;
  };
  const tableOf = (datasetId: string, tableId: string) => {
    const table = datasetOf(datasetId).tables.get(tableId);
    if (!table) {
      throw new FakeError(404, 'notFound', `Not found: Table ${projectId}:${datasetId}.${tableId}`);
    }
    return table;
  };
  const tableResource = (datasetId: string, tableId: string, table: FakeTable) => ({
    kind: 'bigquery#table',
    id: `${projectId}:${datasetId}.${tableId}`,
    tableReference: { projectId, datasetId, tableId },
    schema: { fields: table.fields },
    ...(table.timePartitioning && { timePartitioning: table.timePartitioning }),
    ...(table.expirationTime && { expirationTime: table.expirationTime }),
    etag: `etag-${table.etag}`,
    type: 'TABLE',
  });
  const jobResource = (job: FakeJob) => ({
    kind: 'bigquery#job',
    id: `${projectId}:${job.location ?? 'US'}.${job.id}`,
    jobReference: { projectId, jobId: job.id, location: job.location },
    configuration: job.configuration,
    status: job.polls === 0 ? { state: 'RUNNING' } : job.status,
  });
  /** A job as inserted, run at once; its outcome is reported from the first time it is asked for. */
  const startJob = (
    kind: FakeJob['kind'],
    resource: {
      jobReference: { jobId: string; location?: string };
      configuration: FakeJob['configuration'];
    },
    run: () => void,
  ): FakeJob => {
    const job: FakeJob = {
      id: resource.jobReference.jobId,
      kind,
      location: resource.jobReference.location,
      configuration: resource.configuration,
      status: { state: 'DONE' },
      polls: 0,
    };
    jobs.push(job);
    finishJob(job, run);
    return job;
  };
  const finishJob = (job: FakeJob, run: () => void) => {
    const failure = jobFailures.findIndex((failure) => failure.kind === job.kind);
    try {
      if (failure >= 0) {
        const [{ reason, message }] = jobFailures.splice(failure, 1);
        throw new FakeError(400, reason, message);
      }
      run();
    } catch (error) {
      if (!(error instanceof FakeError)) throw error;
      const entry = { reason: error.reason, message: error.message };
      job.status = { state: 'DONE', errorResult: entry, errors: [entry] };
    }
  };

  const routes: Array<[string, RegExp, (match: string[], request: FakeRequest) => Answer]> = [
    [
      'GET',
      /^\/bigquery\/v2\/projects\/([^/]+)\/datasets\/([^/]+)$/,
      ([, id]) => {
        const dataset = datasetOf(id);
        return ok({
          kind: 'bigquery#dataset',
          id: `${projectId}:${id}`,
          datasetReference: { projectId, datasetId: id },
          location: dataset.location,
        });
      },
    ],
    [
      'POST',
      /^\/bigquery\/v2\/projects\/([^/]+)\/datasets$/,
      (_, request) => {
        const body = JSON.parse(request.body);
        const id: string = body.datasetReference.datasetId;
        if (datasets.has(id))
          throw new FakeError(409, 'duplicate', `Already Exists: Dataset ${id}`);
        datasets.set(id, { location: body.location, tables: new Map() });
        return ok({ ...body, id: `${projectId}:${id}` });
      },
    ],
    [
      'GET',
      /^\/bigquery\/v2\/projects\/([^/]+)\/datasets\/([^/]+)\/tables\/([^/]+)$/,
      ([, datasetId, tableId]) =>
        ok(tableResource(datasetId, tableId, tableOf(datasetId, tableId))),
    ],
    [
      'POST',
      /^\/bigquery\/v2\/projects\/([^/]+)\/datasets\/([^/]+)\/tables$/,
      ([, datasetId], request) => {
        const body = JSON.parse(request.body);
        const tableId: string = body.tableReference.tableId;
        const dataset = datasetOf(datasetId);
        if (dataset.tables.has(tableId)) {
          throw new FakeError(
            409,
            'duplicate',
            `Already Exists: Table ${projectId}:${datasetId}.${tableId}`,
          );
        }
        const fields = checkedSchema(tableId, body.schema?.fields ?? [], body.timePartitioning);
        const table: FakeTable = {
          fields,
          timePartitioning: body.timePartitioning,
          expirationTime: body.expirationTime,
          rows: [],
          etag: ++etags,
        };
        dataset.tables.set(tableId, table);
        return ok(tableResource(datasetId, tableId, table));
      },
    ],
    [
      'PATCH',
      /^\/bigquery\/v2\/projects\/([^/]+)\/datasets\/([^/]+)\/tables\/([^/]+)$/,
      ([, datasetId, tableId], request) => {
        const table = tableOf(datasetId, tableId);
        const ifMatch = request.headers['if-match'];
        if (ifMatch !== undefined && ifMatch !== `etag-${table.etag}`) {
          throw new FakeError(412, 'conditionNotMet', 'Precondition check failed.');
        }
        const fields: TableField[] = JSON.parse(request.body).schema.fields;
        for (const field of table.fields) {
          const kept = fields.find((candidate) => candidate.name === field.name);
          if (!kept || kept.type !== field.type) {
            throw new FakeError(
              400,
              'invalid',
              `Provided Schema does not match Table. Field ${field.name} is missing or retyped`,
            );
          }
        }
        table.fields = checkedSchema(tableId, fields, table.timePartitioning);
        for (const row of table.rows) for (const field of fields) row[field.name!] ??= null;
        table.etag = ++etags;
        return ok(tableResource(datasetId, tableId, table));
      },
    ],
    [
      'DELETE',
      /^\/bigquery\/v2\/projects\/([^/]+)\/datasets\/([^/]+)\/tables\/([^/]+)$/,
      ([, datasetId, tableId]) => {
        tableOf(datasetId, tableId);
        datasetOf(datasetId).tables.delete(tableId);
        return { status: 204 };
      },
    ],
    [
      'POST',
      /^\/upload\/bigquery\/v2\/projects\/([^/]+)\/jobs$/,
      (_, request) => {
        if (request.query.get('uploadType') !== 'multipart') {
          throw new FakeError(400, 'invalid', 'the fake takes multipart uploads only');
        }
        const [metadataPart, dataPart] = multipartParts(request);
        const metadata = JSON.parse(metadataPart);
        const load = metadata.configuration.load;
        const job = startJob('load', metadata, () => {
          if (load.sourceFormat !== 'NEWLINE_DELIMITED_JSON') {
            throw new FakeError(400, 'invalid', 'the fake loads newline-delimited JSON only');
          }
          const { datasetId, tableId } = load.destinationTable;
          const table = tableOf(datasetId, tableId);
          const lines = dataPart.split('\n');
          if (lines.pop() !== '')
            throw new FakeError(400, 'invalid', 'the last row has no newline');
          const fields = new Map(table.fields.map((field) => [field.name!, field]));
          const rows = lines.map((line, index) => checkedRow(fields, line, index));
          table.rows = load.writeDisposition === 'WRITE_TRUNCATE' ? rows : [...table.rows, ...rows];
        });
        return ok(jobResource(job));
      },
    ],
    [
      'POST',
      /^\/bigquery\/v2\/projects\/([^/]+)\/jobs$/,
      (_, request) => {
        const body = JSON.parse(request.body);
        const job = startJob('query', body, () =>
          runScript(body.configuration.query.query, projectId, datasets),
        );
        return ok(jobResource(job));
      },
    ],
    [
      'GET',
      /^\/bigquery\/v2\/projects\/([^/]+)\/jobs\/([^/]+)$/,
      ([, jobId]) => {
        const job = jobs.find((candidate) => candidate.id === jobId);
        if (!job) throw new FakeError(404, 'notFound', `Not found: Job ${projectId}:${jobId}`);
        job.polls++;
        return ok(jobResource(job));
      },
    ],
  ];

  const answer = (request: FakeRequest): Answer => {
    const failure = requestFailures.findIndex(({ matches }) => matches(request));
    if (failure >= 0) throw requestFailures.splice(failure, 1)[0].error;
    if (!authorized(request, options)) {
      throw new FakeError(401, 'authError', 'Request had invalid authentication credentials.');
    }
    for (const [method, pattern, handle] of routes) {
      const match = pattern.exec(request.path);
      if (!match || method !== request.method) continue;
      if (match[1] !== projectId) {
        throw new FakeError(404, 'notFound', `Not found: Project ${match[1]}`);
      }
      return handle(match.slice(1), request);
    }
    unhandled.push(request);
    throw new FakeError(501, 'notImplemented', `the fake has no ${request.method} ${request.path}`);
  };

  const server = http.createServer((incoming, response) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const url = new URL(incoming.url!, 'http://fake');
      const request: FakeRequest = {
        method: incoming.method!,
        path: url.pathname,
        query: url.searchParams,
        headers: incoming.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(request);
      let result: Answer;
      try {
        result = answer(request);
      } catch (caught) {
        // An error of the fake's own is a failed test, not something to play BigQuery with.
        if (!(caught instanceof FakeError)) unhandled.push(request);
        const error =
          caught instanceof FakeError
            ? caught
            : new FakeError(500, 'internalError', String(caught));
        const { status, reason, message } = error;
        result = {
          status,
          body: { error: { code: status, message, errors: [{ reason, message }] } },
        };
      }
      response.writeHead(result.status, { 'content-type': 'application/json; charset=UTF-8' });
      response.end(result.body === undefined ? undefined : JSON.stringify(result.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    unhandled,
    datasets,
    jobs,
    failRequest: (matches, error) => requestFailures.push({ matches, error }),
    failJob: (kind, reason, message) => jobFailures.push({ kind, reason, message }),
    table: (dataset, table) => datasets.get(dataset)?.tables.get(table),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function ok(body: unknown): Answer {
  return { status: 200, body };
}

/** The parts of a multipart/related body, in order. */
function multipartParts(request: FakeRequest): string[] {
  const boundary = /boundary=([^;]+)/.exec(request.headers['content-type'] ?? '')?.[1];
  if (!boundary) throw new FakeError(400, 'invalid', 'no multipart boundary');
  return request.body
    .split(`--${boundary}`)
    .slice(1, -1)
    .map((part) => part.slice(part.indexOf('\r\n\r\n') + 4).replace(/\r\n$/, ''));
}

/**
 * Whether the request carries a JWT signed with the service account's key, for BigQuery's scope,
 * not expired: the self-signed JWT google-auth-library makes outside Google's universe.
 */
function authorized(
  request: FakeRequest,
  key: { clientEmail: string; publicKey: KeyObject },
): boolean {
  const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
  const [header, payload, signature] = token?.split('.') ?? [];
  if (!signature) return false;
  const verifier = createVerify('RSA-SHA256');
  verifier.update(`${header}.${payload}`);
  if (!verifier.verify(key.publicKey, Buffer.from(signature, 'base64url'))) return false;
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  return (
    claims.iss === key.clientEmail &&
    claims.scope === 'https://www.googleapis.com/auth/bigquery' &&
    claims.exp * 1000 > Date.now()
  );
}
