/** The Segment event as Sluice stores and passes it between stages. */

export const EVENT_TYPES = ['identify', 'track', 'page', 'screen', 'group', 'alias'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface SegmentEvent {
  type: EventType;
  messageId: string;
  userId?: string;
  anonymousId?: string;
  event?: string;
  name?: string;
  category?: string;
  groupId?: string;
  previousId?: string;
  properties?: Record<string, unknown>;
  traits?: Record<string, unknown>;
  context?: Record<string, unknown> & { ip?: string; traits?: Record<string, unknown> };
  integrations?: Record<string, unknown>;
  timestamp: string;
  originalTimestamp: string;
  sentAt?: string;
  receivedAt: string;
  [field: string]: unknown;
}

export function isEventType(value: unknown): value is EventType {
  return typeof value === 'string' && (EVENT_TYPES as readonly string[]).includes(value);
}

/** The key events are ordered by: userId, else anonymousId (alias: the new userId). */
export function userKeyOf(
  event: Pick<SegmentEvent, 'userId' | 'anonymousId' | 'groupId' | 'messageId'>,
): string {
  return event.userId ?? event.anonymousId ?? event.groupId ?? event.messageId;
}
