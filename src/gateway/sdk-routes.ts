/**
 * The collector's GET routes, served through Express: the tracking pixel, the configuration SDKs
 * load (Segment settings, RudderStack sourceConfig) and analytics.js with its chunks. Web pages
 * call these from any origin, so they (and only they, with the POST paths) answer CORS.
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Logger } from 'pino';
import type { Settings } from '../config/settings';
import type { Workspace } from '../config/workspace';
import { asSluiceError, SluiceError } from '../errors';
import { AnalyticsJs } from './analytics-js';
import { clientAddress } from './client-ip';
import { answerPreflight, applyCorsHeaders } from './cors';
import type { Collector } from './collector';
import { eventTypeOfPath } from './ingest-endpoints';
import { PIXEL_GIF, pixelMessage } from './pixel';
import { rudderSourceConfig, segmentSettings } from './sdk-config';

export interface SdkRoutesDeps {
  collector: Collector;
  settings: Settings;
  workspace: () => Workspace;
  trust: (address: string, hop: number) => boolean;
  logger: Logger;
}

export function createSdkRoutes(deps: SdkRoutesDeps): Router {
  const { collector, settings, logger } = deps;
  const analyticsJs = new AnalyticsJs();
  const router = express.Router({ strict: false });
  const publicUrl = settings.publicUrl === undefined ? undefined : new URL(settings.publicUrl);

  /** A GET route browsers call from any page: answered with CORS headers, preflight included. */
  const sdkGet = (paths: string[], handler: (request: Request, response: Response) => unknown) => {
    router.options(paths, answerPreflight);
    router.get(paths, withCors, handler);
  };
  const queryOf = (request: Request) => {
    const at = request.originalUrl.indexOf('?');
    return new URLSearchParams(at === -1 ? '' : request.originalUrl.slice(at + 1));
  };
  const enabledSource = (writeKey: string) => {
    const source = deps.workspace().sourcesByWriteKey.get(writeKey);
    if (!source?.enabled) {
      throw new SluiceError('SLUICE_E_NOT_FOUND', 'no enabled source has this write key');
    }
    return source;
  };
  /**
   * Where SDKs should send events: SLUICE_PUBLIC_URL, else this request's host. A body built
   * from the Host header says so in Vary, so that no shared cache serves it for another host.
   */
  const baseUrl = (request: Request, response: Response) => {
    if (publicUrl) return publicUrl;
    response.vary('Host').vary('X-Forwarded-Proto');
    return requestBaseUrl(request.protocol, request.get('host'));
  };

  const pixel = async (request: Request, response: Response) => {
    try {
      const type = eventTypeOfPath(request.params.type as string);
      if (!type) throw new SluiceError('SLUICE_E_NOT_FOUND', 'no such pixel type');
      const query = queryOf(request);
      await collector.collect(
        { headers: request.headers, query, ip: clientAddress(request, deps.trust) },
        pixelMessage(query, settings.maxJsonDepth),
        { pathType: type, batch: false },
      );
    } catch (error) {
      // Pixels are fire-and-forget images: report the problem here, never to the page. The
      // code says what was wrong; the message (like the URL) could quote what was sent.
      const { code } = asSluiceError(error);
      const err = code === 'SLUICE_E_INTERNAL' ? error : undefined;
      logger.warn({ code, err }, 'pixel request not stored');
    }
    response
      .status(200)
      .type('image/gif')
      .set('Cache-Control', 'no-cache, no-store, must-revalidate')
      .send(PIXEL_GIF);
  };
  sdkGet(['/v1/pixel/:type', '/pixel/:type', '/pixel/v1/:type'], pixel);

  sdkGet(
    ['/v1/projects/:writeKey/settings', '/projects/:writeKey/settings'],
    (request, response) => {
      const source = enabledSource(request.params.writeKey as string);
      const body = segmentSettings(source, baseUrl(request, response));
      response.set('Cache-Control', 'public, max-age=300').json(body);
    },
  );

  sdkGet(['/sourceConfig'], (request, response) => {
    const source = collector.authenticate({ headers: request.headers, query: queryOf(request) });
    response.json(rudderSourceConfig(source));
  });

  sdkGet(['/analytics.js/v1/:writeKey/:file'], (request, response) => {
    if (!/^analytics(\.min)?\.js$/.test(request.params.file as string)) {
      throw new SluiceError('SLUICE_E_NOT_FOUND');
    }
    const source = enabledSource(request.params.writeKey as string);
    const bundle = analyticsJs.bundle(source.writeKey, baseUrl(request, response));
    response
      .type('application/javascript')
      .set('Cache-Control', 'public, max-age=300')
      .send(bundle);
  });
  sdkGet(['/analytics-next/bundles/:file'], (request, response) => {
    const file = analyticsJs.chunkPath(request.params.file as string);
    if (!file) throw new SluiceError('SLUICE_E_NOT_FOUND');
    response.set('Cache-Control', 'public, max-age=31536000, immutable').sendFile(file);
  });
  return router;
}

function withCors(request: Request, response: Response, next: NextFunction): void {
  applyCorsHeaders(request, response);
  next();
}

/** `protocol://host` from a request, refusing a Host header that is not just a host[:port]. */
function requestBaseUrl(protocol: string, host: string | undefined): URL {
  let url: URL | undefined;
  try {
    if (host) url = new URL(`${protocol}://${host}`);
  } catch {
    // Not a host: refused below.
  }
  if (!url || url.pathname !== '/' || url.search || url.hash || url.username || url.password) {
    throw new SluiceError(
      'SLUICE_E_INVALID_REQUEST',
      'the Host header is not a host name (an operator can set SLUICE_PUBLIC_URL)',
    );
  }
  return url;
}
