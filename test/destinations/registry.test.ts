import {
  DESTINATIONS,
  destinationOf,
  toolDestinationOf,
  validateDestinationConfig,
} from '../../destinations';
import { parseWorkspace } from '../../src/config/workspace';
import type { SegmentEvent } from '../../src/event';
import { BROWSER_CONTEXT, combined, contextFor, MOBILE_CONTEXT, segmentEvent } from './support';

/** A working config for every type, the smallest each accepts. */
const CONFIGS: Record<string, Record<string, unknown>> = {
  amplitude: { apiKey: 'amp-key' },
  braze: { restEndpoint: 'https://rest.iad-01.braze.com', apiKey: 'braze-key' },
  customerio: { siteId: 'site', apiKey: 'cio-key' },
  facebook_conversions: { pixelId: '1234567890', accessToken: 'meta-token' },
  ga4: { measurementId: 'G-ABC123XYZ', apiSecret: 'secret', identifyEventName: 'identify' },
  iterable: { apiKey: 'iterable-key' },
  klaviyo: { privateApiKey: 'pk_klaviyo' },
  hubspot: {
    accessToken: 'pat-na1-token',
    hubId: '1234567',
    events: { 'Order Completed': 'order_completed' },
    pageEvent: 'page_viewed',
    contactProperties: { plan: 'plan' },
  },
  intercom: { accessToken: 'intercom-token' },
  mixpanel: { projectToken: 'token', groupKey: 'company_id', identityMerge: 'original' },
  posthog: { apiKey: 'phc_key' },
  segment: { writeKey: 'write-key' },
  slack: { webhookUrl: 'https://hooks.slack.com/services/T0/B0/x' },
  tiktok_events: { accessToken: 'tiktok-token', pixelCode: 'C4ABCDEF123' },
  webhook: { url: 'https://hooks.example.com/in', batchSize: 10 },
};

/** The warehouse types; every other type is a tool. */
const WAREHOUSES = ['bigquery', 'postgres'];

/** One rich event of each type. */
const EVENTS: SegmentEvent[] = [
  segmentEvent('identify', { traits: { email: 'ada@example.com', firstName: 'Ada', plan: 'pro' } }),
  segmentEvent('track', {
    event: 'Order Completed',
    properties: {
      order_id: 'o-1',
      revenue: 30,
      currency: 'EUR',
      products: [{ product_id: 'p-1', name: 'Mug', price: 10, quantity: 3 }],
    },
  }),
  segmentEvent('page', { name: 'Pricing', properties: { url: 'https://acme.example/pricing' } }),
  segmentEvent('screen', { name: 'Checkout', context: MOBILE_CONTEXT }),
  segmentEvent('group', { groupId: 'acme', traits: { name: 'Acme Inc', employees: 120 } }),
  segmentEvent('alias', { previousId: 'a1b2c3d4-0000-4c4c-8888-0123456789ab' }),
];

test('every destination type is registered under its Segment display name', () => {
  const names = Object.fromEntries([...DESTINATIONS].map(([type, d]) => [type, d.integrationName]));
  expect(names).toEqual({
    amplitude: 'Amplitude',
    bigquery: 'BigQuery',
    braze: 'Braze',
    customerio: 'Customer.io',
    facebook_conversions: 'Facebook Conversions API',
    ga4: 'Google Analytics 4',
    iterable: 'Iterable',
    klaviyo: 'Klaviyo',
    hubspot: 'HubSpot',
    intercom: 'Intercom',
    mixpanel: 'Mixpanel',
    postgres: 'Postgres',
    posthog: 'PostHog',
    segment: 'Segment',
    slack: 'Slack',
    tiktok_events: 'TikTok Conversions',
    webhook: 'Webhooks',
  });
  for (const [type, destination] of DESTINATIONS) {
    expect(destination.type).toBe(type);
    expect(destination.kind).toBe(WAREHOUSES.includes(type) ? 'warehouse' : 'tool');
    expect(destinationOf(type)).toBe(destination);
  }
  expect(destinationOf('nope')).toBeUndefined();
});

