/**
 * The collector: authenticates a request's write key, validates and normalizes its events, and
 * resolves once they are committed to the ingest queue. HTTP-agnostic: the POST endpoints and
 * the pixel both hand it a parsed message.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import type { Settings } from '../config/settings';
import type { Source, Workspace } from '../config/workspace';
import type { AcceptedItem, LiveFeed } from '../admin/live-feed';
import { asSluiceError, SluiceError } from '../errors';
import { userKeyOf, type EventType, type SegmentEvent } from '../event';
import type { Metrics } from '../metrics';
import type { IngestRow } from '../queue/insert-ingest-jobs';
import { partitionOf } from '../queue/partition';
import {
  isPlainObject,
  normalizeEvent,
  parseBatchSentAt,
  type RequestContext,
} from './normalize-event';
import { RateLimiter } from './rate-limiter';
import { writeKeyFromBody, writeKeyFromHeader, writeKeyFromQuery } from './write-key';

export interface CollectorDeps {
  settings: Settings;
  workspace: () => Workspace;
  ingest: { enqueue(rows: IngestRow[]): Promise<void> };
  /** Where accepted and rejected events go while someone watches (the console's live view). */
  live?: LiveFeed;
  metrics: Metrics;
  logger: Logger;
}

/** What the collector needs of an HTTP request. */
export interface CollectorRequest {
  headers: IncomingHttpHeaders;
  query: URLSearchParams;
  /** The client address (proxy headers already resolved). */
  ip: string | undefined;
}

export interface Rejection {
  index: number;
  messageId?: string;
  code: string;
  message: string;
}

export interface CollectKind {
  /** The type implied by the path, for single-event endpoints. */
  pathType?: EventType;
  batch: boolean;
  /** Batch items already refused as sent: too large or too deep (see parse-message.ts). */
  refusedItems?: ReadonlyMap<number, SluiceError>;
}

export class Collector {
  readonly #rateLimiter = new RateLimiter();

  constructor(private readonly deps: CollectorDeps) {}

  /** Stores the message's events; returns the events rejected (a batch keeps the good ones). */
  async collect(
    request: CollectorRequest,
    message: unknown,
    kind: CollectKind,
  ): Promise<Rejection[]> {
    const source = this.authenticate(request, message);
    const live = this.deps.live?.watchesSource(source.id) ? this.deps.live : undefined;
    if (!live) return this.#collect(source, request, message, kind);
    const accepted: SegmentEvent[] = [];
    const at = new Date().toISOString();
    try {
      const rejected = await this.#collect(source, request, message, kind, accepted);
      for (const event of accepted) live.publish(acceptedItem(source.id, at, event));
      for (const { index, messageId, code, message: text } of rejected) {
        live.publish({
          kind: 'rejected',
          sourceId: source.id,
          at,
          code,
          message: text,
          index,
          messageId,
        });
      }
      return rejected;
    } catch (error) {
      this.#publishRefusal(source.id, error);
      throw error;
    }
  }

  /**
   * Tells whoever watches the request's source that the request was refused before it was
   * read (a body too large, not JSON): the write key is taken from the header or query alone.
   */
  noteRefused(request: Pick<CollectorRequest, 'headers' | 'query'>, error: unknown): void {
    const live = this.deps.live;
    if (!live) return;
    const writeKey = writeKeyFromHeader(request.headers) ?? writeKeyFromQuery(request.query);
    const source = writeKey && this.deps.workspace().sourcesByWriteKey.get(writeKey);
    if (source && live.watchesSource(source.id)) this.#publishRefusal(source.id, error);
  }

