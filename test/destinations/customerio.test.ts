import { customerio } from '../../destinations/customerio';
import { DestinationMappingError } from '../../destinations/destination';
import {
  basic,
  bodyOf,
  BROWSER_CONTEXT,
  contextFor,
  identify,
  MOBILE_CONTEXT,
  onlyRequest,
  segmentEvent,
  testConfigErrors,
  TIMESTAMP_MS,
  track,
} from './support';

const context = contextFor(customerio, { siteId: 'site-9', apiKey: 'cio-key' });
const AUTH = basic('site-9', 'cio-key');
const SECONDS = TIMESTAMP_MS / 1000;
const ANONYMOUS_ID = 'a1b2c3d4-0000-4c4c-8888-0123456789ab';

describe('customerio config', () => {
  test('fills defaults', () => {
    expect(context.config).toEqual({
      siteId: 'site-9',
      apiKey: 'cio-key',
      region: 'us',
      identifyByEmail: true,
    });
  });

  testConfigErrors('customerio', [
    [{ apiKey: 'k' }, 'siteId: required'],
    [{ siteId: 's', apiKey: '' }, 'apiKey: must not be empty'],
    [{ siteId: 's', apiKey: 'k', region: 'au' }, 'region: Invalid option'],
    [{ siteId: 's', apiKey: 'k', identifyByEmail: 'yes' }, 'identifyByEmail: Invalid input'],
  ]);
});