test('an unknown type is named with the known ones', () => {
  expect(() => validateDestinationConfig({ type: 'foo', config: {} })).toThrow(
    `unknown destination type "foo" (known: ${[...DESTINATIONS.keys()].sort().join(', ')})`,
  );
});

test('validation returns the parsed config with defaults', () => {
  expect(validateDestinationConfig({ type: 'segment', config: CONFIGS.segment })).toEqual({
    writeKey: 'write-key',
    endpoint: 'https://api.segment.io',
    path: '/v1/batch',
  });
});

test('the workspace loader reports a bad destination config with its place and field', () => {
  const yaml = [
    'destinations:',
    '  - id: hook',
    '    type: webhook',
    '    config: { url: "not a url" }',
  ].join('\n');
  expect(() =>
    parseWorkspace(yaml, 'sluice.yaml', { validateDestination: validateDestinationConfig }),
  ).toThrow('sluice.yaml: destinations[0].config: url: Invalid URL');
});

describe.each([...DESTINATIONS.keys()].filter((type) => toolDestinationOf(type)))('%s', (type) => {
  const destination = toolDestinationOf(type)!;
  const context = contextFor(destination, CONFIGS[type]);
  const supported = EVENTS.filter((event) => destination.supportedTypes.includes(event.type));

  test('maps every supported type to well-formed requests', () => {
    expect(supported.length).toBeGreaterThan(0);
    for (const event of supported) {
      for (const request of destination.transform(event, context)) {
        expect(['POST', 'PUT', 'PATCH']).toContain(request.method);
        expect(new URL(request.url).protocol).toBe('https:');
        expect(() => JSON.parse(request.body!)).not.toThrow();
        if (request.batch) combined(destination, context, [request]);
      }
    }
  });

  test('batch limits are whole positive numbers when it batches', () => {
    const batching = destination.batching;
    if (!batching) return;
    expect(Number.isInteger(batching.maxItems) && batching.maxItems > 0).toBe(true);
    expect(Number.isInteger(batching.maxBytes) && batching.maxBytes > 0).toBe(true);
  });

  test('transform is pure: the same event gives the same requests and is not modified', () => {
    for (const event of supported) {
      const before = JSON.stringify(event);
      expect(destination.transform(event, context)).toEqual(destination.transform(event, context));
      expect(JSON.stringify(event)).toBe(before);
    }
  });
});

/** The destinations that send a user's traits as profile attributes (not the event as it is). */
const PROFILE_DESTINATIONS = [
  'amplitude',
  'braze',
  'customerio',
  'ga4',
  'iterable',
  'klaviyo',
  'hubspot',
  'intercom',
  'mixpanel',
  'posthog',
];

describe.each(PROFILE_DESTINATIONS)('%s: a user’s traits from every SDK', (type) => {
  const destination = toolDestinationOf(type)!;
  const context = contextFor(destination, CONFIGS[type]);
  const sent = (event: SegmentEvent) =>
    destination
      .transform(event, context)
      .map((request) => request.body ?? '')
      .join('\n');

  test('traits only in context.traits (RudderStack SDKs) reach the profile', () => {
    const body = sent(
      segmentEvent('identify', {
        traits: undefined,
        context: { ...BROWSER_CONTEXT, traits: { email: 'ada@example.com', plan: 'Lovelace' } },
      }),
    );
    expect(body).toContain('Lovelace');
    // Google's terms forbid personal data in Analytics: GA4 gets no contact traits.
    if (type === 'ga4') expect(body).not.toContain('ada@example.com');
    else expect(body).toContain('ada@example.com');
  });

  test('explicit traits win over context.traits', () => {
    const body = sent(
      segmentEvent('identify', {
        traits: { plan: 'Explicit Plan' },
        context: { ...BROWSER_CONTEXT, traits: { plan: 'Context Plan', email: 'ada@example.com' } },
      }),
    );
    expect(body).toContain('Explicit Plan');
    expect(body).not.toContain('Context Plan');
  });
});
