/**
 * The Intercom destination, REST API 2.14 (`Intercom-Version` header) in the workspace's region
 * (US, EU or Australia), with an access token (Bearer):
 * identify → a contact: a user (`external_id` = userId) when a userId is known, else a lead found
 * by email; track → a data event (`POST /events`); group → a company (`POST /companies`, created or
 * updated by `company_id`) and the user attached to it.
 *
 * Intercom updates contacts and attaches them to companies by the ids it assigns, so some steps
 * follow from its answers (`followUp`): a user is created, and when Intercom answers 409 naming the
 * contact that already has those details, that contact is updated (`PUT /contacts/{id}`); a lead is
 * searched by email, then updated or created; a group upserts the company, creates (or, on 409,
 * finds) the user, then attaches it. Every step is safe to repeat when an event is retried.
 *
 * One event per request: Intercom has no batch endpoint for these writes. A 429 waits until
 * `X-RateLimit-Reset` unless Retry-After says otherwise.
 */
import { z } from 'zod';
import type { SegmentEvent } from '../../src/event';
import {
  defineDestination,
  DestinationMappingError,
  type Answer,
  type DestinationRequest,
  type DestinationResponse,
  type Verdict,
} from '../destination';
import { secret } from '../shared/config';
import { eventNameOf } from '../shared/events';
import { excerpt, headerOf, jsonBodyOf, jsonRequest, type RequestTarget } from '../shared/requests';
import { userTraits } from '../shared/traits';
import { epochSeconds, firstString, isRecord, recordOf, type JsonObject } from '../shared/values';
import { companyOf, contactAttributesOf, metadataOf } from './attributes';

const HOSTS = {
  us: 'https://api.intercom.io',
  eu: 'https://api.eu.intercom.io',
  au: 'https://api.au.intercom.io',
} as const;

/** The API version every mapping here is written against. */
export const INTERCOM_VERSION = '2.14';

/** Intercom's rate limits are counted in 10-second windows. */
const RATE_LIMIT_PAUSE_MS = 10_000;

/** The contact id in Intercom's 409 to a create: `... already exists with id=5da6f18e...`. */
const EXISTING_ID = /already exists with id=([A-Za-z0-9_-]+)/;

export const IntercomConfig = z.strictObject({
  /** An access token of the workspace's app, with write access to users, companies and events. */
  accessToken: secret(),
  /** Where the workspace is hosted. */
  region: z.enum(['us', 'eu', 'au']).default('us'),
});

export type IntercomConfig = z.infer<typeof IntercomConfig>;

function target(config: IntercomConfig, method: 'POST' | 'PUT', path: string): RequestTarget {
  return {
    method,
    url: `${HOSTS[config.region]}${path}`,
    headers: {
      Authorization: `Bearer ${config.accessToken}`,
      Accept: 'application/json',
      'Intercom-Version': INTERCOM_VERSION,
    },
  };
}

function createContact(config: IntercomConfig, body: JsonObject): DestinationRequest {
  return jsonRequest(target(config, 'POST', '/contacts'), body);
}

/** A user's contact (userId known): its external_id and attributes. */
function userBody(event: SegmentEvent, userId: string): JsonObject {
  return { role: 'user', external_id: userId, ...contactAttributesOf(event) };
}

/** The person's email, from traits or context.traits. */
function emailOf(event: SegmentEvent): string | undefined {
  return firstString(userTraits(event).email);
}

function identifyRequests(event: SegmentEvent, config: IntercomConfig): DestinationRequest[] {
  const userId = firstString(event.userId);
  if (userId) return [createContact(config, userBody(event, userId))];
  const email = emailOf(event);
  // A lead without an email could never be found again to update: nothing to send.
  if (!email) return [];
  return [
    jsonRequest(target(config, 'POST', '/contacts/search'), {
      query: {
        operator: 'AND',
        value: [
          { field: 'role', operator: '=', value: 'lead' },
          { field: 'email', operator: '=', value: email },
        ],
      },
    }),
  ];
}

function trackRequests(event: SegmentEvent, config: IntercomConfig): DestinationRequest[] {
  const userId = firstString(event.userId);
  const email = userId ? undefined : emailOf(event);
  // Intercom's other identifier for an event is its own contact id, which Sluice does not know.
  if (!userId && !email) return [];
  return [
    jsonRequest(target(config, 'POST', '/events'), {
      event_name: eventNameOf(event),
      created_at: epochSeconds(event.timestamp),
      ...(userId ? { user_id: userId } : { email }),
      metadata: metadataOf(event),
    }),
  ];
}

function groupRequests(event: SegmentEvent, config: IntercomConfig): DestinationRequest[] {
  const groupId = firstString(event.groupId);
  if (!groupId) throw new DestinationMappingError('the group call has no groupId');
  if (!firstString(event.userId)) {
    throw new DestinationMappingError(
      'Intercom attaches companies to users, and this group has no userId',
    );
  }
  return [jsonRequest(target(config, 'POST', '/companies'), companyOf(event, groupId))];
}