describe('customerio mapping', () => {
  test('identify: PUT the person with created_at in seconds and the anonymous_id', () => {
    const event = identify(
      {
        email: 'ada@example.com',
        createdAt: '2024-01-02T03:04:05.000Z',
        plan: 'pro',
        id: 'user-4711',
      },
      { userId: 'user/4711' },
    );
    expect(onlyRequest(customerio, context, event)).toEqual({
      method: 'PUT',
      url: 'https://track.customer.io/api/v1/customers/user%2F4711',
      headers: { 'Content-Type': 'application/json', Authorization: AUTH },
      body: JSON.stringify({
        email: 'ada@example.com',
        plan: 'pro',
        created_at: 1704164645,
        anonymous_id: ANONYMOUS_ID,
      }),
    });
  });

  test('identify of an anonymous person without an email sends nothing', () => {
    expect(
      customerio.transform(identify({ plan: 'free' }, { userId: undefined }), context),
    ).toEqual([]);
  });

  // "The values you use to identify a person may be an id, email address, or the cio_id" (Track
  // API, path parameter `identifier`); new workspaces use both email and id as identifiers.
  test('without a userId, a person is identified by their email trait', () => {
    const lead = identify({ email: 'ada@example.com', plan: 'free' }, { userId: undefined });
    expect(onlyRequest(customerio, context, lead)).toMatchObject({
      method: 'PUT',
      url: 'https://track.customer.io/api/v1/customers/ada%40example.com',
    });
    const withContextTraits = track(
      'Trial Started',
      {},
      { userId: undefined, context: { ...BROWSER_CONTEXT, traits: { email: 'ada@example.com' } } },
    );
    expect(onlyRequest(customerio, context, withContextTraits).url).toBe(
      'https://track.customer.io/api/v1/customers/ada%40example.com/events',
    );
    // A workspace that identifies people by id only: anonymous, as before.
    const idOnly = contextFor(customerio, { siteId: 's', apiKey: 'k', identifyByEmail: false });
    expect(customerio.transform(lead, idOnly)).toEqual([]);
    expect(onlyRequest(customerio, idOnly, withContextTraits).url).toBe(
      'https://track.customer.io/api/v1/events',
    );
  });

  test('track of a known person: POST its events', () => {
    const request = onlyRequest(customerio, context, track('Trial Started', { plan: 'pro' }));
    expect(request).toEqual({
      method: 'POST',
      url: 'https://track.customer.io/api/v1/customers/user-4711/events',
      headers: { 'Content-Type': 'application/json', Authorization: AUTH },
      body: JSON.stringify({ name: 'Trial Started', data: { plan: 'pro' }, timestamp: SECONDS }),
    });
  });

  test('track of an anonymous person: an anonymous event', () => {
    const event = track('Trial Started', {}, { userId: undefined });
    const request = onlyRequest(customerio, context, event);
    expect(request.url).toBe('https://track.customer.io/api/v1/events');
    expect(bodyOf(request)).toEqual({
      name: 'Trial Started',
      data: {},
      timestamp: SECONDS,
      anonymous_id: ANONYMOUS_ID,
    });
  });

  test('page and screen: typed events named after the URL or screen', () => {
    const page = segmentEvent('page', {
      name: 'Pricing',
      properties: { url: 'https://a.example/p' },
    });
    expect(bodyOf(onlyRequest(customerio, context, page))).toEqual({
      name: 'https://a.example/p',
      type: 'page',
      data: { url: 'https://a.example/p' },
      timestamp: SECONDS,
    });
    const screen = segmentEvent('screen', { name: 'Cart', properties: { items: 2 } });
    expect(bodyOf(onlyRequest(customerio, context, screen))).toEqual({
      name: 'Cart',
      type: 'screen',
      data: { items: 2 },
      timestamp: SECONDS,
    });
    const fromProperties = segmentEvent('screen', { properties: { name: 'Cart' } });
    expect(bodyOf(onlyRequest(customerio, context, fromProperties))).toMatchObject({
      name: 'Cart',
      type: 'screen',
    });
    const unnamed = segmentEvent('screen', {});
    expect(() => customerio.transform(unnamed, context)).toThrow(DestinationMappingError);
  });

  test('a page without properties is named after context.page.url, kept in data', () => {
    const page = segmentEvent('page', {});
    expect(bodyOf(onlyRequest(customerio, context, page))).toMatchObject({
      name: 'https://acme.example/pricing?plan=pro',
      type: 'page',
      data: { url: 'https://acme.example/pricing?plan=pro' },
    });
  });

  // Customer.io's "Invalid API Requests" page: "event name cannot be longer than 100 bytes" (400).
  describe('names within Customer.io’s 100 bytes', () => {
    const UTM =
      '?utm_source=newsletter&utm_medium=email&utm_campaign=spring_sale_2024&utm_content=hero_button';
    const byteLength = (text: string) => Buffer.byteLength(text, 'utf8');
    const nameOf = (event: Parameters<typeof customerio.transform>[0]) =>
      (bodyOf(onlyRequest(customerio, context, event)) as { name: string }).name;

    test('a page whose URL fits is named after the URL', () => {
      const url = 'https://acme.example/pricing?plan=pro';
      expect(nameOf(segmentEvent('page', { properties: { url } }))).toBe(url);
    });

    test('a page with long UTM parameters is named after its URL without query and fragment', () => {
      const url = `https://acme.example/pricing${UTM}#plans`;
      expect(byteLength(url)).toBeGreaterThan(100);
      const page = segmentEvent('page', { properties: { url } });
      expect(bodyOf(onlyRequest(customerio, context, page))).toEqual({
        name: 'https://acme.example/pricing',
        type: 'page',
        data: { url },
        timestamp: SECONDS,
      });
    });

    test('a URL still too long is cut to 100 bytes at a character boundary', () => {
      const path = `/${'ü'.repeat(60)}`; // 121 bytes of path in UTF-8, unescaped by the SDK
      const name = nameOf(
        segmentEvent('page', { properties: { url: `https://a.example${path}` } }),
      );
      expect(byteLength(name)).toBeLessThanOrEqual(100);
      expect(name).toBe(`https://a.example/${'ü'.repeat(41)}`); // 18 + 82 = 100 bytes
    });

    test('track and screen names are cut to 100 bytes at a character boundary, trimmed first', () => {
      const long = `  ${'Checkout Step Completed With Promotional Voucher Applied '.repeat(2)}🎉  `;
      const name = nameOf(track(long));
      expect(byteLength(name)).toBeLessThanOrEqual(100);
      expect(long.trim().startsWith(name)).toBe(true);
      expect(() => customerio.transform(track('   '), context)).toThrow(
        "the track event's name is blank",
      );
      const emoji = nameOf(segmentEvent('screen', { name: `${'x'.repeat(98)}🎉` }));
      expect(emoji).toBe('x'.repeat(98)); // the 4-byte emoji does not fit whole, and is not split
    });
  });

  test('alias merges the previous person into the user', () => {
    const alias = segmentEvent('alias', { previousId: 'old-id-1' });
    expect(onlyRequest(customerio, context, alias)).toEqual({
      method: 'POST',
      url: 'https://track.customer.io/api/v1/merge_customers',
      headers: { 'Content-Type': 'application/json', Authorization: AUTH },
      body: JSON.stringify({ primary: { id: 'user-4711' }, secondary: { id: 'old-id-1' } }),
    });
  });

  test('EU region', () => {
    const eu = contextFor(customerio, { siteId: 's', apiKey: 'k', region: 'eu' });
    expect(onlyRequest(customerio, eu, track('X')).url).toBe(
      'https://track-eu.customer.io/api/v1/customers/user-4711/events',
    );
  });

  test('one request per event (v1 API), status-based verdicts, no group', () => {
    expect(customerio.batching).toBeUndefined();
    expect(customerio.interpretResponse).toBeUndefined();
    expect(customerio.supportedTypes).not.toContain('group');
  });
});

