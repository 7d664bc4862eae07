import { mixpanel } from '../../destinations/mixpanel';
import { insertIdOf } from '../../destinations/mixpanel/map-event';
import {
  basic,
  bodyOf,
  combined,
  contextFor,
  identify,
  MOBILE_CONTEXT,
  onlyRequest,
  segmentEvent,
  sentBatch,
  testConfigErrors,
  TIMESTAMP_MS,
  track,
  verdictOf,
} from './support';

const context = contextFor(mixpanel, { projectToken: 'tok-123' });
const ANONYMOUS_ID = 'a1b2c3d4-0000-4c4c-8888-0123456789ab';
const INSERT_ID = 'ajs-next-1714564800000-4b1e2f';

/** Properties every browser event gets from the fixture's context. */
const BROWSER_PROPERTIES = {
  $current_url: 'https://acme.example/pricing?plan=pro',
  $referrer: 'https://www.google.com/',
  utm_source: 'newsletter',
  utm_medium: 'email',
  utm_campaign: 'spring_sale',
  ip: '203.0.113.7',
};

describe('mixpanel config', () => {
  test('fills defaults', () => {
    expect(context.config).toEqual({
      projectToken: 'tok-123',
      region: 'us',
      identityMerge: 'simplified',
      pageNames: { named: 'Viewed {name} Page', unnamed: 'Loaded a Page' },
      screenNames: { named: 'Viewed {name} Screen', unnamed: 'Loaded a Screen' },
      traitsToIncrement: [],
      traitsToSetOnce: [],
      traitsToAppend: [],
      traitsToUnion: [],
      trackCharges: false,
    });
  });

  testConfigErrors('mixpanel', [
    [{}, 'projectToken: required'],
    [{ projectToken: 't', region: 'apac' }, 'region: Invalid option'],
    [
      { projectToken: 't', serviceAccount: { username: 'u', secret: 's', projectId: 'abc' } },
      'serviceAccount.projectId: must be the numeric project id',
    ],
    [{ projectToken: 't', serviceAccount: { username: 'u' } }, 'serviceAccount.secret: required'],
    [{ projectToken: 't', identityMerge: 'legacy' }, 'identityMerge: Invalid option'],
    [{ projectToken: 't', trackCharges: 'yes' }, 'trackCharges: Invalid input'],
    [
      { projectToken: 't', traitsToAppend: ['levels'], traitsToUnion: ['levels'] },
      'traitsToUnion: "levels" is also in traitsToAppend; a trait takes one operation',
    ],
  ]);
});

