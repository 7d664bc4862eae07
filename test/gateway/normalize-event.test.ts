import { anonymizeIp, parseIp } from '../../src/gateway/client-ip';
import {
  normalizeEvent,
  parseBatchSentAt,
  type RequestContext,
} from '../../src/gateway/normalize-event';
import { partitionOf, PARTITION_COUNT } from '../../src/queue/partition';

const receivedAt = new Date('2024-05-01T12:00:10.000Z');
const request = (extra: Partial<RequestContext> = {}): RequestContext => {
  const at = extra.receivedAt ?? receivedAt;
  return {
    receivedAt: at,
    receivedAtIso: at.toISOString(),
    ip: '203.0.113.7',
    anonymizeIp: false,
    ...extra,
  };
};

function normalize(input: unknown, extra: Partial<RequestContext> = {}) {
  const result = normalizeEvent(input, request(extra));
  if (!result.ok) throw result.error;
  return result.event;
}

describe('timestamps', () => {
  test('timestamp is corrected for client clock skew: receivedAt - (sentAt - originalTimestamp)', () => {
    // The client clock runs 1 h 5 s behind: it called at 11:00:00 and sent at 11:00:02.
    const event = normalize({
      type: 'track',
      userId: 'u',
      event: 'E',
      timestamp: '2024-05-01T11:00:00.000Z',
      sentAt: '2024-05-01T11:00:02.000Z',
    });
    expect(event.originalTimestamp).toBe('2024-05-01T11:00:00.000Z');
    expect(event.sentAt).toBe('2024-05-01T11:00:02.000Z');
    expect(event.receivedAt).toBe('2024-05-01T12:00:10.000Z');
    expect(event.timestamp).toBe('2024-05-01T12:00:08.000Z');
  });

  test('the example from a real Segment event (analytics-clj#13)', () => {
    const event = normalize(
      { type: 'track', userId: 'u', event: 'E', timestamp: '2019-01-01T06:33:31.593Z' },
      {
        receivedAt: new Date('2019-01-01T06:33:36.745Z'),
        batchSentAt: parseBatchSentAt('2019-01-01T06:33:32.900Z'),
      },
    );
    expect(event.timestamp).toBe('2019-01-01T06:33:35.438Z');
  });

  test('without sentAt the client timestamp is kept', () => {
    const event = normalize({
      type: 'track',
      userId: 'u',
      event: 'E',
      timestamp: '2024-05-01T11:00:00+02:00',
    });
    expect(event.timestamp).toBe('2024-05-01T09:00:00.000Z');
    expect(event.originalTimestamp).toBe('2024-05-01T09:00:00.000Z');
    expect(event).not.toHaveProperty('sentAt');
  });

  test('without any client time everything is receivedAt', () => {
    const event = normalize({ type: 'track', userId: 'u', event: 'E' });
    expect(event.timestamp).toBe(receivedAt.toISOString());
    expect(event.originalTimestamp).toBe(receivedAt.toISOString());
  });

  test('RudderStack SDKs send originalTimestamp instead of timestamp', () => {
    const event = normalize({
      type: 'track',
      userId: 'u',
      event: 'E',
      originalTimestamp: '2024-05-01T12:00:00.000Z',
      sentAt: '2024-05-01T12:00:05.000Z',
    });
    expect(event.timestamp).toBe('2024-05-01T12:00:05.000Z');
  });

  test('an event sentAt wins over the batch sentAt', () => {
    const event = normalize(
      {
        type: 'track',
        userId: 'u',
        event: 'E',
        timestamp: '2024-05-01T12:00:00.000Z',
        sentAt: '2024-05-01T12:00:01.000Z',
      },
      { batchSentAt: parseBatchSentAt('2024-05-01T12:00:09.000Z') },
    );
    expect(event.timestamp).toBe('2024-05-01T12:00:09.000Z');
  });
});

