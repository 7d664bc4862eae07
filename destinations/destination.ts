/**
 * The contract every destination module implements: data plus pure functions. A destination
 * declares its config schema and maps a Segment event to the HTTP requests its vendor's public
 * API expects; it performs no I/O. The router sends the requests, batches them, retries, throttles
 * and classifies responses (see src/router/).
 */
import type { z } from 'zod';
import type { Logger } from 'pino';
import type { EventType, SegmentEvent } from '../src/event';
import type { WarehouseDialect } from '../src/warehouse/naming';
import type { Warehouse } from '../src/warehouse/warehouse';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** One HTTP request for the router to send. */
export interface DestinationRequest {
  method: HttpMethod;
  url: string;
  headers: Record<string, string>;
  /** The body as sent (JSON text, form-encoded text, ...); absent for GET/DELETE. */
  body?: string;
  /**
   * Present when the request may be merged with others sharing `key` (same endpoint, same
   * headers, same credentials) into one batched request by the destination's `batching.combine`.
   * `item` is this request's contribution (e.g. one Amplitude event object).
   */
  batch?: BatchSlot;
}

/** How one request takes part in batching. */
export interface BatchSlot {
  key: string;
  item: unknown;
  /**
   * Narrower limits for batches of this key than the destination's `batching` ones, where the
   * endpoint or the config sets them (a webhook batches as many events as its config says). A
   * batch respects both.
   */
  limits?: BatchLimits;
}

/**
 * Most items in one batched request, and most bytes, counted as the sum of the UTF-8 length of
 * `JSON.stringify(item)` over the items. Destinations state byte limits below the vendor's so
 * that the envelope (`{"api_key":..,"events":[..]}`) fits in the difference.
 */
export interface BatchLimits {
  maxItems?: number;
  maxBytes?: number;
}

/** What a mapping function knows besides the event. */
export interface TransformContext<Config> {
  config: Config;
  destination: { id: string; name?: string };
}

/** An outcome a destination reads from a response, for the whole request or for one item. */
export type Verdict =
  | { outcome: 'ok' }
  | { outcome: 'retry'; reason: string; afterMs?: number }
  | { outcome: 'abort'; reason: string };

/**
 * A destination's reading of a response: one verdict for the whole request, or, where the vendor
 * answers per item, one verdict per item the request carried (`items[i]` for `sent.items[i]`).
 */
export type ResponseVerdict = Verdict | { outcome: 'per-item'; items: readonly Verdict[] };

/** A request as the router sent it, for the destination to read its response against. */
export interface SentRequest {
  request: DestinationRequest;
  /**
   * The batch items the request carried, in order: the items `batching.combine` joined, or the
   * request's own `batch.item` when it went alone. Empty for a request that is no batch.
   */
  items: readonly unknown[];
}

/** A request sent for an event, and the vendor's answer to it (see `Destination.followUp`). */
export interface Answer {
  request: DestinationRequest;
  response: DestinationResponse;
}

/** Most requests `followUp` may add to one event's, so that no answer can make a loop. */
export const MAX_FOLLOW_UPS = 8;

export interface DestinationResponse {
  status: number;
  headers: Record<string, string>;
  /**
   * The body as text, read up to the router's limit (MAX_RESPONSE_BYTES in
   * src/router/read-response.ts), the request's credentials masked.
   */
  body: string;
  /** Set when the body was longer than the limit and `body` is its beginning. */
  truncated?: boolean;
}

/** What every destination declares, tool or warehouse. */
interface DestinationBase<Config> {
  /** The `type` used in the workspace file, e.g. `amplitude`. */
  readonly type: string;
  /**
   * The display name events address in `integrations` (`{"Amplitude": false}`), as Segment
   * names the destination.
   */
  readonly integrationName: string;
  /** Validates and fills defaults of the workspace `config`; errors name the field. */
  readonly configSchema: z.ZodType<Config>;
  /** Event types the destination accepts; the processor drops the others for it. */
  readonly supportedTypes: readonly EventType[];
}

/**
 * A warehouse (PostgreSQL, BigQuery): events are staged by the processor and loaded in batches
 * by the warehouse loader (src/warehouse/), which maps them to Segment's tables.
 */
