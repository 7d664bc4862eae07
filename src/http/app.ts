/**
 * The HTTP front every Sluice process serves. The collector's POST paths are dispatched straight
 * from a map (the hot path, no Express routing); everything else (health, readiness, metrics,
 * SDK configuration, analytics.js, the admin API) goes through Express. Both answer errors from
 * the error catalog as JSON, and both carry CORS headers.
 */
import type { RequestListener } from 'node:http';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Logger } from 'pino';
import { SluiceError } from '../errors';
import { answerPreflight, applyCorsHeaders } from '../gateway/cors';
import type { EndpointHandler } from '../gateway/ingest-endpoints';
import type { Metrics } from '../metrics';
import { sendError } from './respond';

export interface HttpAppDeps {
  /** Which hops may set X-Forwarded-For (compiled `trust proxy` setting). */
  trust: (address: string, hop: number) => boolean;
  logger: Logger;
  metrics: Metrics;
  /** Resolves true when the process can do its work (database reachable). */
  isReady: () => Promise<boolean>;
  isShuttingDown: () => boolean;
  /** POST handlers by path (without trailing slash). */
  endpoints: ReadonlyMap<string, EndpointHandler>;
  routers: Router[];
}

export function createHttpHandler(deps: HttpAppDeps): RequestListener {
  const app = createExpressApp(deps);
  const { endpoints, metrics, logger } = deps;
  // The route label is fixed per path: computed once, not per request.
  const routeKinds = new Map([...endpoints.keys()].map((path) => [path, routeKind(path)]));
  return (request, response) => {
    if (deps.isShuttingDown()) response.setHeader('Connection', 'close');
    const url = request.url ?? '/';
    const queryAt = url.indexOf('?');
    let path = queryAt === -1 ? url : url.slice(0, queryAt);
    if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
    const endpoint = request.method === 'POST' ? endpoints.get(path) : undefined;
    if (!endpoint) {
      app(request, response);
      return;
    }
    applyCorsHeaders(request, response);
    const query = new URLSearchParams(queryAt === -1 ? '' : url.slice(queryAt + 1));
    endpoint(request, response, query)
      .catch((error: unknown) => sendError(response, error, logger, path))
      .finally(() =>
        metrics.httpRequests.inc({ route: routeKinds.get(path)!, status: response.statusCode }),
      );
  };
}

function createExpressApp(deps: HttpAppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('trust proxy', deps.trust);

  app.use((request, response, next) => {
    response.on('finish', () => {
      deps.metrics.httpRequests.inc({
        route: routeKind(request.path),
        status: response.statusCode,
      });
    });
    if (request.method === 'OPTIONS') return answerPreflight(request, response);
    applyCorsHeaders(request, response);
    next();
  });

  app.get('/health', (_request, response) => {
    response.json({ status: 'ok' });
  });
  app.get('/ready', async (_request, response) => {
    const ready = !deps.isShuttingDown() && (await deps.isReady().catch(() => false));
    response.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'unavailable' });
  });
  app.get('/metrics', async (_request, response) => {
    response.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  for (const router of deps.routers) app.use(router);

  app.use((request: Request) => {
    throw new SluiceError('SLUICE_E_NOT_FOUND', `${request.method} ${request.path}`);
  });
  // Express recognises error handlers by their four parameters.
  app.use((error: unknown, request: Request, response: Response, _next: NextFunction) => {
    sendError(response, error, deps.logger, request.path);
  });
  return app;
}

function routeKind(path: string): string {
  if (path.startsWith('/admin')) return 'admin';
  if (path === '/health' || path === '/ready' || path === '/metrics') return path.slice(1);
  if (path.includes('/pixel')) return 'pixel';
  if (/\/(batch|import|b)$/.test(path)) return 'batch';
  if (/^(\/v1)?\/[a-z]+$/.test(path)) return 'single';
  if (path.includes('analytics')) return 'analytics.js';
  return 'other';
}