describe('batch-level context and integrations', () => {
  test('are merged into each item, the item winning on conflicts', () => {
    const event = normalize(
      {
        type: 'track',
        userId: 'u',
        event: 'E',
        context: { library: { version: '2' }, locale: 'de' },
        integrations: { Amplitude: false },
      },
      {
        batchContext: { library: { name: 'analytics-java', version: '1' }, app: { name: 'A' } },
        batchIntegrations: { All: true, Amplitude: true },
      },
    );
    expect(event.context).toEqual({
      library: { name: 'analytics-java', version: '2' },
      app: { name: 'A' },
      locale: 'de',
      ip: '203.0.113.7',
    });
    expect(event.integrations).toEqual({ All: true, Amplitude: false });
  });
});

describe('__proto__, constructor and prototype keys', () => {
  test('stay plain data keys, merged like any other, with batch context and integrations', () => {
    // JSON.parse makes "__proto__" an own data key, as it does for every key a body holds.
    const item = JSON.parse(`{
      "type": "track", "userId": "u", "event": "E",
      "context": { "__proto__": { "ip": "192.0.2.1" }, "library": { "__proto__": { "x": 1 } },
                   "constructor": { "prototype": { "y": 2 } } },
      "integrations": { "__proto__": { "All": false } }
    }`);
    const batchContext = JSON.parse(
      '{ "__proto__": { "z": 3 }, "library": { "name": "lib" }, "locale": "de" }',
    );
    const event = normalize(item, {
      batchContext,
      batchIntegrations: JSON.parse('{ "__proto__": { "Amplitude": true } }'),
    });
    expect(JSON.stringify(event.context)).toBe(
      JSON.stringify(
        JSON.parse(`{
          "__proto__": { "z": 3, "ip": "192.0.2.1" },
          "library": { "name": "lib", "__proto__": { "x": 1 } },
          "locale": "de", "constructor": { "prototype": { "y": 2 } }, "ip": "203.0.113.7"
        }`),
      ),
    );
    expect(Object.getPrototypeOf(event.context)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(event.context!.library)).toBe(Object.prototype);
    expect(JSON.stringify(event.integrations)).toBe('{"__proto__":{"Amplitude":true,"All":false}}');
    expect(({} as Record<string, unknown>).z).toBeUndefined();
  });
});

describe('context.ip', () => {
  test('is filled from the request when absent or null', () => {
    expect(normalize({ type: 'page', userId: 'u' }).context?.ip).toBe('203.0.113.7');
    expect(normalize({ type: 'page', userId: 'u', context: { ip: null } }).context?.ip).toBe(
      '203.0.113.7',
    );
  });
  test('is kept when the client set it', () => {
    expect(
      normalize({ type: 'page', userId: 'u', context: { ip: '198.51.100.1' } }).context?.ip,
    ).toBe('198.51.100.1');
  });
  test.each([
    ['with a port', '203.0.113.77:5555', '203.0.113.0'],
    ['in brackets with a port', '[2001:db8:abcd:12::1]:443', '2001:db8:abcd::'],
    ['with leading zeros', '203.0.113.077', undefined],
    ['that is no address', 'somewhere', undefined],
    ['that is a number', 3405803853, undefined],
    ['that is an object', { v4: '203.0.113.77' }, undefined],
  ])('set by the client %s is anonymized or dropped, never stored whole', (_name, ip, stored) => {
    const event = normalize({ type: 'page', userId: 'u', context: { ip } }, { anonymizeIp: true });
    expect(event.context).toEqual(stored === undefined ? {} : { ip: stored });
  });
  test('from a request address that could not be read is left out', () => {
    const event = normalize({ type: 'page', userId: 'u' }, { ip: undefined, anonymizeIp: true });
    expect(event.context).not.toHaveProperty('ip');
  });
  test('is anonymized when the source asks for it, whoever set it', () => {
    expect(normalize({ type: 'page', userId: 'u' }, { anonymizeIp: true }).context?.ip).toBe(
      '203.0.113.0',
    );
    expect(
      normalize(
        { type: 'page', userId: 'u', context: { ip: '2001:db8:abcd:12:1:2:3:4' } },
        { anonymizeIp: true },
      ).context?.ip,
    ).toBe('2001:db8:abcd::');
  });
});

