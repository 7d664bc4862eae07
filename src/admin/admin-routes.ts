/**
 * The admin API, for operators and the people writing transformations. Every route needs
 * `Authorization: Bearer <SLUICE_ADMIN_TOKEN>`; without a configured token the API is not served.
 *   POST /admin/transformations/test      run a transformation on sample events
 *   GET  /admin/failed-events             events a transformation failed on
 *   POST /admin/failed-events/replay      run them through their connection again
 *   GET  /admin/dead-letters              deliveries the router gave up on
 *   POST /admin/dead-letters/replay       send them again
 *   GET  /admin/queues                    backlog per queue and destination, warehouse loads
 *   GET  /admin/live?source=&destination= events accepted and rejected, deliveries: server-sent
 */
import { timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type pg from 'pg';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Workspace } from '../config/workspace';
import { SluiceError } from '../errors';
import { hasSession, isSameSiteChange } from './console-session';
import { eventStreamWriter, type LiveFeed, type LiveFilter } from './live-feed';
import { listFailedEvents, replayFailedEvents } from '../processor/replay-failed-events';
import type { DestinationRegistry } from '../processor/routing';
import { isStorableId } from '../queue/text-columns';
import { warehouseStatus } from '../queue/warehouse-staging';
import { listDeadLetters, replayDeadLetters } from '../router/dead-letters';
import { inlineCode, loadTransformationCode } from '../sandbox/load-transformation';
import { testTransformation } from '../sandbox/test-transformation';
import type { TransformationSandbox } from '../sandbox/transformation-sandbox';

/** What a live view's reader may have unread before items are dropped for it. */
const LIVE_BUFFER_BYTES = 256 * 1024;

export interface AdminDeps {
  token: string;
  live: LiveFeed;
  /** The routes the console reads (console-data.ts), served behind the same authentication. */
  consoleData?: Router;
  pool: pg.Pool;
  workspace: () => Workspace;
  destinations: DestinationRegistry;
  sandbox: TransformationSandbox;
  logger: Logger;
}

/** A destination id to filter by: a text column can hold no control characters. */
const DestinationId = z.string().refine(isStorableId, 'must hold no control characters');

const Filter = z.strictObject({
  destinationId: DestinationId.optional(),
  // Ids are bigint: larger numbers would fail in the database, not here.
  ids: z.array(z.number().int().positive().max(Number.MAX_SAFE_INTEGER)).max(10_000).optional(),
});

const TestRequest = z.strictObject({
  /** A transformation of the workspace, or code to try before it is saved. */
  transformationId: z.string().optional(),
  code: z.string().max(1_000_000).optional(),
  events: z.array(z.record(z.string(), z.unknown())).min(1).max(1000),
});

