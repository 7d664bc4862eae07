/**
 * The collector's GET routes, served through Express: the tracking pixel, the configuration SDKs
 * load (Segment settings, RudderStack sourceConfig) and analytics.js with its chunks.
 */
import express, { type Request, type Response, type Router } from 'express';
import type { Logger } from 'pino';
import type { Settings } from '../config/settings';
import type { Workspace } from '../config/workspace';
import { SluiceError } from '../errors';
import { AnalyticsJs } from './analytics-js';
import { clientAddress } from './client-ip';
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

  const queryOf = (request: Request) => new URL(request.originalUrl, 'http://sluice').searchParams;
  const enabledSource = (writeKey: string) => {
    const source = deps.workspace().sourcesByWriteKey.get(writeKey);
    if (!source?.enabled) {
      throw new SluiceError('SLUICE_E_NOT_FOUND', 'no enabled source has this write key');
    }
    return source;
  };
  const baseUrl = (request: Request) =>
    new URL(settings.publicUrl ?? `${request.protocol}://${request.get('host')}`);

  const pixel = async (request: Request, response: Response) => {
    try {
      const type = eventTypeOfPath(request.params.type as string);
      if (!type)
        throw new SluiceError('SLUICE_E_NOT_FOUND', `no pixel type "${request.params.type}"`);
      const query = queryOf(request);
      await collector.collect(
        { headers: request.headers, query, ip: clientAddress(request, deps.trust) },
        pixelMessage(query, settings.maxJsonDepth),
        { pathType: type, batch: false },
      );
    } catch (error) {
      // Pixels are fire-and-forget images: report the problem here, never to the page.
      logger.warn({ err: error, path: request.path }, 'pixel request not stored');
    }
    response
      .status(200)
      .type('image/gif')
      .set('Cache-Control', 'no-cache, no-store, must-revalidate')
      .send(PIXEL_GIF);
  };
  router.get('/v1/pixel/:type', pixel);
  router.get('/pixel/:type', pixel);
  router.get('/pixel/v1/:type', pixel);

  const settingsRoute = (request: Request, response: Response) => {
    const source = enabledSource(request.params.writeKey as string);
    response
      .set('Cache-Control', 'public, max-age=300')
      .json(segmentSettings(source, baseUrl(request)));
  };
  router.get('/v1/projects/:writeKey/settings', settingsRoute);
  router.get('/projects/:writeKey/settings', settingsRoute);

  router.get('/sourceConfig', (request, response) => {
    const source = collector.authenticate({ headers: request.headers, query: queryOf(request) });
    response.json(rudderSourceConfig(source));
  });

  router.get('/analytics.js/v1/:writeKey/:file', (request, response) => {
    if (!/^analytics(\.min)?\.js$/.test(request.params.file as string)) {
      throw new SluiceError('SLUICE_E_NOT_FOUND');
    }
    const source = enabledSource(request.params.writeKey as string);
    response
      .type('application/javascript')
      .set('Cache-Control', 'public, max-age=300')
      .send(analyticsJs.bundle(source.writeKey, baseUrl(request)));
  });
  router.get('/analytics-next/bundles/:file', (request, response) => {
    const file = analyticsJs.chunkPath(request.params.file as string);
    if (!file) throw new SluiceError('SLUICE_E_NOT_FOUND');
    response.set('Cache-Control', 'public, max-age=31536000, immutable').sendFile(file);
  });
  return router;
}
