/**
 * The HTTP shell every Sluice process serves: health, readiness and metrics, CORS, JSON errors
 * from the error catalog, plus the routers of the roles this process runs (the collector, the
 * admin API).
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Logger } from 'pino';
import { asSluiceError, SluiceError } from '../errors';
import type { Metrics } from '../metrics';
import { cors } from '../gateway/cors';

export interface HttpAppDeps {
  trustProxy: string;
  logger: Logger;
  metrics: Metrics;
  /** Resolves true when the process can do its work (database reachable). */
  isReady: () => Promise<boolean>;
  isShuttingDown: () => boolean;
  routers: Router[];
}

export function createHttpApp(deps: HttpAppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('trust proxy', parseTrustProxy(deps.trustProxy));

  app.use((request, response, next) => {
    // Clients should reconnect elsewhere once this process is going away.
    if (deps.isShuttingDown()) response.set('Connection', 'close');
    response.on('finish', () => {
      deps.metrics.httpRequests.inc({
        route: routeKind(request.path),
        status: response.statusCode,
      });
    });
    next();
  });
  app.use(cors);

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
    const sluiceError = asSluiceError(error);
    if (sluiceError.status >= 500 && sluiceError.code !== 'SLUICE_E_DATABASE_UNAVAILABLE') {
      deps.logger.error({ err: error, path: request.path }, 'request failed');
    }
    if (response.headersSent) return;
    response.set(sluiceError.headers);
    // The rest of an oversized or unreadable body is never read: close instead of draining it.
    if (sluiceError.status === 413 || sluiceError.status === 415)
      response.set('Connection', 'close');
    response.status(sluiceError.status).json(sluiceError.toJSON());
  });
  return app;
}

function routeKind(path: string): string {
  if (path.startsWith('/admin')) return 'admin';
  if (path === '/health' || path === '/ready' || path === '/metrics') return path.slice(1);
  if (path.includes('/pixel')) return 'pixel';
  if (/\/(batch|import|b)\/?$/.test(path)) return 'batch';
  if (path.includes('analytics')) return 'analytics.js';
  return 'other';
}

function parseTrustProxy(value: string): boolean | number | string {
  if (value === 'true') return true;
  if (value === 'false') return false;
  if (/^\d+$/.test(value)) return Number(value);
  return value;
}
