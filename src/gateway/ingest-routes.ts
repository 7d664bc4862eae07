/**
 * The collector's HTTP routes: every path the Segment and RudderStack SDKs post to, with and
 * without the `/v1` prefix. A request is authenticated by write key, its events validated and
 * normalized, and it is answered 200 only after its events are committed to the ingest queue.
 */
import express, { type Request, type Response, type Router } from 'express';
import type { Logger } from 'pino';
import type { Settings } from '../config/settings';
import type { Source, Workspace } from '../config/workspace';
import { SluiceError } from '../errors';
import type { EventType } from '../event';
import { userKeyOf } from '../event';
import type { Metrics } from '../metrics';
import type { IngestRow } from '../queue/insert-ingest-jobs';
import { partitionOf } from '../queue/partition';
import { AnalyticsJs } from './analytics-js';
import { plainIp } from './client-ip';
import { isPlainObject, normalizeEvent, type RequestContext } from './normalize-event';
import { PIXEL_GIF, pixelMessage } from './pixel';
import { parseJson, readBodyText } from './read-body';
import { RateLimiter } from './rate-limiter';
import { rudderSourceConfig, segmentSettings } from './sdk-config';
import { writeKeyFromBody, writeKeyFromHeader, writeKeyFromQuery } from './write-key';

export interface GatewayDeps {
  settings: Settings;
  workspace: () => Workspace;
  ingest: { enqueue(rows: IngestRow[]): Promise<void> };
  metrics: Metrics;
  logger: Logger;
}

const SINGLE_PATHS: Record<string, EventType> = {
  identify: 'identify',
  track: 'track',
  page: 'page',
  screen: 'screen',
  group: 'group',
  alias: 'alias',
  i: 'identify',
  t: 'track',
  p: 'page',
  s: 'screen',
  g: 'group',
  a: 'alias',
};
const BATCH_PATHS = ['batch', 'import', 'b'];

interface Rejection {
  index: number;
  messageId?: string;
  code: string;
  message: string;
}

