import { webhook } from '../../destinations/webhook';
import {
  basic,
  bodyOf,
  combined,
  contextFor,
  identify,
  onlyRequest,
  segmentEvent,
  testConfigErrors,
  track,
} from './support';

describe('webhook config', () => {
  test('fills defaults', () => {
    expect(contextFor(webhook, { url: 'https://hooks.example.com/in' }).config).toEqual({
      url: 'https://hooks.example.com/in',
      method: 'POST',
      headers: {},
      batchSize: 1,
    });
  });

  testConfigErrors('webhook', [
    [{ url: 'not a url' }, 'url: Invalid URL'],
    [{ url: 'ftp://files.example.com' }, 'url: Invalid URL'],
    [{}, 'url: required'],
    [{ url: 42 }, 'url: Invalid URL'],
    [{ url: 'https://x.example', method: 'GET' }, 'method: Invalid option'],
    [{ url: 'https://x.example', batchSize: 0 }, 'batchSize: Too small'],
    [{ url: 'https://x.example', batchSize: 1001 }, 'batchSize: Too big'],
    [{ url: 'https://x.example', headers: { 'Bad Header': 'x' } }, 'headers.Bad Header'],
    [{ url: 'https://x.example', secret: 'x' }, 'secret: unknown field'],
  ]);
});

describe('webhook mapping', () => {
  test('one event per request: the event as a JSON object', () => {
    const context = contextFor(webhook, {
      url: 'https://hooks.example.com/in',
      method: 'PUT',
      headers: { 'X-Api-Key': 'k-123' },
    });
    const event = track('Order Completed', { order_id: 'o-1', revenue: 42.5 });
    const request = onlyRequest(webhook, context, event);
    expect(request).toEqual({
      method: 'PUT',
      url: 'https://hooks.example.com/in',
      headers: { 'Content-Type': 'application/json', 'X-Api-Key': 'k-123' },
      body: JSON.stringify(event),
    });
    expect(request.batch).toBeUndefined();
  });

  test('a configured Content-Type replaces the default, whatever its case', () => {
    const context = contextFor(webhook, {
      url: 'https://hooks.example.com/in',
      headers: { 'content-type': 'application/vnd.acme+json' },
    });
    const request = onlyRequest(webhook, context, identify({ email: 'ada@example.com' }));
    expect(request.headers).toEqual({ 'content-type': 'application/vnd.acme+json' });
  });

  test('batched: every request is an array, up to batchSize events', () => {
    const context = contextFor(webhook, { url: 'https://hooks.example.com/in', batchSize: 3 });
    const events = ['a', 'b', 'c'].map((id) => segmentEvent('page', { messageId: id, name: id }));
    const requests = events.map((event) => onlyRequest(webhook, context, event));
    expect(bodyOf(requests[0])).toEqual([events[0]]);
    expect(requests[0].batch).toMatchObject({ item: events[0], limits: { maxItems: 3 } });
    expect(new Set(requests.map((request) => request.batch!.key)).size).toBe(1);
    const batch = combined(webhook, context, requests);
    expect(batch.method).toBe('POST');
    expect(batch.url).toBe('https://hooks.example.com/in');
    expect(bodyOf(batch)).toEqual(events);
    expect(webhook.batching!.maxItems).toBe(1000);
  });

  test('the batch key does not show header values', () => {
    const context = contextFor(webhook, {
      url: 'https://hooks.example.com/in?token=s3cret',
      headers: { Authorization: 'Bearer s3cret' },
      batchSize: 10,
    });
    const request = onlyRequest(webhook, context, track('Signed In'));
    expect(request.batch!.key).toMatch(/^POST https:\/\/hooks\.example\.com\/in [0-9a-f]{16}$/);
    expect(request.batch!.key).not.toContain('s3cret');
  });

  test('a user and password in the URL are sent as Basic auth, not in the URL', () => {
    const context = contextFor(webhook, { url: 'https://hook%40user:p%3Ass@hooks.example.com/in' });
    const request = onlyRequest(webhook, context, track('Signed In'));
    expect(request.url).toBe('https://hooks.example.com/in');
    expect(request.headers.Authorization).toBe(basic('hook@user', 'p:ss'));
    const configured = contextFor(webhook, {
      url: 'https://u:p@hooks.example.com/in',
      headers: { authorization: 'Bearer own-token' },
    });
    expect(onlyRequest(webhook, configured, track('Signed In')).headers).toEqual({
      'Content-Type': 'application/json',
      authorization: 'Bearer own-token',
    });
  });

  test('every header and query value and the URL credentials are credentials to mask', () => {
    const { config } = contextFor(webhook, {
      url: 'https://user:pw-9x@hooks.example.com/in?sig=abc123&v=2',
      headers: { 'X-Signature': 'xsig-1', 'Content-Type': 'application/json' },
    });
    expect(webhook.credentialsOf!(config).sort()).toEqual([
      '2',
      'abc123',
      'pw-9x',
      'user',
      'xsig-1',
    ]);
  });

  test('accepts every event type and answers by status (no interpretResponse)', () => {
    expect(webhook.supportedTypes).toEqual([
      'identify',
      'track',
      'page',
      'screen',
      'group',
      'alias',
    ]);
    expect(webhook.interpretResponse).toBeUndefined();
  });
});