describe('mixpanel events (/import)', () => {
  test('track: the exact request, Simplified ID Merge identity', () => {
    const request = onlyRequest(mixpanel, context, track('Plan Upgraded', { plan: 'pro' }));
    expect(request).toMatchObject({
      method: 'POST',
      url: 'https://api.mixpanel.com/import?strict=1',
      headers: { 'Content-Type': 'application/json', Authorization: basic('tok-123', '') },
    });
    expect(bodyOf(request)).toEqual([
      {
        event: 'Plan Upgraded',
        properties: {
          ...BROWSER_PROPERTIES,
          plan: 'pro',
          distinct_id: 'user-4711',
          $user_id: 'user-4711',
          $device_id: ANONYMOUS_ID,
          time: TIMESTAMP_MS,
          $insert_id: INSERT_ID,
        },
      },
    ]);
  });

  test('an anonymous event is the device’s: $device:<anonymousId>', () => {
    const event = track('Signup Started', {}, { userId: undefined, context: {} });
    expect(bodyOf(onlyRequest(mixpanel, context, event))).toEqual([
      {
        event: 'Signup Started',
        properties: {
          distinct_id: `$device:${ANONYMOUS_ID}`,
          $device_id: ANONYMOUS_ID,
          time: TIMESTAMP_MS,
          $insert_id: INSERT_ID,
        },
      },
    ]);
  });

  test('Original ID Merge: distinct_id is the userId, else the anonymousId', () => {
    const original = contextFor(mixpanel, { projectToken: 't', identityMerge: 'original' });
    const event = track('X', {}, { userId: undefined, context: {} });
    expect(bodyOf(onlyRequest(mixpanel, original, event))).toEqual([
      {
        event: 'X',
        properties: { distinct_id: ANONYMOUS_ID, time: TIMESTAMP_MS, $insert_id: INSERT_ID },
      },
    ]);
  });

  test('required properties win over event properties of the same name', () => {
    const event = track('X', { time: 1, distinct_id: 'spoofed', $insert_id: 'mine' });
    const [{ properties }] = bodyOf(onlyRequest(mixpanel, context, event)) as {
      properties: Record<string, unknown>;
    }[];
    expect(properties).toMatchObject({
      time: TIMESTAMP_MS,
      distinct_id: 'user-4711',
      $insert_id: INSERT_ID,
    });
  });

  test('screen with a mobile context: reserved device properties', () => {
    const event = segmentEvent('screen', { name: 'Cart', context: MOBILE_CONTEXT });
    expect(bodyOf(onlyRequest(mixpanel, context, event))).toEqual([
      {
        event: 'Viewed Cart Screen',
        properties: {
          $os: 'iOS',
          $os_version: '17.4',
          $app_version_string: '3.2.1',
          $app_build_number: '321',
          $manufacturer: 'Apple',
          $model: 'iPhone15,2',
          $carrier: 'T-Mobile',
          $wifi: true,
          $screen_width: 393,
          $screen_height: 852,
          $city: 'Berlin',
          $region: 'BE',
          ip: '198.51.100.23',
          distinct_id: 'user-4711',
          $user_id: 'user-4711',
          $device_id: ANONYMOUS_ID,
          time: TIMESTAMP_MS,
          $insert_id: INSERT_ID,
        },
      },
    ]);
  });

  test('page: named view event with the page URL as $current_url', () => {
    const event = segmentEvent('page', {
      name: 'Docs',
      properties: { url: 'https://acme.example/docs', title: 'Docs' },
    });
    const [{ event: name, properties }] = bodyOf(onlyRequest(mixpanel, context, event)) as {
      event: string;
      properties: Record<string, unknown>;
    }[];
    expect(name).toBe('Viewed Docs Page');
    expect(properties).toMatchObject({ $current_url: 'https://acme.example/docs', title: 'Docs' });
  });

  test('service account auth and EU / India residency', () => {
    const account = contextFor(mixpanel, {
      projectToken: 't',
      region: 'eu',
      serviceAccount: { username: 'sa.sluice', secret: 'sa-secret', projectId: '3141592' },
    });
    expect(onlyRequest(mixpanel, account, track('X'))).toMatchObject({
      url: 'https://api-eu.mixpanel.com/import?strict=1&project_id=3141592',
      headers: { Authorization: basic('sa.sluice', 'sa-secret') },
    });
    const india = contextFor(mixpanel, { projectToken: 't', region: 'in' });
    expect(onlyRequest(mixpanel, india, track('X')).url).toBe(
      'https://api-in.mixpanel.com/import?strict=1',
    );
  });

  test('$insert_id: kept when valid, else a stable 36-character hash', () => {
    expect(insertIdOf('3f0b6a2e-1c4d-4e8f-9a7b-2c1d0e9f8a7b')).toBe(
      '3f0b6a2e-1c4d-4e8f-9a7b-2c1d0e9f8a7b',
    );
    const long = 'ajs-next-1714564800000-4b1e2f-with-a-much-longer-suffix';
    expect(insertIdOf(long)).toMatch(/^[0-9a-f]{36}$/);
    expect(insertIdOf(long)).toBe(insertIdOf(long));
    expect(insertIdOf('order:42')).toMatch(/^[0-9a-f]{36}$/);
    expect(insertIdOf('null')).not.toBe('null');
  });
});

