import { posthog } from '../../destinations/posthog';
import { uuidOf } from '../../destinations/shared/values';
import {
  bodyOf,
  BROWSER_CONTEXT,
  combined,
  contextFor,
  identify,
  MOBILE_CONTEXT,
  onlyRequest,
  segmentEvent,
  testConfigErrors,
  TIMESTAMP,
  track,
} from './support';

const context = contextFor(posthog, { apiKey: 'phc_abc123' });
const ANONYMOUS_ID = 'a1b2c3d4-0000-4c4c-8888-0123456789ab';
const UUID = uuidOf('ajs-next-1714564800000-4b1e2f');

/** Properties every browser event gets from the fixture's context. */
const BROWSER_PROPERTIES = {
  $ip: '203.0.113.7',
  $lib: 'analytics.js',
  $lib_version: 'next-1.70.0',
  $current_url: 'https://acme.example/pricing?plan=pro',
  $pathname: '/pricing',
  $referrer: 'https://www.google.com/',
  $timezone: 'Europe/Berlin',
  $locale: 'en-GB',
  $useragent: BROWSER_CONTEXT.userAgent,
  utm_source: 'newsletter',
  utm_medium: 'email',
  utm_campaign: 'spring_sale',
};

/** The one captured event of an event's request. */
function capturedOf(event: ReturnType<typeof track>, ctx = context) {
  const body = bodyOf(onlyRequest(posthog, ctx, event)) as { batch: unknown[] };
  expect(body.batch).toHaveLength(1);
  return body.batch[0];
}

describe('posthog config', () => {
  test('fills defaults', () => {
    expect(context.config).toEqual({
      apiKey: 'phc_abc123',
      host: 'https://us.i.posthog.com',
      groupType: 'company',
    });
  });

  testConfigErrors('posthog', [
    [{}, 'apiKey: required'],
    [{ apiKey: 'k', host: 'eu.i.posthog.com' }, 'host: Invalid URL'],
    [{ apiKey: 'k', projectId: 1 }, 'projectId: unknown field'],
  ]);
});