export function createAdminRoutes(deps: AdminDeps): Router {
  const router = express.Router();
  router.use('/admin', authenticate(deps.token), express.json({ limit: '5mb' }));
  if (deps.consoleData) router.use(deps.consoleData);

  router.post('/admin/transformations/test', async (request, response) => {
    const body = parse(TestRequest, request.body);
    const workspace = deps.workspace();
    let code;
    if (body.transformationId) code = loadTransformationCode(workspace, body.transformationId);
    else if (body.code !== undefined) code = inlineCode(body.code, workspace);
    else throw new SluiceError('SLUICE_E_INVALID_REQUEST', 'give "transformationId" or "code"');
    const result = await testTransformation({
      code,
      events: body.events,
      limits: workspace.sandbox,
      logger: deps.logger,
    });
    response.json(result);
  });

  router.get('/admin/failed-events', async (request, response) => {
    const failed = await listFailedEvents(deps.pool, queryFilter(request), limitOf(request));
    response.json({ failedEvents: failed });
  });
  router.post('/admin/failed-events/replay', async (request, response) => {
    const filter = parse(Filter, request.body ?? {});
    const result = await replayFailedEvents({ ...deps, workspace: deps.workspace() }, filter);
    response.json(result);
  });

  router.get('/admin/dead-letters', async (request, response) => {
    const letters = await listDeadLetters(deps.pool, queryFilter(request), limitOf(request));
    response.json({ deadLetters: letters });
  });
  router.post('/admin/dead-letters/replay', async (request, response) => {
    const filter = parse(Filter, request.body ?? {});
    response.json({ replayed: await replayDeadLetters(deps.pool, filter) });
  });

  router.get('/admin/live', (request, response) => {
    const source = request.query.source;
    const destination = request.query.destination;
    const filter: LiveFilter = {
      sourceId: typeof source === 'string' ? source : undefined,
      destinationId: typeof destination === 'string' ? destination : undefined,
    };
    response.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      // Proxies that buffer responses (nginx) would hold the stream back.
      'X-Accel-Buffering': 'no',
    });
    response.write(': watching\n\n');
    const stop = deps.live.watch(filter, eventStreamWriter(response, LIVE_BUFFER_BYTES), () =>
      response.end(),
    );
    const heartbeat = setInterval(() => response.write(': still watching\n\n'), 15_000);
    response.on('close', () => {
      clearInterval(heartbeat);
      stop();
    });
  });

  router.get('/admin/queues', async (_request, response) => {
    const [ingest, deliveries, dead, failed, warehouses] = await Promise.all([
      deps.pool.query(`SELECT count(*)::int AS events, min(received_at) AS oldest FROM ingest_jobs j
                       JOIN ingest_cursors c USING (partition) WHERE (j.txid, j.id) > (c.txid, c.id)`),
      deps.pool.query(`SELECT destination_id, count(*)::int AS queued,
                              count(*) FILTER (WHERE attempts > 0)::int AS retrying,
                              min(received_at) AS oldest
                       FROM delivery_jobs GROUP BY destination_id ORDER BY destination_id`),
      deps.pool.query(
        `SELECT destination_id, count(*)::int AS dead_letters FROM dead_letters GROUP BY 1 ORDER BY 1`,
      ),
      deps.pool.query(
        `SELECT destination_id, count(*)::int AS failed_events FROM failed_events GROUP BY 1 ORDER BY 1`,
      ),
      warehouseStatus(deps.pool),
    ]);
    response.json({
      ingest: ingest.rows[0],
      deliveries: deliveries.rows,
      deadLetters: dead.rows,
      failedEvents: failed.rows,
      warehouses,
    });
  });
  return router;
}

/**
 * The admin token as a bearer token (scripts), or the console's session cookie; a change made
 * with the cookie must also pass the console's cross-site check (see console-session.ts).
 */
function authenticate(token: string) {
  const expected = Buffer.from(`Bearer ${token}`);
  return (request: Request, _response: Response, next: NextFunction) => {
    const given = Buffer.from(request.headers.authorization ?? '');
    if (given.length === expected.length && timingSafeEqual(given, expected)) return next();
    if (!hasSession(request, token)) throw new SluiceError('SLUICE_E_UNAUTHORIZED');
    const safe = request.method === 'GET' || request.method === 'HEAD';
    if (!safe && !isSameSiteChange(request)) throw new SluiceError('SLUICE_E_CROSS_SITE');
    next();
  };
}

function parse<T>(schema: z.ZodType<T>, value: unknown, what = 'body'): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SluiceError(
      'SLUICE_E_INVALID_REQUEST',
      `${issue.path.join('.') || what}: ${issue.message}`,
    );
  }
  return parsed.data;
}

function queryFilter(request: Request) {
  const { destination } = request.query;
  if (destination === undefined) return {};
  return { destinationId: parse(DestinationId, destination, 'destination') };
}

function limitOf(request: Request): number {
  const limit = Number(request.query.limit ?? 100);
  return Number.isInteger(limit) && limit > 0 ? Math.min(limit, 1000) : 100;
}