describe('mixpanel profiles and groups', () => {
  test('identify: /engage $set with reserved traits renamed', () => {
    const event = identify({
      email: 'ada@example.com',
      first_name: 'Ada',
      lastName: 'Lovelace',
      phone: '+44 20 7946 0000',
      avatar: 'https://acme.example/ada.png',
      createdAt: '2024-01-02T03:04:05.000Z',
      plan: 'pro',
    });
    const request = onlyRequest(mixpanel, context, event);
    expect(request.url).toBe('https://api.mixpanel.com/engage?verbose=1&ip=0');
    expect(request.headers).toEqual({ 'Content-Type': 'application/json' });
    expect(bodyOf(request)).toEqual([
      {
        $token: 'tok-123',
        $distinct_id: 'user-4711',
        $set: {
          plan: 'pro',
          $email: 'ada@example.com',
          $first_name: 'Ada',
          $last_name: 'Lovelace',
          $phone: '+44 20 7946 0000',
          $avatar: 'https://acme.example/ada.png',
          $created: '2024-01-02T03:04:05.000Z',
        },
        $ip: '203.0.113.7',
      },
    ]);
  });

  test('identify: one /engage update per operation config names traits for', () => {
    const operations = contextFor(mixpanel, {
      projectToken: 'tok-123',
      traitsToIncrement: ['Coins Gathered'],
      traitsToSetOnce: ['First Login Date', 'createdAt'],
      traitsToAppend: ['Alter Ego Names'],
      traitsToUnion: ['Levels Completed', 'Favourite Level'],
    });
    // The values of Mixpanel's documented examples, sent as traits.
    const event = identify(
      {
        email: 'ada@example.com',
        'Coins Gathered': 13,
        'First Login Date': '2013-04-01T13:20:00',
        createdAt: '2013-04-01T13:20:00.000Z',
        'Alter Ego Names': 'Ziggy Stardust',
        'Levels Completed': ['Suffragette City'],
        'Favourite Level': 'Starman',
      },
      { context: {} },
    );
    const request = onlyRequest(mixpanel, operations, event);
    const who = { $token: 'tok-123', $distinct_id: 'user-4711' };
    expect(bodyOf(request)).toEqual([
      { ...who, $set: { $email: 'ada@example.com' } },
      {
        ...who,
        $set_once: {
          'First Login Date': '2013-04-01T13:20:00',
          $created: '2013-04-01T13:20:00.000Z',
        },
      },
      { ...who, $add: { 'Coins Gathered': 13 } },
      { ...who, $append: { 'Alter Ego Names': 'Ziggy Stardust' } },
      {
        ...who,
        $union: { 'Levels Completed': ['Suffragette City'], 'Favourite Level': ['Starman'] },
      },
    ]);
    // Five updates an identify: /engage batches take 400 identifies (2000 updates).
    expect(request.batch!.limits).toEqual({ maxItems: 400 });
    expect(onlyRequest(mixpanel, context, identify({})).batch!.limits).toEqual({ maxItems: 2000 });
  });

  test('trackCharges: an Order Completed appends a charge to $transactions after the event', () => {
    const charging = contextFor(mixpanel, { projectToken: 'tok-123', trackCharges: true });
    const order = track('Order Completed', { order_id: 'o-1', total: 30.5, revenue: 25.32 });
    const [imported, charge] = mixpanel.transform(order, charging);
    expect(imported.url).toBe('https://api.mixpanel.com/import?strict=1');
    expect(charge.url).toBe('https://api.mixpanel.com/engage?verbose=1&ip=0');
    expect(bodyOf(charge)).toEqual([
      {
        $token: 'tok-123',
        $distinct_id: 'user-4711',
        $append: { $transactions: { $time: '2024-05-01T12:00:00', $amount: 25.32 } },
        $ip: '203.0.113.7',
      },
    ]);
    const totalOnly = track('Order Completed', { total: 30.5 });
    expect(bodyOf(mixpanel.transform(totalOnly, charging)[1])).toMatchObject([
      { $append: { $transactions: { $amount: 30.5 } } },
    ]);
    const lowerCase = track('order completed', { revenue: 7 });
    expect(bodyOf(mixpanel.transform(lowerCase, charging)[1])).toMatchObject([
      { $append: { $transactions: { $amount: 7 } } },
    ]);
    expect(mixpanel.transform(track('Order Completed', {}), charging)).toHaveLength(1);
    expect(mixpanel.transform(track('Order Refunded', { total: 30.5 }), charging)).toHaveLength(1);
    expect(mixpanel.transform(order, context)).toHaveLength(1);
  });

  test('identify under Original ID Merge also links the ids with $identify', () => {
    const original = contextFor(mixpanel, { projectToken: 't', identityMerge: 'original' });
    const [link, update] = mixpanel.transform(identify({ plan: 'pro' }), original);
    expect(link.url).toBe('https://api.mixpanel.com/import?strict=1');
    expect(bodyOf(link)).toEqual([
      {
        event: '$identify',
        properties: {
          distinct_id: 'user-4711',
          $identified_id: 'user-4711',
          $anon_id: ANONYMOUS_ID,
          time: TIMESTAMP_MS,
          $insert_id: INSERT_ID,
        },
      },
    ]);
    expect(update.url).toBe('https://api.mixpanel.com/engage?verbose=1&ip=0');
  });

  test('group: $union on the user, then /groups $set', () => {
    const grouped = contextFor(mixpanel, { projectToken: 't', groupKey: 'company_id' });
    const event = segmentEvent('group', { groupId: 'acme', traits: { name: 'Acme', seats: 40 } });
    const [union, group] = mixpanel.transform(event, grouped);
    expect(bodyOf(union)).toEqual([
      {
        $token: 't',
        $distinct_id: 'user-4711',
        $union: { company_id: ['acme'] },
        $ip: '203.0.113.7',
      },
    ]);
    expect(group).toEqual({
      method: 'POST',
      url: 'https://api.mixpanel.com/groups?verbose=1',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify([
        {
          $token: 't',
          $group_key: 'company_id',
          $group_id: 'acme',
          $set: { seats: 40, $name: 'Acme' },
        },
      ]),
    });
  });

  test('group without a configured group key sends nothing', () => {
    expect(mixpanel.transform(segmentEvent('group', { groupId: 'acme' }), context)).toEqual([]);
  });

  test('alias: $create_alias under Original ID Merge, nothing under Simplified', () => {
    const alias = segmentEvent('alias', { previousId: 'anon-77', anonymousId: undefined });
    expect(mixpanel.transform(alias, context)).toEqual([]);
    const original = contextFor(mixpanel, { projectToken: 't', identityMerge: 'original' });
    expect(bodyOf(onlyRequest(mixpanel, original, alias))).toEqual([
      {
        event: '$create_alias',
        properties: {
          distinct_id: 'anon-77',
          alias: 'user-4711',
          time: TIMESTAMP_MS,
          $insert_id: INSERT_ID,
        },
      },
    ]);
  });
});

