/**
 * The Measurement Protocol's request-level `consent` (`ad_user_data`, `ad_personalization`:
 * GRANTED or DENIED) from the consent an event carries: Segment's
 * `context.consent.categoryPreferences` (category id → true/false) and RudderStack's
 * `context.consentManagement` (`allowedConsentIds`, `deniedConsentIds`). Which categories stand
 * for which GA4 consent type is the config's: the category ids of the user's consent manager
 * mean nothing to Sluice.
 */
import { z } from 'zod';
import type { SegmentEvent } from '../../src/event';
import { isRecord, recordOf, type JsonObject } from '../shared/values';

const categoryIds = z.array(z.string().min(1)).min(1);

/** For each GA4 consent type, the consent categories that must all be granted to grant it. */
export const Ga4ConsentConfig = z.strictObject({
  adUserData: categoryIds.optional(),
  adPersonalization: categoryIds.optional(),
});

export type Ga4ConsentConfig = z.infer<typeof Ga4ConsentConfig>;

type Status = 'GRANTED' | 'DENIED';

function stringsOf(value: unknown): string[] {
  return Array.isArray(value)
    ? value.filter((item): item is string => typeof item === 'string')
    : [];
}

/**
 * Each category the event states: true granted, false denied. A category denied by either
 * Segment's or RudderStack's field is denied.
 */
function categoriesOf(event: SegmentEvent): Map<string, boolean> {
  const states = new Map<string, boolean>();
  const state = (id: string, granted: boolean) =>
    states.set(id, states.get(id) !== false && granted);
  const rudderstack = recordOf(event.context?.consentManagement);
  for (const id of stringsOf(rudderstack.allowedConsentIds)) state(id, true);
  for (const id of stringsOf(rudderstack.deniedConsentIds)) state(id, false);
  const consent = event.context?.consent;
  const preferences = isRecord(consent) ? recordOf(consent.categoryPreferences) : {};
  for (const [id, granted] of Object.entries(preferences)) {
    if (typeof granted === 'boolean') state(id, granted);
  }
  return states;
}

/** DENIED when a category is denied, GRANTED when all are granted, else unknown. */
function statusOf(
  categories: readonly string[] | undefined,
  states: ReadonlyMap<string, boolean>,
): Status | undefined {
  if (!categories) return undefined;
  const stated = categories.map((id) => states.get(id));
  if (stated.includes(false)) return 'DENIED';
  return stated.every((granted) => granted === true) ? 'GRANTED' : undefined;
}

/** The request's `consent`, or undefined when the config or the event says nothing. */
export function consentOf(
  event: SegmentEvent,
  config: Ga4ConsentConfig | undefined,
): JsonObject | undefined {
  if (!config) return undefined;
  const states = categoriesOf(event);
  const consent: JsonObject = {};
  const adUserData = statusOf(config.adUserData, states);
  const adPersonalization = statusOf(config.adPersonalization, states);
  if (adUserData) consent.ad_user_data = adUserData;
  if (adPersonalization) consent.ad_personalization = adPersonalization;
  return Object.keys(consent).length ? consent : undefined;
}