/** The Intercom id an answer gives: the object's `id`, or the existing contact a 409 names. */
function idIn(answer: Answer | undefined): string | undefined {
  if (!answer) return undefined;
  const body = recordOf(jsonBodyOf(answer.response));
  if (answer.response.status === 409) return existingContactId(body);
  return firstString(body.id);
}

/** The existing contact's id in a 409 `error.list`. */
function existingContactId(body: JsonObject): string | undefined {
  const errors = Array.isArray(body.errors) ? body.errors.filter(isRecord) : [];
  for (const error of errors) {
    const match = EXISTING_ID.exec(firstString(error.message) ?? '');
    if (match) return match[1];
  }
  return undefined;
}

/** An id the next step needs; its absence means Intercom answered in a way not documented. */
function required(id: string | undefined, what: string): string {
  if (!id) throw new DestinationMappingError(`Intercom’s answer carried no ${what} id`);
  return id;
}

function contactPath(id: string): string {
  return `/contacts/${encodeURIComponent(id)}`;
}

function identifyFollowUp(
  event: SegmentEvent,
  answers: readonly Answer[],
  config: IntercomConfig,
): DestinationRequest[] {
  if (answers.length !== 1) return [];
  const [first] = answers;
  const userId = firstString(event.userId);
  if (userId) {
    // Created (2xx): done. A 409 names the contact with those details: update it.
    if (first.response.status !== 409) return [];
    const id = required(idIn(first), 'existing contact');
    return [jsonRequest(target(config, 'PUT', contactPath(id)), userBody(event, userId))];
  }
  const lead = { role: 'lead', ...contactAttributesOf(event) };
  const found = recordOf(jsonBodyOf(first.response)).data;
  const leadId = Array.isArray(found) && isRecord(found[0]) ? firstString(found[0].id) : undefined;
  if (leadId) return [jsonRequest(target(config, 'PUT', contactPath(leadId)), lead)];
  return [createContact(config, lead)];
}

function groupFollowUp(
  event: SegmentEvent,
  answers: readonly Answer[],
  config: IntercomConfig,
): DestinationRequest[] {
  const [company, contact] = answers;
  if (answers.length === 1) {
    // The user as a contact: created, or (409) found with its id.
    return [createContact(config, { role: 'user', external_id: event.userId })];
  }
  if (answers.length !== 2) return [];
  const companyId = required(idIn(company), 'company');
  const contactId = required(idIn(contact), 'contact');
  return [
    jsonRequest(target(config, 'POST', `${contactPath(contactId)}/companies`), { id: companyId }),
  ];
}

export const intercom = defineDestination<IntercomConfig>({
  type: 'intercom',
  kind: 'tool',
  integrationName: 'Intercom',
  configSchema: IntercomConfig,
  supportedTypes: ['identify', 'track', 'group'],
  transform(event, { config }) {
    switch (event.type) {
      case 'identify':
        return identifyRequests(event, config);
      case 'track':
        return trackRequests(event, config);
      case 'group':
        return groupRequests(event, config);
      default:
        return [];
    }
  },
  followUp(event, answers, { config }) {
    if (event.type === 'identify') return identifyFollowUp(event, answers, config);
    if (event.type === 'group') return groupFollowUp(event, answers, config);
    return [];
  },
  credentialsOf: (config) => [config.accessToken],
  interpretResponse(response, sent) {
    const { method, url } = sent.request;
    const path = new URL(url).pathname;
    if (response.status === 429) return throttled(response);
    if (response.status === 409 && method === 'POST' && path === '/contacts') {
      // The contact exists: followUp updates it (identify) or attaches it (group).
      const id = existingContactId(recordOf(jsonBodyOf(response)));
      if (id) return { outcome: 'ok' };
    }
    if (response.status === 404 && /^\/contacts\/[^/]+\/companies$/.test(path)) {
      return {
        outcome: 'retry',
        reason: `Intercom does not find the contact or company it just returned (HTTP 404): ${excerpt(response.body)}`,
      };
    }
    return undefined;
  },
});

/** A 429: wait until Intercom's window resets (`X-RateLimit-Reset`, Unix seconds). */
function throttled(response: DestinationResponse): Verdict {
  const reason = `Intercom rate limit (HTTP 429): ${excerpt(response.body)}`;
  if (headerOf(response, 'retry-after')) return { outcome: 'retry', reason };
  const reset = Number(headerOf(response, 'x-ratelimit-reset'));
  const untilReset = Number.isFinite(reset) && reset > 0 ? reset * 1000 - Date.now() : undefined;
  const afterMs =
    untilReset !== undefined && untilReset > 0 && untilReset <= 60_000
      ? Math.ceil(untilReset)
      : RATE_LIMIT_PAUSE_MS;
  return { outcome: 'retry', reason, afterMs };
}