describe('mixpanel batching', () => {
  test('events combine into one JSON array; /engage updates batch apart from /import', () => {
    const events = [1, 2, 3].map((n) => onlyRequest(mixpanel, context, track(`E${n}`)));
    const body = bodyOf(combined(mixpanel, context, events)) as { event: string }[];
    expect(body.map((event) => event.event)).toEqual(['E1', 'E2', 'E3']);
    const profile = onlyRequest(mixpanel, context, identify({ plan: 'pro' }));
    expect(profile.batch!.key).not.toBe(events[0].batch!.key);
    const updates = contextFor(mixpanel, {
      projectToken: 'tok-123',
      traitsToIncrement: ['logins'],
    });
    const identifies = ['ann', 'bob'].map((userId) =>
      onlyRequest(mixpanel, updates, identify({ plan: 'pro', logins: 1 }, { userId, context: {} })),
    );
    // An identify's updates are one item; the batch is one flat list of updates, in order.
    expect(bodyOf(combined(mixpanel, updates, identifies))).toEqual([
      { $token: 'tok-123', $distinct_id: 'ann', $set: { plan: 'pro' } },
      { $token: 'tok-123', $distinct_id: 'ann', $add: { logins: 1 } },
      { $token: 'tok-123', $distinct_id: 'bob', $set: { plan: 'pro' } },
      { $token: 'tok-123', $distinct_id: 'bob', $add: { logins: 1 } },
    ]);
    expect(mixpanel.batching!.maxItems).toBe(2000);
    expect(mixpanel.batching!.maxBytes).toBeLessThan(2 * 1024 * 1024);
  });
});