  #publishRefusal(sourceId: string, error: unknown): void {
    const refusal = asSluiceError(error);
    this.deps.live?.publish({
      kind: 'rejected',
      sourceId,
      at: new Date().toISOString(),
      code: refusal.code,
      message: refusal.message,
    });
  }

  /** collect's work for an authenticated source; `accepted` gets the events stored, if given. */
  async #collect(
    source: Source,
    request: CollectorRequest,
    message: unknown,
    kind: CollectKind,
    accepted?: SegmentEvent[],
  ): Promise<Rejection[]> {
    const { metrics, logger } = this.deps;
    const receivedAt = new Date();
    const items = kind.batch ? this.#batchItems(message) : [message];
    const headers = request.headers;
    if (source.dropDoNotTrack && (headers.dnt === '1' || headers['sec-gpc'] === '1')) {
      metrics.eventsDroppedDoNotTrack.inc({ source: source.id }, items.length);
      return [];
    }
    const retryAfter = this.#rateLimiter.wait(source.id, items.length, source.rateLimit);
    if (retryAfter > 0) {
      throw new SluiceError('SLUICE_E_RATE_LIMITED', `retry after ${retryAfter} s`, {
        headers: { 'Retry-After': String(retryAfter), 'X-RateLimit-Reset': String(retryAfter) },
      });
    }
    const batch = kind.batch ? (message as Record<string, unknown>) : undefined;
    const context: RequestContext = {
      receivedAt,
      receivedAtIso: receivedAt.toISOString(),
      ip: request.ip,
      anonymizeIp: source.anonymizeIp,
      pathType: kind.pathType,
      batchContext: isPlainObject(batch?.context) ? batch.context : undefined,
      batchIntegrations: isPlainObject(batch?.integrations) ? batch.integrations : undefined,
      batchSentAt: parseBatchSentAt(batch?.sentAt),
    };
    const rows: IngestRow[] = [];
    const rejected: Rejection[] = [];
    let firstError: SluiceError | undefined;
    const reject = (index: number, error: SluiceError, messageId: string | undefined) => {
      rejected.push({ index, messageId, code: error.code, message: error.message });
      metrics.eventsRejected.inc({ source: source.id, code: error.code });
      firstError ??= error;
    };
    for (let index = 0; index < items.length; index++) {
      const item = items[index];
      const refused = kind.refusedItems?.get(index);
      if (refused) {
        const messageId = isPlainObject(item)
          ? String(item.messageId ?? '') || undefined
          : undefined;
        reject(index, refused, messageId);
        continue;
      }
      const result = normalizeEvent(item, context);
      if (!result.ok) {
        reject(index, result.error, result.messageId);
        continue;
      }
      accepted?.push(result.event);
      rows.push({
        partition: partitionOf(userKeyOf(result.event)),
        sourceId: source.id,
        messageId: result.event.messageId,
        receivedAt: context.receivedAtIso,
        payload: JSON.stringify(result.event),
      });
    }
    if (firstError) {
      // Codes and positions only: the messages quote the values sent, which can be personal data.
      const logged = rejected.map(({ index, messageId, code }) => ({ index, messageId, code }));
      logger.warn({ source: source.id, rejected: logged }, 'events rejected');
      // A single event, or a batch with nothing valid in it, is refused as a whole.
      if (rows.length === 0) {
        if (!kind.batch) throw firstError;
        throw new SluiceError(
          'SLUICE_E_INVALID_BATCH',
          `every event was rejected; the first: ${firstError.message}`,
        );
      }
    }
    // Only events accepted count against the rate limit; taken before the await, so concurrent
    // requests see each other's tokens gone.
    this.#rateLimiter.take(source.id, rows.length, source.rateLimit);
    try {
      await this.deps.ingest.enqueue(rows);
    } catch (error) {
      this.#rateLimiter.take(source.id, -rows.length, source.rateLimit);
      logger.error({ err: error, source: source.id }, 'storing events failed');
      throw new SluiceError('SLUICE_E_DATABASE_UNAVAILABLE', undefined, {
        cause: error,
        headers: { 'Retry-After': '5' },
      });
    }
    metrics.eventsAccepted.inc({ source: source.id }, rows.length);
    return rejected;
  }

  /** The enabled source whose write key the request carries (header, body, then query). */
  authenticate(request: Pick<CollectorRequest, 'headers' | 'query'>, message?: unknown): Source {
    const writeKey =
      writeKeyFromHeader(request.headers) ??
      writeKeyFromBody(message) ??
      writeKeyFromQuery(request.query);
    if (!writeKey) throw new SluiceError('SLUICE_E_MISSING_WRITE_KEY');
    const source = this.deps.workspace().sourcesByWriteKey.get(writeKey);
    if (!source) throw new SluiceError('SLUICE_E_UNKNOWN_WRITE_KEY');
    // Without the source's id: the caller may not know it, and need not.
    if (!source.enabled) throw new SluiceError('SLUICE_E_SOURCE_DISABLED');
    return source;
  }

  #batchItems(message: unknown): unknown[] {
    const { maxBatchEvents } = this.deps.settings;
    if (!isPlainObject(message) || !Array.isArray(message.batch)) {
      throw new SluiceError('SLUICE_E_INVALID_BATCH', 'the body needs a "batch" array');
    }
    if (message.batch.length > maxBatchEvents) {
      throw new SluiceError(
        'SLUICE_E_TOO_MANY_EVENTS',
        `${message.batch.length} events; the limit is ${maxBatchEvents}`,
      );
    }
    return message.batch;
  }
}

function acceptedItem(sourceId: string, at: string, event: SegmentEvent): AcceptedItem {
  return {
    kind: 'accepted',
    sourceId,
    at,
    messageId: event.messageId,
    type: event.type,
    event: event.event,
    userId: event.userId,
    anonymousId: event.anonymousId,
    payload: JSON.stringify(event),
  };
}