describe('ip helpers', () => {
  test.each([
    ['192.168.1.77', '192.168.1.0'],
    ['::ffff:10.1.2.3', '10.1.2.0'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1::'],
    ['2001:db8::1', '2001:db8::'],
    ['::1', '::'],
    ['fe80::1%eth0', 'fe80::'],
    ['203.0.113.77:5555', '203.0.113.0'],
    ['[2001:db8::1]:443', '2001:db8::'],
    ['[2001:db8:abcd:12::1]', '2001:db8:abcd::'],
    [' 198.51.100.7 ', '198.51.100.0'],
    // Not an address (or one parsers read differently): nothing that could be stored whole.
    ['203.0.113.077', undefined],
    ['203.0.113.77:port', undefined],
    ['[203.0.113.77', undefined],
    ['1.2.3.4, 5.6.7.8', undefined],
    ['not-an-ip', undefined],
    ['', undefined],
  ])('anonymizeIp(%j) = %j', (input, output) => {
    expect(anonymizeIp(input)).toBe(output);
  });
  test('parseIp reads ports and brackets and unmaps IPv4-in-IPv6', () => {
    expect(parseIp('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(parseIp('[::ffff:127.0.0.1]:80')).toBe('127.0.0.1');
    expect(parseIp('203.0.113.77:5555')).toBe('203.0.113.77');
    expect(parseIp('[2001:db8::1]:443')).toBe('2001:db8::1');
    expect(parseIp('::1')).toBe('::1');
    expect(parseIp('unknown')).toBeUndefined();
  });
});

describe('identity and fields', () => {
  test('a messageId is added when missing and kept when given', () => {
    expect(normalize({ type: 'page', userId: 'u' }).messageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(normalize({ type: 'page', userId: 'u', messageId: 'ajs-next-1' }).messageId).toBe(
      'ajs-next-1',
    );
  });
  test('the write key never reaches storage', () => {
    expect(normalize({ type: 'page', userId: 'u', writeKey: 'secret' })).not.toHaveProperty(
      'writeKey',
    );
  });
  test('a group with only groupId is accepted (analytics-node can send it)', () => {
    expect(normalize({ type: 'group', groupId: 'g1' }).groupId).toBe('g1');
  });
  test.each([
    ['messageId', 'track', 'nul\u0000id'],
    ['userId', 'track', 'nul\u0000user'],
    ['userId', 'track', 'tab\tuser'],
    ['userId', 'track', 'lone \ud800 high'],
    ['anonymousId', 'track', 'lone \udc00 low'],
    ['anonymousId', 'track', 'separator\u001e'],
    ['groupId', 'group', 'del\u007f'],
    ['previousId', 'alias', 'nul\u0000'],
  ])('a %s a text column cannot hold is refused, naming the field', (field, type, value) => {
    const input = { type, userId: 'u', event: 'E', groupId: 'g', previousId: 'p', [field]: value };
    const result = normalizeEvent(input, request());
    expect(result.ok).toBe(false);
    const { error } = result as Extract<typeof result, { ok: false }>;
    expect(error.code).toBe('SLUICE_E_INVALID_EVENT');
    expect(error.message).toContain(`"${field}" must be printable`);
  });
  test('the same characters in other fields are kept, and ids with a surrogate pair pass', () => {
    const event = normalize({
      type: 'track',
      userId: 'emoji \ud83d\ude00',
      event: 'nul\u0000 and \ud800',
      properties: { 'k\u0000': '\udc00' },
    });
    expect(event.userId).toBe('emoji \ud83d\ude00');
    expect(event.event).toBe('nul\u0000 and \ud800');
    expect(event.properties).toEqual({ 'k\u0000': '\udc00' });
  });
  test('an empty userId counts as absent', () => {
    const result = normalizeEvent({ type: 'track', userId: '', event: 'E' }, request());
    expect(result.ok).toBe(false);
  });
});

describe('partitions', () => {
  test('the same user always maps to the same partition, users spread over all', () => {
    expect(partitionOf('user-1')).toBe(partitionOf('user-1'));
    const seen = new Set(Array.from({ length: 5000 }, (_, i) => partitionOf(`user-${i}`)));
    expect(seen.size).toBe(PARTITION_COUNT);
  });
});
