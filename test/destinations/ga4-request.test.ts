/**
 * What a GA4 request carries besides the event's name and parameters: the stream and device id
 * (web `measurement_id` / `client_id`, Firebase `firebase_app_id` / `app_instance_id`), the
 * consent mapped from the event's, the session the SDK provides, and the user's traits as user
 * properties. Expected requests follow the Measurement Protocol's documented examples.
 */
import { ga4 } from '../../destinations/ga4';
import type { SegmentEvent } from '../../src/event';
import {
  BROWSER_CONTEXT,
  bodyOf,
  combined,
  contextFor,
  identify,
  MOBILE_CONTEXT,
  onlyRequest,
  segmentEvent,
  TIMESTAMP_MS,
  track,
} from './support';

const MICROS = TIMESTAMP_MS * 1000;
const WEB = { measurementId: 'G-7Q2RW1P9ZK', apiSecret: 'web-secret' };
const APP = {
  firebaseAppId: '1:1234567890:android:321abc456def7890',
  firebaseApiSecret: 'app-secret',
};
const APP_INSTANCE_ID = 'cbd7b0a8d4b4c6e3f0a1b2c3d4e5f6a7';

type Body = Record<string, unknown> & { events: Record<string, unknown>[] };

function sent(config: Record<string, unknown>, event: SegmentEvent) {
  const context = contextFor(ga4, config);
  const request = onlyRequest(ga4, context, event);
  return { request, body: bodyOf(request) as Body, context };
}

/** A mobile event carrying the Firebase SDK's app instance id in its GA4 options. */
function appEvent(name: string, properties: Record<string, unknown>, options = {}) {
  return track(name, properties, {
    context: MOBILE_CONTEXT,
    integrations: { 'Google Analytics 4': { appInstanceId: APP_INSTANCE_ID, ...options } },
  });
}

describe('ga4 streams: web and Firebase app streams', () => {
  test('an app stream request is Google’s documented one (firebase_app_id, app_instance_id)', () => {
    const event = appEvent(
      'Signed In',
      { method: 'Google' },
      { sessionId: '1714564700', engagementTimeMsec: 100 },
    );
    const { request, body } = sent(APP, event);
    expect(request.url).toBe(
      'https://www.google-analytics.com/mp/collect?firebase_app_id=1%3A1234567890%3Aandroid%3A321abc456def7890&api_secret=app-secret',
    );
    expect(body).toEqual({
      app_instance_id: APP_INSTANCE_ID,
      user_id: 'user-4711',
      events: [
        {
          name: 'login',
          params: { method: 'Google', session_id: '1714564700', engagement_time_msec: 100 },
          timestamp_micros: MICROS,
        },
      ],
    });
  });

  test('with both streams: events with an app_instance_id go to the app, others to the web', () => {
    const both = { ...WEB, ...APP };
    expect(sent(both, appEvent('Signed In', {})).request.url).toContain('firebase_app_id=');
    const web = sent(both, track('Signed In'));
    expect(web.request.url).toBe(
      'https://www.google-analytics.com/mp/collect?measurement_id=G-7Q2RW1P9ZK&api_secret=web-secret',
    );
    expect(web.body).toMatchObject({ client_id: 'a1b2c3d4-0000-4c4c-8888-0123456789ab' });
    expect(web.body).not.toHaveProperty('app_instance_id');
  });

  test('an app stream alone fails events without an app_instance_id, naming where it looked', () => {
    const context = contextFor(ga4, APP);
    expect(() => ga4.transform(track('Signed In'), context)).toThrow(
      'GA4 app streams need an app_instance_id, and the event has none at "integrations.Google Analytics 4.appInstanceId"',
    );
    const fromContext = contextFor(ga4, { ...APP, appInstanceIdPath: 'context.device.id' });
    const event = track('Signed In', {}, { context: MOBILE_CONTEXT });
    expect(bodyOf(onlyRequest(ga4, fromContext, event))).toMatchObject({
      app_instance_id: MOBILE_CONTEXT.device.id,
    });
  });

  test('events of different devices or streams never share a request', () => {
    const context = contextFor(ga4, { ...WEB, ...APP });
    const keys = [
      appEvent('Signed In', {}),
      track(
        'Signed In',
        {},
        { integrations: { 'Google Analytics 4': { appInstanceId: 'b'.repeat(32) } } },
      ),
      track('Signed In'),
    ].map((event) => onlyRequest(ga4, context, event).batch!.key);
    expect(new Set(keys).size).toBe(3);
  });

  test('both API secrets are credentials', () => {
    const context = contextFor(ga4, { ...WEB, ...APP });
    expect(ga4.credentialsOf!(context.config)).toEqual(['web-secret', 'app-secret']);
  });
});