export interface WarehouseDestination<
  Config = Record<string, unknown>,
> extends DestinationBase<Config> {
  readonly kind: 'warehouse';
  /** How the warehouse names tables and columns, and what it can store. */
  readonly dialect: WarehouseDialect;
  /** The schema (BigQuery: dataset) a source's events load into. */
  schemaOf(config: Config, source: { id: string; name?: string }): string;
  /** Seconds between loads. */
  syncIntervalSeconds(config: Config): number;
  /** A client for the warehouse; the loader closes it when the destination goes. */
  connect(config: Config, context: { logger: Logger }): Warehouse;
  /**
   * Every credential the config holds (a password, a service account's key), for the loader to
   * mask in the errors it stores and serves, as the router does for tool destinations.
   */
  credentialsOf?(config: Config): string[];
}

/** Any destination; the registry holds both kinds side by side. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyDestination = Destination<any> | WarehouseDestination<any>;

/** A tool destination: the router sends each event to the vendor's HTTP API. */
export interface Destination<Config = Record<string, unknown>> extends DestinationBase<Config> {
  /** `tool` destinations get delivery rows; warehouses (WarehouseDestination) staging rows. */
  readonly kind: 'tool';
  /**
   * Maps one event to zero or more requests (zero: nothing to send for this event). Throws
   * DestinationMappingError when the event cannot be sent (a required field is missing): the
   * event is then aborted with that reason, not retried.
   */
  transform(event: SegmentEvent, context: TransformContext<Config>): DestinationRequest[];
  /** For destinations whose API accepts batches. */
  readonly batching?: {
    /** Most items in one batched request, and most item bytes (see BatchLimits). */
    maxItems: number;
    maxBytes: number;
    /**
     * One request carrying `items`, built from the first request of the batch. For any batchable
     * request `r`, `combine([r.batch.item], r, context)` equals `r` apart from `batch`, so the
     * router may send a lone request as it is.
     */
    combine(
      items: unknown[],
      first: DestinationRequest,
      context: TransformContext<Config>,
    ): DestinationRequest;
  };
  /**
   * Overrides the router's status-based classification for vendor quirks (a 200 whose body
   * reports an error, a 400 that means "rate limited"), and judges each item of a batch where the
   * vendor answers per item (Mixpanel's `failed_records`, Braze's `errors[].index`), so that one
   * refused item fails alone. Return undefined to use the default.
   */
  interpretResponse?(response: DestinationResponse, sent: SentRequest): ResponseVerdict | undefined;
  /**
   * For vendors whose writes need an id they assign (Intercom updates a contact and attaches it
   * to a company by Intercom ids, which only its answers carry): the requests to send next for
   * `event`, given the answers to its requests so far, in order, the last being the one just
   * answered with success. Pure like transform, and it may throw DestinationMappingError; `[]`
   * when the event is done. The router calls it only for an event sent on its own requests
   * (never for a combined batch), and adds at most MAX_FOLLOW_UPS requests per event. A retried
   * event starts again from transform, so every step must be safe to repeat.
   */
  followUp?(
    event: SegmentEvent,
    answers: readonly Answer[],
    context: TransformContext<Config>,
  ): DestinationRequest[];
  /**
   * Every credential the config holds (keys, tokens, secrets, a webhook URL that is itself the
   * secret). The router masks them, and the values of headers and query parameters named like
   * credentials, in everything it stores or serves: dead letters' requests, responses and
   * reasons, and the last error of rows waiting for a retry.
   */
  credentialsOf?(config: Config): string[];
}

/** A mapping failure that retrying cannot fix; the event is aborted with this message. */
export class DestinationMappingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DestinationMappingError';
  }
}

/** Identity helper that keeps a destination literal's Config type. */
export function defineDestination<Config>(destination: Destination<Config>): Destination<Config> {
  return destination;
}

/** Identity helper that keeps a warehouse literal's Config type. */
export function defineWarehouse<Config>(
  destination: WarehouseDestination<Config>,
): WarehouseDestination<Config> {
  return destination;
}