describe('posthog mapping', () => {
  test('track: the exact /batch/ request', () => {
    const request = onlyRequest(posthog, context, track('Report Exported', { format: 'csv' }));
    expect(request).toMatchObject({
      method: 'POST',
      url: 'https://us.i.posthog.com/batch/',
      headers: { 'Content-Type': 'application/json' },
    });
    expect(bodyOf(request)).toEqual({
      api_key: 'phc_abc123',
      batch: [
        {
          event: 'Report Exported',
          distinct_id: 'user-4711',
          properties: { ...BROWSER_PROPERTIES, format: 'csv' },
          timestamp: TIMESTAMP,
          uuid: UUID,
        },
      ],
    });
  });

  test('a self-hosted or EU host', () => {
    const eu = contextFor(posthog, { apiKey: 'k', host: 'https://eu.i.posthog.com/' });
    expect(onlyRequest(posthog, eu, track('X')).url).toBe('https://eu.i.posthog.com/batch/');
  });

  test('page → $pageview with the page’s URL', () => {
    const event = segmentEvent('page', {
      name: 'Docs',
      properties: { url: 'https://acme.example/docs', path: '/docs', title: 'Docs' },
      context: {},
    });
    expect(capturedOf(event)).toEqual({
      event: '$pageview',
      distinct_id: 'user-4711',
      properties: {
        url: 'https://acme.example/docs',
        path: '/docs',
        title: 'Docs',
        $current_url: 'https://acme.example/docs',
        $pathname: '/docs',
      },
      timestamp: TIMESTAMP,
      uuid: UUID,
    });
  });

  test('screen → $screen with the app context', () => {
    const event = segmentEvent('screen', {
      name: 'Cart',
      userId: undefined,
      context: MOBILE_CONTEXT,
    });
    expect(capturedOf(event)).toEqual({
      event: '$screen',
      distinct_id: ANONYMOUS_ID,
      properties: {
        $ip: '198.51.100.23',
        $lib: 'analytics-swift',
        $lib_version: '1.5.0',
        $os: 'iOS',
        $os_version: '17.4',
        $app_name: 'Acme',
        $app_version: '3.2.1',
        $app_build: '321',
        $device_manufacturer: 'Apple',
        $device_model: 'iPhone15,2',
        $screen_width: 393,
        $screen_height: 852,
        $locale: 'de-DE',
        $device_id: 'B5372DB0-C21E-11E4-8DFC-AA07A5B093DB',
        $screen_name: 'Cart',
      },
      timestamp: TIMESTAMP,
      uuid: UUID,
    });
  });

  test('screen: $screen_name from properties.name when the SDK sends no top-level name', () => {
    const event = segmentEvent('screen', { properties: { name: 'Cart', step: 2 }, context: {} });
    expect(capturedOf(event)).toMatchObject({
      event: '$screen',
      properties: { name: 'Cart', step: 2, $screen_name: 'Cart' },
    });
  });

  test('identify → $identify with $set, merging the anonymous person', () => {
    const event = identify({ email: 'ada@example.com', plan: 'pro' }, { context: {} });
    expect(capturedOf(event)).toEqual({
      event: '$identify',
      distinct_id: 'user-4711',
      properties: {
        $set: { email: 'ada@example.com', plan: 'pro' },
        $anon_distinct_id: ANONYMOUS_ID,
      },
      timestamp: TIMESTAMP,
      uuid: UUID,
    });
    const anonymous = identify({ plan: 'free' }, { userId: undefined, context: {} });
    expect(capturedOf(anonymous)).toMatchObject({
      distinct_id: ANONYMOUS_ID,
      properties: { $set: { plan: 'free' } },
    });
  });

  test('group → $groupidentify; alias → $create_alias', () => {
    const group = segmentEvent('group', { groupId: 'acme', traits: { seats: 40 }, context: {} });
    expect(capturedOf(group)).toEqual({
      event: '$groupidentify',
      distinct_id: '$company_acme',
      properties: { $group_type: 'company', $group_key: 'acme', $group_set: { seats: 40 } },
      timestamp: TIMESTAMP,
      uuid: UUID,
    });
    const alias = segmentEvent('alias', { previousId: 'anon-77', context: {} });
    expect(capturedOf(alias)).toMatchObject({
      event: '$create_alias',
      distinct_id: 'user-4711',
      properties: { alias: 'anon-77' },
    });
  });

  test('$groups: the account of context.groupId under the group type, beside sent $groups', () => {
    const inAccount = { ...BROWSER_CONTEXT, groupId: 'acme' };
    const event = track('Report Exported', { format: 'csv' }, { context: inAccount });
    expect(capturedOf(event)).toMatchObject({
      properties: { format: 'csv', $groups: { company: 'acme' } },
    });
    const organizations = contextFor(posthog, { apiKey: 'k', groupType: 'organization' });
    const page = segmentEvent('page', { name: 'Docs', context: inAccount });
    expect(capturedOf(page, organizations)).toMatchObject({
      event: '$pageview',
      properties: { $groups: { organization: 'acme' } },
    });
    // Groups the event's properties name already stay, and win for the same type.
    const sent = track(
      'X',
      { $groups: { project: 'p-1', company: 'acme-eu' } },
      { context: inAccount },
    );
    expect(capturedOf(sent)).toMatchObject({
      properties: { $groups: { company: 'acme-eu', project: 'p-1' } },
    });
    expect((capturedOf(track('X')) as { properties: object }).properties).not.toHaveProperty(
      '$groups',
    );
    const group = segmentEvent('group', { groupId: 'acme', context: inAccount });
    expect((capturedOf(group) as { properties: object }).properties).not.toHaveProperty('$groups');
  });

  test('uuid: a UUID messageId as it is, any other a stable UUID derived from it', () => {
    expect(uuidOf('3F0B6A2E-1C4D-4E8F-9A7B-2C1D0E9F8A7B')).toBe(
      '3f0b6a2e-1c4d-4e8f-9a7b-2c1d0e9f8a7b',
    );
    expect(UUID).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(uuidOf('ajs-next-1714564800000-4b1e2f')).toBe(UUID);
  });
});

describe('posthog batching', () => {
  test('events combine into one batch', () => {
    const requests = ['a', 'b', 'c'].map((id) =>
      onlyRequest(posthog, context, track(id, {}, { messageId: id })),
    );
    const body = bodyOf(combined(posthog, context, requests)) as {
      api_key: string;
      batch: { event: string }[];
    };
    expect(body.api_key).toBe('phc_abc123');
    expect(body.batch.map((event) => event.event)).toEqual(['a', 'b', 'c']);
    expect(posthog.batching!.maxBytes).toBeLessThan(20_000_000);
    expect(posthog.interpretResponse).toBeUndefined();
  });
});