describe('ga4 consent', () => {
  const config = {
    ...WEB,
    consent: { adUserData: ['Advertising'], adPersonalization: ['Advertising', 'Personalization'] },
  };
  const withConsent = (context: Record<string, unknown>) =>
    track('Signed In', {}, { context: { ...BROWSER_CONTEXT, ...context } });

  test('Segment’s categoryPreferences: each type GRANTED when all its categories are', () => {
    const event = withConsent({
      consent: {
        categoryPreferences: { Advertising: true, Personalization: true, Analytics: false },
      },
    });
    expect(sent(config, event).body.consent).toEqual({
      ad_user_data: 'GRANTED',
      ad_personalization: 'GRANTED',
    });
  });

  test('one denied category denies the type; an unstated one leaves it unsent', () => {
    const denied = withConsent({
      consent: { categoryPreferences: { Advertising: true, Personalization: false } },
    });
    expect(sent(config, denied).body.consent).toEqual({
      ad_user_data: 'GRANTED',
      ad_personalization: 'DENIED',
    });
    const unstated = withConsent({ consent: { categoryPreferences: { Advertising: true } } });
    expect(sent(config, unstated).body.consent).toEqual({ ad_user_data: 'GRANTED' });
  });

  test('RudderStack’s consentManagement: allowed and denied ids', () => {
    const event = withConsent({
      consentManagement: {
        provider: 'custom',
        allowedConsentIds: ['Personalization'],
        deniedConsentIds: ['Advertising'],
      },
    });
    expect(sent(config, event).body.consent).toEqual({
      ad_user_data: 'DENIED',
      ad_personalization: 'DENIED',
    });
  });

  test('a category denied by either field is denied', () => {
    const event = withConsent({
      consent: { categoryPreferences: { Advertising: true } },
      consentManagement: { allowedConsentIds: [], deniedConsentIds: ['Advertising'] },
    });
    expect(sent(config, event).body.consent).toMatchObject({ ad_user_data: 'DENIED' });
  });

  test('no consent without a mapping or without consent on the event', () => {
    const event = withConsent({ consent: { categoryPreferences: { Advertising: true } } });
    expect(sent(WEB, event).body).not.toHaveProperty('consent');
    expect(sent(config, track('Signed In')).body).not.toHaveProperty('consent');
  });

  test('consent is per request: events with other consent are other batches', () => {
    const context = contextFor(ga4, config);
    const granted = withConsent({ consent: { categoryPreferences: { Advertising: true } } });
    const denied = withConsent({ consent: { categoryPreferences: { Advertising: false } } });
    const [a, b, c] = [granted, denied, granted].map((event) => onlyRequest(ga4, context, event));
    expect(a.batch!.key).not.toBe(b.batch!.key);
    expect(a.batch!.key).toBe(c.batch!.key);
  });
});

describe('ga4 session parameters, when the SDK provides them', () => {
  test('gtag’s session from the GA4 options (Google’s web example)', () => {
    const event = track(
      'Signed In',
      { method: 'Google' },
      {
        integrations: { 'Google Analytics 4': { sessionId: '123', engagementTimeMsec: 100 } },
      },
    );
    expect(sent(WEB, event).body.events[0].params).toEqual({
      method: 'Google',
      session_id: '123',
      engagement_time_msec: 100,
    });
  });

  test('else the properties; else RudderStack’s context.sessionId; none is invented', () => {
    const fromProperties = track('Signed In', { session_id: 987, engagement_time_msec: '250' });
    expect(sent(WEB, fromProperties).body.events[0].params).toEqual({
      session_id: 987,
      engagement_time_msec: 250,
    });
    const rudderstack = segmentEvent('page', {
      properties: {},
      context: { ...BROWSER_CONTEXT, sessionId: 1714564700123, sessionStart: true },
    });
    expect(sent(WEB, rudderstack).body.events[0].params).toMatchObject({
      session_id: 1714564700123,
    });
    expect(sent(WEB, track('Signed In')).body.events[0].params).toEqual({});
  });

  test('the session parameters are kept before custom ones past 25', () => {
    const many = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`a${i}`, i]));
    const event = track('Trial Extended', many, {
      integrations: { 'Google Analytics 4': { sessionId: '123', engagementTimeMsec: 100 } },
    });
    const params = sent(WEB, event).body.events[0].params as Record<string, unknown>;
    expect(Object.keys(params)).toHaveLength(25);
    expect(params).toMatchObject({ session_id: '123', engagement_time_msec: 100 });
  });
});

describe('ga4 user properties on every call', () => {
  test('track: the user’s traits from context.traits', () => {
    const event = track(
      'Signed In',
      {},
      {
        context: { ...BROWSER_CONTEXT, traits: { plan: 'pro', seats: 3, address: { city: 'x' } } },
      },
    );
    expect(sent(WEB, event).body.user_properties).toEqual({
      plan: { value: 'pro' },
      seats: { value: 3 },
    });
  });

  test('group: the user’s context.traits, not the group’s traits', () => {
    const event = segmentEvent('group', {
      groupId: 'acme',
      traits: { name: 'Acme Inc', employees: 120 },
      context: { ...BROWSER_CONTEXT, traits: { plan: 'pro' } },
    });
    expect(sent(WEB, event).body.user_properties).toEqual({ plan: { value: 'pro' } });
  });

  test('no traits, no user_properties', () => {
    expect(sent(WEB, track('Signed In')).body).not.toHaveProperty('user_properties');
  });

  test('past 25: the first 25 by name, for an event and for a request', () => {
    const traits = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`t${i}`, i]));
    const kept = Object.keys(traits).sort().slice(0, 25);
    const event = track('Signed In', {}, { context: { ...BROWSER_CONTEXT, traits } });
    expect(Object.keys(sent(WEB, event).body.user_properties as object)).toEqual(kept);

    const context = contextFor(ga4, { ...WEB, identifyEventName: 'user_identified' });
    const requests = [
      identify(Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`z${i}`, i]))),
      identify(Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`b${i}`, i]))),
    ].map((event) => onlyRequest(ga4, context, event));
    const merged = (bodyOf(combined(ga4, context, requests)) as Body).user_properties as object;
    expect(Object.keys(merged)).toHaveLength(25);
    expect(Object.keys(merged)).toEqual(Object.keys(merged).sort());
    expect(merged).toHaveProperty('b0');
  });
});