describe('customerio devices', () => {
  const TOKEN = '740f4707bebcf74f9b7c25d48e3358945f6aa01da5ddb387462c7eaf61bb78ad';
  const IPHONE = { ...MOBILE_CONTEXT, device: { ...MOBILE_CONTEXT.device, token: TOKEN } };
  const DEVICES = 'https://track.customer.io/api/v1/customers/user-4711/devices';
  const HEADERS = { 'Content-Type': 'application/json', Authorization: AUTH };
  const appEvent = (name: string, fields = {}) => track(name, {}, { context: IPHONE, ...fields });

  // "Add or update a customer device": body `{ device: { id: <token>, platform, last_used } }`.
  test('Application Opened with a token: the device is added, then the event is sent', () => {
    const [device, event, ...more] = customerio.transform(appEvent('Application Opened'), context);
    expect(more).toEqual([]);
    expect(device).toEqual({
      method: 'PUT',
      url: DEVICES,
      headers: HEADERS,
      body: JSON.stringify({ device: { id: TOKEN, platform: 'ios', last_used: SECONDS } }),
    });
    expect(event.url).toBe('https://track.customer.io/api/v1/customers/user-4711/events');
    expect(bodyOf(event)).toMatchObject({ name: 'Application Opened' });
    for (const name of ['Application Installed', 'Application Updated']) {
      expect(customerio.transform(appEvent(name), context).map((r) => r.url)).toEqual([
        DEVICES,
        'https://track.customer.io/api/v1/customers/user-4711/events',
      ]);
    }
  });

  test('the platform comes from context.device.type, else context.os.name', () => {
    const android = {
      ...MOBILE_CONTEXT,
      device: { id: 'd-1', token: 'fcm-token-1' },
      os: { name: 'Android', version: '14' },
    };
    const [device] = customerio.transform(
      appEvent('Application Opened', { context: android }),
      context,
    );
    expect(bodyOf(device)).toEqual({
      device: { id: 'fcm-token-1', platform: 'android', last_used: SECONDS },
    });
    // A browser with a token has no platform Customer.io takes: the event alone.
    const web = { ...BROWSER_CONTEXT, device: { token: 'web-push-token' } };
    const requests = customerio.transform(
      appEvent('Application Opened', { context: web }),
      context,
    );
    expect(requests.map((r) => r.url)).toEqual([
      'https://track.customer.io/api/v1/customers/user-4711/events',
    ]);
  });

  test('identify with a token: the person, then their device', () => {
    const [person, device, ...more] = customerio.transform(
      identify({ email: 'ada@example.com' }, { context: IPHONE }),
      context,
    );
    expect(more).toEqual([]);
    expect(person).toMatchObject({ method: 'PUT', url: DEVICES.replace(/\/devices$/, '') });
    expect(device).toMatchObject({ method: 'PUT', url: DEVICES });
  });

  test('a person known by email only gets the device under their email', () => {
    const context = { ...IPHONE, traits: { email: 'ada@example.com' } };
    const [device] = customerio.transform(
      appEvent('Application Opened', { userId: undefined, context }),
      contextFor(customerio, { siteId: 'site-9', apiKey: 'cio-key' }),
    );
    expect(device.url).toBe('https://track.customer.io/api/v1/customers/ada%40example.com/devices');
  });

  test('an anonymous person’s Application Opened goes as an anonymous event alone', () => {
    const requests = customerio.transform(
      appEvent('Application Opened', { userId: undefined }),
      context,
    );
    expect(requests.map((r) => r.url)).toEqual(['https://track.customer.io/api/v1/events']);
  });

  // "Delete a customer device": DELETE /api/v1/customers/{identifier}/devices/{device_id}, no body.
  test('Application Uninstalled: the device is deleted, then the event is sent', () => {
    const [device, event] = customerio.transform(appEvent('Application Uninstalled'), context);
    expect(device).toEqual({
      method: 'DELETE',
      url: `${DEVICES}/${TOKEN}`,
      headers: { Authorization: AUTH },
    });
    expect(bodyOf(event)).toMatchObject({ name: 'Application Uninstalled' });
  });

  test('Customer.io’s semantic device events change the device and send no event', () => {
    const created = customerio.transform(appEvent('Device Created or Updated'), context);
    expect(created.map((r) => `${r.method} ${r.url}`)).toEqual([`PUT ${DEVICES}`]);
    // The shape of Customer.io's example: the device in the properties.
    const inProperties = track(
      'Device Created or Updated',
      { device: { token: 'abc', type: 'android' } },
      { context: BROWSER_CONTEXT },
    );
    expect(bodyOf(onlyRequest(customerio, context, inProperties))).toEqual({
      device: { id: 'abc', platform: 'android', last_used: SECONDS },
    });
    const deleted = customerio.transform(appEvent('Device Deleted'), context);
    expect(deleted.map((r) => `${r.method} ${r.url}`)).toEqual([`DELETE ${DEVICES}/${TOKEN}`]);
  });

  test('a semantic device event without a token or an identified person fails to map', () => {
    expect(() =>
      customerio.transform(
        track('Device Created or Updated', {}, { context: BROWSER_CONTEXT }),
        context,
      ),
    ).toThrow(DestinationMappingError);
    expect(() =>
      customerio.transform(appEvent('Device Deleted', { userId: undefined }), context),
    ).toThrow(
      'Device Deleted needs an identified person (a userId, or an email) and a device token',
    );
  });

  test('the token is escaped in the path', () => {
    const odd = { ...IPHONE, device: { ...IPHONE.device, token: 'a/b c' } };
    const [device] = customerio.transform(
      appEvent('Application Uninstalled', { context: odd }),
      context,
    );
    expect(device.url).toBe(`${DEVICES}/a%2Fb%20c`);
  });
});
