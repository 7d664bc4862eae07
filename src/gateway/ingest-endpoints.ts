/**
 * The POST paths SDKs send events to, served straight from Node's HTTP server without Express
 * routing (the hot path): `/v1/{identify,track,...}`, the one-letter forms, `/v1/{batch,import,b}`,
 * `/beacon/v1/batch`, `/v1/m`, and the same paths without `/v1`, trailing slash tolerated.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Settings } from '../config/settings';
import type { EventType } from '../event';
import { sendJson } from '../http/respond';
import { clientAddress } from './client-ip';
import type { CollectKind, Collector } from './collector';
import { parseMessage } from './parse-message';
import { readBodyText } from './read-body';

/** Handles one request whose path matched; `query` is its parsed query string. */
export type EndpointHandler = (
  request: IncomingMessage,
  response: ServerResponse,
  query: URLSearchParams,
) => Promise<void>;

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

/** The one-letter and full names of the single-event paths, for the pixel too. */
export function eventTypeOfPath(name: string): EventType | undefined {
  return Object.hasOwn(SINGLE_PATHS, name) ? SINGLE_PATHS[name] : undefined;
}

const OK = JSON.stringify({ success: true });

/** Maps each POST path (without trailing slash) to its handler. */
export function createIngestEndpoints(
  collector: Collector,
  settings: Settings,
  trust: (address: string, hop: number) => boolean,
): Map<string, EndpointHandler> {
  const parseLimits = { maxDepth: settings.maxJsonDepth, maxItemBytes: settings.maxEventBytes };

  const handler =
    (kind: Omit<CollectKind, 'refusedItems'>): EndpointHandler =>
    async (request, response, query) => {
      const maxBodyBytes = kind.batch ? settings.maxBatchBytes : settings.maxEventBytes;
      let parsed;
      try {
        parsed = parseMessage(await readBodyText(request, maxBodyBytes), parseLimits);
      } catch (error) {
        collector.noteRefused({ headers: request.headers, query }, error);
        throw error;
      }
      const { message, refusedItems } = parsed;
      const rejected = await collector.collect(
        { headers: request.headers, query, ip: clientAddress(request, trust) },
        message,
        { ...kind, refusedItems },
      );
      sendJson(response, 200, rejected.length > 0 ? { success: true, rejected } : OK);
    };

  const endpoints = new Map<string, EndpointHandler>();
  const batch = handler({ batch: true });
  for (const prefix of ['/v1', '']) {
    for (const [path, pathType] of Object.entries(SINGLE_PATHS)) {
      endpoints.set(`${prefix}/${path}`, handler({ pathType, batch: false }));
    }
    for (const path of ['batch', 'import', 'b']) endpoints.set(`${prefix}/${path}`, batch);
    // SDK telemetry (analytics-next RemoteMetrics, mobile SDKs): read, accepted and ignored.
    endpoints.set(`${prefix}/m`, async (request, response) => {
      await readBodyText(request, settings.maxBatchBytes);
      sendJson(response, 200, OK);
    });
  }
  endpoints.set('/beacon/v1/batch', batch);
  return endpoints;
}