describe('mixpanel responses', () => {
  test('/import 400 lists the failed records and says the others were imported', () => {
    const verdict = verdictOf(mixpanel, 400, {
      code: 400,
      error: 'some data points in the request failed validation',
      num_records_imported: 2,
      failed_records: [
        { index: 1, insert_id: 'x', field: 'properties.time', message: 'must be a number' },
      ],
      status: 'Bad Request',
    });
    expect(verdict).toEqual({
      outcome: 'abort',
      reason:
        'Mixpanel rejected 1 event(s) and imported 2 (replaying is safe: $insert_id dedupes): #1 properties.time: must be a number',
    });
  });

  test('/import 400 for a batch: the failed records are aborted, the imported ones ok', () => {
    const batch = sentBatch(
      mixpanel,
      context,
      ['a', 'b', 'c'].map((id) =>
        onlyRequest(mixpanel, context, track('Clicked', {}, { userId: id })),
      ),
    );
    // The documented strict-mode answer, naming the second event.
    const answer = {
      code: 400,
      error: 'some data points in the request failed validation',
      status: 'Bad Request',
      num_records_imported: 2,
      failed_records: [
        {
          index: 1,
          insert_id: '13c0b661-f48b-51cd-ba54-97c5999169c0',
          field: 'properties.time',
          message: "'properties.time' is invalid: must be specified as seconds since epoch",
        },
      ],
    };
    expect(verdictOf(mixpanel, 400, answer, {}, batch)).toEqual({
      outcome: 'per-item',
      items: [
        { outcome: 'ok' },
        {
          outcome: 'abort',
          reason:
            "Mixpanel rejected the event: properties.time: 'properties.time' is invalid: must be specified as seconds since epoch",
        },
        { outcome: 'ok' },
      ],
    });
    // A record outside the request: the batch is judged whole.
    const outside = { ...answer, failed_records: [{ ...answer.failed_records[0], index: 3 }] };
    expect(verdictOf(mixpanel, 400, outside, {}, batch)).toMatchObject({ outcome: 'abort' });
  });

  test('/engage 200 with status 0 is a rejection', () => {
    expect(verdictOf(mixpanel, 200, { status: 0, error: '$distinct_id is required' })).toEqual({
      outcome: 'abort',
      reason: 'Mixpanel rejected the update: $distinct_id is required',
    });
    expect(verdictOf(mixpanel, 200, '0')).toMatchObject({ outcome: 'abort' });
    expect(verdictOf(mixpanel, 200, { status: 1, error: null })).toBeUndefined();
    expect(verdictOf(mixpanel, 200, { code: 200, num_records_imported: 3 })).toBeUndefined();
  });

  test('429 and 5xx follow the router’s rules', () => {
    expect(verdictOf(mixpanel, 429, { code: 429, error: 'rate limited' })).toBeUndefined();
    expect(verdictOf(mixpanel, 502, 'Bad Gateway')).toBeUndefined();
  });
});