export function createIngestRoutes(deps: GatewayDeps): Router {
  const { settings, metrics, logger } = deps;
  const rateLimiter = new RateLimiter();
  const analyticsJs = new AnalyticsJs();

  /** Reads, authenticates and stores one request's events; returns the events rejected. */
  async function ingest(
    request: Request,
    message: unknown,
    kind: { pathType?: EventType; batch: boolean },
    bodyBytes = 0,
  ): Promise<{ source: Source; stored: number; rejected: Rejection[] }> {
    const receivedAt = new Date();
    const source = authenticate(request, message);
    const items = kind.batch ? batchItems(message) : [message];
    if (
      source.dropDoNotTrack &&
      (request.headers.dnt === '1' || request.headers['sec-gpc'] === '1')
    ) {
      metrics.eventsDroppedDoNotTrack.inc({ source: source.id }, items.length);
      return { source, stored: 0, rejected: [] };
    }
    const retryAfter = rateLimiter.take(source.id, items.length, source.rateLimit);
    if (retryAfter > 0) {
      throw new SluiceError('SLUICE_E_RATE_LIMITED', `retry after ${retryAfter} s`, {
        headers: { 'Retry-After': String(retryAfter), 'X-RateLimit-Reset': String(retryAfter) },
      });
    }
    const batch = kind.batch ? (message as Record<string, unknown>) : undefined;
    const context: RequestContext = {
      receivedAt,
      ip: request.ip ? plainIp(request.ip) : undefined,
      anonymizeIp: source.anonymizeIp,
      pathType: kind.pathType,
      batchContext: isPlainObject(batch?.context) ? batch.context : undefined,
      batchIntegrations: isPlainObject(batch?.integrations) ? batch.integrations : undefined,
      batchSentAt: batch?.sentAt,
    };
    const rows: IngestRow[] = [];
    const rejected: Rejection[] = [];
    let firstError: SluiceError | undefined;
    const receivedAtIso = receivedAt.toISOString();
    // No event can exceed the per-event limit when the whole body is within it.
    const checkEventSize = kind.batch && bodyBytes > settings.maxEventBytes;
    items.forEach((item, index) => {
      const reject = (error: SluiceError, messageId?: string) => {
        rejected.push({ index, messageId, code: error.code, message: error.message });
        metrics.eventsRejected.inc({ source: source.id, code: error.code });
        firstError ??= error;
      };
      if (checkEventSize && Buffer.byteLength(JSON.stringify(item)) > settings.maxEventBytes) {
        return reject(
          new SluiceError(
            'SLUICE_E_EVENT_TOO_LARGE',
            `the limit is ${settings.maxEventBytes} bytes`,
          ),
          isPlainObject(item) && typeof item.messageId === 'string' ? item.messageId : undefined,
        );
      }
      const result = normalizeEvent(item, context);
      if (!result.ok) return reject(result.error, result.messageId);
      rows.push({
        partition: partitionOf(userKeyOf(result.event)),
        sourceId: source.id,
        messageId: result.event.messageId,
        receivedAt: receivedAtIso,
        payload: JSON.stringify(result.event),
      });
    });
    if (firstError) {
      logger.warn({ source: source.id, rejected }, 'events rejected');
      // A single event, or a batch with nothing valid in it, is refused as a whole.
      if (rows.length === 0) {
        if (!kind.batch) throw firstError;
        throw new SluiceError(
          'SLUICE_E_INVALID_BATCH',
          `every event was rejected; the first: ${firstError.message}`,
        );
      }
    }
    try {
      await deps.ingest.enqueue(rows);
    } catch (error) {
      logger.error({ err: error, source: source.id }, 'storing events failed');
      throw new SluiceError('SLUICE_E_DATABASE_UNAVAILABLE', undefined, {
        cause: error,
        headers: { 'Retry-After': '5' },
      });
    }
    metrics.eventsAccepted.inc({ source: source.id }, rows.length);
    return { source, stored: rows.length, rejected };
  }

  function authenticate(request: Request, message: unknown): Source {
    const writeKey =
      writeKeyFromHeader(request.headers) ??
      writeKeyFromBody(message) ??
      writeKeyFromQuery(request.query);
    if (!writeKey) throw new SluiceError('SLUICE_E_MISSING_WRITE_KEY');
    const source = deps.workspace().sourcesByWriteKey.get(writeKey);
    if (!source) throw new SluiceError('SLUICE_E_UNKNOWN_WRITE_KEY');
    if (!source.enabled) throw new SluiceError('SLUICE_E_SOURCE_DISABLED', source.id);
    return source;
  }

  function batchItems(message: unknown): unknown[] {
    if (!isPlainObject(message) || !Array.isArray(message.batch)) {
      throw new SluiceError('SLUICE_E_INVALID_BATCH', 'the body needs a "batch" array');
    }
    if (message.batch.length > settings.maxBatchEvents) {
      throw new SluiceError(
        'SLUICE_E_TOO_MANY_EVENTS',
        `${message.batch.length} events; the limit is ${settings.maxBatchEvents}`,
      );
    }
    return message.batch;
  }

  async function readMessage(
    request: Request,
    limit: number,
  ): Promise<{ message: unknown; bytes: number }> {
    const text = await readBodyText(request, limit);
    return { message: parseJson(text, settings.maxJsonDepth), bytes: Buffer.byteLength(text) };
  }

  function answer(response: Response, rejected: Rejection[]): void {
    response
      .status(200)
      .json(rejected.length > 0 ? { success: true, rejected } : { success: true });
  }

  const router = express.Router({ strict: false });

  const single = (pathType: EventType) => async (request: Request, response: Response) => {
    const { message } = await readMessage(request, settings.maxEventBytes);
    const { rejected } = await ingest(request, message, { pathType, batch: false });
    answer(response, rejected);
  };
  const batch = async (request: Request, response: Response) => {
    const { message, bytes } = await readMessage(request, settings.maxBatchBytes);
    const { rejected } = await ingest(request, message, { batch: true }, bytes);
    answer(response, rejected);
  };

  const pixel = async (request: Request, response: Response) => {
    const type = SINGLE_PATHS[request.params.type as string];
    try {
      if (!type)
        throw new SluiceError('SLUICE_E_NOT_FOUND', `no pixel type "${request.params.type}"`);
      const message = pixelMessage(request.query as Record<string, unknown>);
      await ingest(request, message, { pathType: type, batch: false });
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

  for (const prefix of ['/v1', '']) {
    for (const [path, type] of Object.entries(SINGLE_PATHS)) {
      router.post(`${prefix}/${path}`, single(type));
    }
    for (const path of BATCH_PATHS) router.post(`${prefix}/${path}`, batch);

    // SDK telemetry (analytics-next RemoteMetrics, mobile): accepted and ignored.
    router.post(`${prefix}/m`, async (request, response) => {
      await readBodyText(request, settings.maxBatchBytes);
      response.status(200).json({ success: true });
    });

    router.get(`${prefix}/pixel/:type`, pixel);

    router.get(`${prefix}/projects/:writeKey/settings`, (request, response) => {
      const source = deps.workspace().sourcesByWriteKey.get(request.params.writeKey as string);
      if (!source?.enabled)
        throw new SluiceError('SLUICE_E_NOT_FOUND', 'no enabled source has this write key');
      response
        .set('Cache-Control', 'public, max-age=300')
        .json(segmentSettings(source, baseUrl(request)));
    });
  }
  router.post('/beacon/v1/batch', batch);
  router.get('/pixel/v1/:type', pixel);

  router.get('/sourceConfig', (request, response) => {
    const writeKey = writeKeyFromHeader(request.headers) ?? writeKeyFromQuery(request.query);
    const source = writeKey ? deps.workspace().sourcesByWriteKey.get(writeKey) : undefined;
    if (!source) throw new SluiceError('SLUICE_E_UNKNOWN_WRITE_KEY');
    response.json(rudderSourceConfig(source));
  });

  router.get('/analytics.js/v1/:writeKey/:file', (request, response) => {
    if (!/^analytics(\.min)?\.js$/.test(request.params.file as string)) {
      throw new SluiceError('SLUICE_E_NOT_FOUND');
    }
    const source = deps.workspace().sourcesByWriteKey.get(request.params.writeKey as string);
    if (!source?.enabled)
      throw new SluiceError('SLUICE_E_NOT_FOUND', 'no enabled source has this write key');
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

  function baseUrl(request: Request): URL {
    return new URL(settings.publicUrl ?? `${request.protocol}://${request.get('host')}`);
  }

  return router;
}
