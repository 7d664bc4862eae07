/**
 * The HTTP front every Sluice process serves. The collector's POST paths are dispatched straight
 * from a map (the hot path, no Express routing); everything else (health, readiness, metrics,
 * SDK configuration, analytics.js, the admin API) goes through Express. Both answer errors from
 * the error catalog as JSON; CORS only where SDKs call (see gateway/cors.ts). Once shutdown
 * began, new requests are answered 503 SLUICE_E_SHUTTING_DOWN.
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
    const url = request.url ?? '/';
    const queryAt = url.indexOf('?');
    let path = queryAt === -1 ? url : url.slice(0, queryAt);
    if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
    if (deps.isShuttingDown()) {
      // A request that arrives (on a kept-alive connection) once shutdown began: the server
      // closes when the requests in flight are answered, so this one goes elsewhere.
      const route = routeKind(path);
      sendError(response, SHUTTING_DOWN, logger, route);
      metrics.httpRequests.inc({ route, status: response.statusCode });
      return;
    }
    const endpoint = endpoints.has(path) ? request.method : undefined;
    if (endpoint === 'OPTIONS') {
      answerPreflight(request, response);
      metrics.httpRequests.inc({ route: routeKinds.get(path)!, status: response.statusCode });
      return;
    }
    if (endpoint !== 'POST') {
      app(request, response);
      return;
    }
    applyCorsHeaders(request, response);
    const query = new URLSearchParams(queryAt === -1 ? '' : url.slice(queryAt + 1));
    endpoints.get(path)!(request, response, query)
      .catch((error: unknown) => sendError(response, error, logger, routeKinds.get(path)!))
      .finally(() =>
        metrics.httpRequests.inc({ route: routeKinds.get(path)!, status: response.statusCode }),
      );
  };
}

const SHUTTING_DOWN = new SluiceError('SLUICE_E_SHUTTING_DOWN', undefined, {
  headers: { 'Retry-After': '5', Connection: 'close' },
});

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
    next();
  });

  app.get('/health', (_request, response) => {
    response.json({ status: 'ok' });
  });
  app.get('/ready', async (_request, response) => {
    const ready = await deps.isReady().catch(() => false);
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
    sendError(response, clientErrorOf(error), deps.logger, routeKind(request.path));
  });
  return app;
}

/**
 * The errors Express and its JSON parser raise for a client's mistake (a path with bad
 * %-encoding, an admin body that is not JSON) as catalog errors; anything else as it is.
 */
function clientErrorOf(error: unknown): unknown {
  const { status, type } = error as { status?: unknown; type?: unknown };
  if (error instanceof SluiceError || typeof status !== 'number' || status < 400 || status > 499) {
    return error;
  }
  const options = { cause: error };
  if (error instanceof URIError) return new SluiceError('SLUICE_E_INVALID_URL', undefined, options);
  // sendFile's answer for a file that is not there (an analytics.js chunk name no build has).
  if (status === 404) return new SluiceError('SLUICE_E_NOT_FOUND', undefined, options);
  const detail = (error as Error).message;
  switch (type) {
    case 'entity.parse.failed':
      return new SluiceError('SLUICE_E_INVALID_JSON', detail, options);
    case 'entity.too.large':
      return new SluiceError('SLUICE_E_BODY_TOO_LARGE', undefined, options);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new SluiceError('SLUICE_E_UNSUPPORTED_ENCODING', detail, options);
    default:
      return new SluiceError('SLUICE_E_INVALID_REQUEST', detail, options);
  }
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
