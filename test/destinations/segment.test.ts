import { DestinationMappingError } from '../../destinations/destination';
import { segment } from '../../destinations/segment';
import {
  basic,
  bodyOf,
  combined,
  contextFor,
  onlyRequest,
  segmentEvent,
  testConfigErrors,
  track,
  verdictOf,
} from './support';

const context = contextFor(segment, { writeKey: 'wk_live_123' });

describe('segment config', () => {
  test('fills defaults', () => {
    expect(context.config).toEqual({
      writeKey: 'wk_live_123',
      endpoint: 'https://api.segment.io',
      path: '/v1/batch',
    });
  });

  testConfigErrors('segment', [
    [{}, 'writeKey: required'],
    [{ writeKey: 'k', endpoint: 'api.segment.io' }, 'endpoint: Invalid URL'],
    [{ writeKey: 'k', path: 'v1/batch' }, 'path: must start with /'],
  ]);
});

describe('segment mapping', () => {
  test('the event goes intact but for the fields the receiver sets, in a batch without sentAt', () => {
    const event = track('Order Completed', { order_id: 'o-1', revenue: 12 });
    const request = onlyRequest(segment, context, event);
    expect(request).toMatchObject({
      method: 'POST',
      url: 'https://api.segment.io/v1/batch',
      headers: { 'Content-Type': 'application/json', Authorization: basic('wk_live_123', '') },
    });
    const { receivedAt: _r, sentAt: _s, originalTimestamp: _o, ...forwarded } = event;
    expect(bodyOf(request)).toEqual({ batch: [forwarded] });
    expect(forwarded).toMatchObject({
      messageId: event.messageId,
      timestamp: event.timestamp,
      integrations: {},
      context: event.context,
    });
  });

  test('a custom endpoint and path (EU workspace, another Segment-compatible server)', () => {
    const eu = contextFor(segment, {
      writeKey: 'k',
      endpoint: 'https://events.eu1.segmentapis.com/',
      path: '/v1/batch',
    });
    expect(onlyRequest(segment, eu, track('X')).url).toBe(
      'https://events.eu1.segmentapis.com/v1/batch',
    );
  });

  test('an event over 32 KB fails alone', () => {
    const event = track('Big', { blob: 'x'.repeat(33 * 1024) });
    expect(() => segment.transform(event, context)).toThrow(DestinationMappingError);
    expect(() => segment.transform(event, context)).toThrow(/Segment accepts at most 32768/);
  });

  test('every event type is forwarded', () => {
    for (const type of segment.supportedTypes) {
      const event = segmentEvent(type, { groupId: 'g', previousId: 'p', event: 'E' });
      expect(
        (bodyOf(onlyRequest(segment, context, event)) as { batch: unknown[] }).batch,
      ).toHaveLength(1);
    }
  });
});

describe('segment batching', () => {
  test('events combine into one batch within 2500 events and 500 KB', () => {
    const requests = ['a', 'b'].map((id) =>
      onlyRequest(segment, context, track(id, {}, { messageId: id })),
    );
    const body = bodyOf(combined(segment, context, requests)) as { batch: { messageId: string }[] };
    expect(body.batch.map((event) => event.messageId)).toEqual(['a', 'b']);
    expect(Object.keys(body)).toEqual(['batch']);
    expect(segment.batching!.maxItems).toBe(2500);
    expect(segment.batching!.maxBytes).toBeLessThan(500_000);
    expect(requests[0].batch!.key).not.toContain('wk_live_123');
  });

  test('responses follow the router’s rules', () => {
    expect(segment.interpretResponse).toBeUndefined();
    expect(verdictOf(segment, 200, { success: true })).toBeUndefined();
  });
});
