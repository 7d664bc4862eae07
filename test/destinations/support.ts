/**
 * Fixtures and helpers for destination mapping tests: realistic Segment events as the gateway
 * stores them (browser and mobile contexts), a transform context built through the
 * destination's own config schema, and helpers to read bodies, combine batches and ask a
 * destination for its verdict on a response.
 */
import type {
  Destination,
  DestinationRequest,
  ResponseVerdict,
  SentRequest,
  TransformContext,
} from '../../destinations/destination';
import { validateDestinationConfig } from '../../destinations';
import type { SegmentEvent } from '../../src/event';

export const TIMESTAMP = '2024-05-01T12:00:00.000Z';
export const TIMESTAMP_MS = Date.parse(TIMESTAMP);

export const BROWSER_CONTEXT = {
  ip: '203.0.113.7',
  library: { name: 'analytics.js', version: 'next-1.70.0' },
  locale: 'en-GB',
  page: {
    path: '/pricing',
    referrer: 'https://www.google.com/',
    search: '?plan=pro',
    title: 'Pricing – Acme',
    url: 'https://acme.example/pricing?plan=pro',
  },
  userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 Safari/605.1.15',
  campaign: { name: 'spring_sale', source: 'newsletter', medium: 'email' },
  timezone: 'Europe/Berlin',
};

export const MOBILE_CONTEXT = {
  ip: '198.51.100.23',
  app: { name: 'Acme', version: '3.2.1', build: '321' },
  device: {
    id: 'B5372DB0-C21E-11E4-8DFC-AA07A5B093DB',
    manufacturer: 'Apple',
    model: 'iPhone15,2',
    type: 'ios',
    advertisingId: '7A3CBEA0-BDF5-11E4-8DFC-AA07A5B093DB',
  },
  os: { name: 'iOS', version: '17.4' },
  network: { carrier: 'T-Mobile', wifi: true },
  screen: { width: 393, height: 852 },
  library: { name: 'analytics-swift', version: '1.5.0' },
  location: {
    city: 'Berlin',
    country: 'Germany',
    region: 'BE',
    latitude: 52.52,
    longitude: 13.405,
  },
  locale: 'de-DE',
};

/** An event as the gateway stores it; `fields` override the defaults. */
export function segmentEvent(
  type: SegmentEvent['type'],
  fields: Partial<SegmentEvent> = {},
): SegmentEvent {
  return {
    type,
    messageId: 'ajs-next-1714564800000-4b1e2f',
    anonymousId: 'a1b2c3d4-0000-4c4c-8888-0123456789ab',
    userId: 'user-4711',
    context: BROWSER_CONTEXT,
    integrations: {},
    timestamp: TIMESTAMP,
    originalTimestamp: '2024-05-01T11:59:58.500Z',
    sentAt: '2024-05-01T11:59:59.000Z',
    receivedAt: '2024-05-01T12:00:00.500Z',
    ...fields,
  };
}

export function track(event: string, properties: Record<string, unknown> = {}, fields = {}) {
  return segmentEvent('track', { event, properties, ...fields });
}

export function identify(traits: Record<string, unknown>, fields: Partial<SegmentEvent> = {}) {
  return segmentEvent('identify', { traits, ...fields });
}

/** The transform context for a config, parsed (defaults filled) as the workspace loader does. */
export function contextFor<Config>(
  destination: Destination<Config>,
  config: Record<string, unknown>,
): TransformContext<Config> {
  const parsed = validateDestinationConfig({ type: destination.type, config }) as Config;
  return { config: parsed, destination: { id: 'dest-1', name: 'Test destination' } };
}

/** The error message of an invalid config. */
export function configError(type: string, config: Record<string, unknown>): string {
  try {
    validateDestinationConfig({ type, config });
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('the config was accepted');
}

/** One test per invalid config: its error message names the field (`url: Invalid URL`). */
export function testConfigErrors(type: string, cases: [Record<string, unknown>, string][]): void {
  test.each(cases)('rejects %j naming the field', (config, message) => {
    expect(configError(type, config)).toContain(message);
  });
}

/** The one request an event maps to. */
export function onlyRequest<Config>(
  destination: Destination<Config>,
  context: TransformContext<Config>,
  event: SegmentEvent,
): DestinationRequest {
  const requests = destination.transform(event, context);
  expect(requests).toHaveLength(1);
  return requests[0];
}

/** A request's body parsed as JSON. */
export function bodyOf(request: DestinationRequest): unknown {
  return JSON.parse(request.body ?? 'null');
}

/**
 * The request `combine` makes of these requests' items (checking each lone request is what
 * combine makes of its own item, as the contract promises).
 */
export function combined<Config>(
  destination: Destination<Config>,
  context: TransformContext<Config>,
  requests: DestinationRequest[],
): DestinationRequest {
  const batching = destination.batching!;
  for (const request of requests) {
    const { batch, ...lone } = request;
    expect(batch).toBeDefined();
    expect(batching.combine([batch!.item], request, context)).toEqual(lone);
  }
  return batching.combine(
    requests.map((request) => request.batch!.item),
    requests[0],
    context,
  );
}

/**
 * What the destination makes of a response to `sent` (by default a request that is no batch);
 * undefined: the router's default applies.
 */
export function verdictOf<Config>(
  destination: Destination<Config>,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
  sent: SentRequest = {
    request: { method: 'POST', url: 'https://vendor.example/', headers: {} },
    items: [],
  },
): ResponseVerdict | undefined {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return destination.interpretResponse?.({ status, headers, body: text }, sent);
}

/** What `requests` (batchable) look like sent as one batch, for verdictOf. */
export function sentBatch<Config>(
  destination: Destination<Config>,
  context: TransformContext<Config>,
  requests: DestinationRequest[],
): SentRequest {
  return {
    request: combined(destination, context, requests),
    items: requests.map((request) => request.batch!.item),
  };
}

/** `Basic base64(user:password)`. */
export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}
