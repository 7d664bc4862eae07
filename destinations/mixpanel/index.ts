/**
 * The Mixpanel destination: events to /import (strict validation, project token or service
 * account), identify to /engage `$set` and the other operations config names traits for, an
 * order's charge to the profile's `$transactions` (trackCharges), group to /groups `$set` plus a
 * `$union` of the group on the user's profile, alias to `$create_alias` for projects on the
 * Original ID Merge API. US, EU and India residency hosts.
 */
import { z } from 'zod';
import type { SegmentEvent } from '../../src/event';
import {
  defineDestination,
  type DestinationRequest,
  type ResponseVerdict,
  type TransformContext,
  type Verdict,
} from '../destination';
import { secret, viewNames } from '../shared/config';
import { eventNameOf, viewEventName } from '../shared/events';
import {
  basicAuth,
  batchableRequest,
  excerpt,
  jsonBatching,
  jsonBodyOf,
  jsonRequest,
  withQuery,
  type RequestTarget,
} from '../shared/requests';
import { oneOperationPerTrait, traitListFields } from '../shared/trait-operations';
import { renameTraits, userTraits } from '../shared/traits';
import { isRecord, recordOf, type JsonObject } from '../shared/values';
import { indexIn, perItemVerdict } from '../shared/verdicts';
import {
  chargeOf,
  identifyUpdatesOf,
  identityEventOf,
  importEventOf,
  PROFILE_TRAITS,
  profileUpdateOf,
} from './map-event';

const HOSTS = {
  us: 'https://api.mixpanel.com',
  eu: 'https://api-eu.mixpanel.com',
  in: 'https://api-in.mixpanel.com',
} as const;

/**
 * /import and /engage take 2000 records per request. /import takes 10 MB, but Mixpanel's
 * ingestion answers 413 above 2 MiB on other endpoints, so every batch stays under that. An
 * /import item is one event; an /engage item is an event's list of updates (see engageRequest).
 */
const MAX_ITEMS = 2000;
const MAX_BYTES = 2 * 1024 * 1024 - 32_768;

export const MixpanelConfig = z
  .strictObject({
    projectToken: secret(),
    region: z.enum(['us', 'eu', 'in']).default('us'),
    /** Authenticates /import as a service account instead of with the project token. */
    serviceAccount: z
      .strictObject({
        username: secret(),
        secret: secret(),
        projectId: z.string().regex(/^\d+$/, 'must be the numeric project id'),
      })
      .optional(),
    /** The project's ID Merge API (Project Settings → Identity Merge). */
    identityMerge: z.enum(['simplified', 'original']).default('simplified'),
    /** The group key (Project Settings → Group Keys) group calls set; unset: groups are not sent. */
    groupKey: z.string().min(1).optional(),
    pageNames: viewNames('Page'),
    screenNames: viewNames('Screen'),
    /** Identify traits sent with `$add`, `$set_once`, `$append` and `$union`, not `$set`. */
    ...traitListFields(),
    /** `Order Completed` also appends a charge to the profile's `$transactions` (revenue report). */
    trackCharges: z.boolean().default(false),
  })
  .superRefine(oneOperationPerTrait);

export type MixpanelConfig = z.infer<typeof MixpanelConfig>;

type Context = TransformContext<MixpanelConfig>;

const batching = jsonBatching<MixpanelConfig>({
  maxItems: MAX_ITEMS,
  maxBytes: MAX_BYTES,
  // /engage items are lists of updates; /import items are events, which flat() leaves as they are.
  envelope: (items) => items.flat(),
});

function importTarget(config: MixpanelConfig): RequestTarget {
  const account = config.serviceAccount;
  return {
    method: 'POST',
    url: withQuery(`${HOSTS[config.region]}/import`, {
      strict: '1',
      project_id: account?.projectId,
    }),
    headers: {
      Authorization: account
        ? basicAuth(account.username, account.secret)
        : basicAuth(config.projectToken, ''),
    },
  };
}

/** /engage and /groups take the token in each record; verbose=1 makes failures visible. */
function profileTarget(config: MixpanelConfig, path: 'engage' | 'groups'): RequestTarget {
  // ip=0: the profile is not located at the requester (Sluice); records carry $ip instead.
  const query = path === 'engage' ? { verbose: '1', ip: '0' } : { verbose: '1' };
  return { method: 'POST', url: withQuery(`${HOSTS[config.region]}/${path}`, query), headers: {} };
}

function importRequest(context: Context, item: unknown): DestinationRequest {
  return batchableRequest(batching, context, importTarget(context.config), item);
}

/**
 * An /engage request carrying an event's updates. An identify makes one update per operation
 * config uses, so /engage batches take fewer items, to stay within 2000 updates a request.
 */
function engageRequest(context: Context, updates: JsonObject[]): DestinationRequest {
  const { config } = context;
  const operations = [
    config.traitsToIncrement,
    config.traitsToSetOnce,
    config.traitsToAppend,
    config.traitsToUnion,
  ].filter((names) => names.length > 0).length;
  const limits = { maxItems: Math.floor(MAX_ITEMS / (1 + operations)) };
  return batchableRequest(batching, context, profileTarget(config, 'engage'), updates, { limits });
}

function requestsOf(event: SegmentEvent, context: Context): DestinationRequest[] {
  const { config } = context;
  const merge = config.identityMerge;
  switch (event.type) {
    case 'track': {
      const imported = importRequest(context, importEventOf(event, eventNameOf(event), merge));
      const charge = config.trackCharges && chargeOf(event, config.projectToken, merge);
      return charge ? [imported, engageRequest(context, [charge])] : [imported];
    }
    case 'page':
    case 'screen': {
      const names = event.type === 'page' ? config.pageNames : config.screenNames;
      return [importRequest(context, importEventOf(event, viewEventName(event, names), merge))];
    }
    case 'identify': {
      const update = engageRequest(
        context,
        identifyUpdatesOf(event, config.projectToken, merge, config),
      );
      if (merge === 'original' && event.userId && event.anonymousId) {
        const identify = identityEventOf(event, '$identify', {
          distinct_id: event.userId,
          $identified_id: event.userId,
          $anon_id: event.anonymousId,
        });
        return [importRequest(context, identify), update];
      }
      return [update];
    }
    case 'group':
      return groupRequests(event, context);
    case 'alias':
      // Simplified ID Merge links ids through events carrying both; alias has no effect there.
      if (merge !== 'original') return [];
      return [
        importRequest(
          context,
          identityEventOf(event, '$create_alias', {
            distinct_id: event.previousId,
            alias: event.userId,
          }),
        ),
      ];
  }
}

/** The user joins the group (a list property named by the group key), then the group's $set. */
function groupRequests(event: SegmentEvent, context: Context): DestinationRequest[] {
  const { config } = context;
  if (!config.groupKey || !event.groupId) return [];
  const requests: DestinationRequest[] = [];
  if (event.userId || event.anonymousId) {
    const union = { $union: { [config.groupKey]: [event.groupId] } };
    requests.push(
      engageRequest(context, [
        profileUpdateOf(event, config.projectToken, config.identityMerge, union),
      ]),
    );
  }
  const update = {
    $token: config.projectToken,
    $group_key: config.groupKey,
    $group_id: event.groupId,
    $set: renameTraits(userTraits(event), PROFILE_TRAITS),
  };
  // Group calls are rare: sent one by one rather than batched under another endpoint's limits.
  requests.push(jsonRequest(profileTarget(config, 'groups'), [update]));
  return requests;
}

export const mixpanel = defineDestination<MixpanelConfig>({
  type: 'mixpanel',
  kind: 'tool',
  integrationName: 'Mixpanel',
  configSchema: MixpanelConfig,
  supportedTypes: ['identify', 'track', 'page', 'screen', 'group', 'alias'],
  transform: requestsOf,
  batching,
  // /engage and /groups records carry the project token; a service account authenticates /import.
  credentialsOf: ({ projectToken, serviceAccount }) =>
    [projectToken, serviceAccount?.username, serviceAccount?.secret].filter(
      (value) => value !== undefined,
    ),
  interpretResponse(response, sent) {
    const body = jsonBodyOf(response);
    // /engage and /groups (verbose=1) answer 200 with status 0 when a record is invalid, for the
    // request as a whole.
    if (response.status === 200 && (body === 0 || (isRecord(body) && body.status === 0))) {
      const error = isRecord(body) ? String(body.error ?? 'unknown error') : 'invalid data';
      return { outcome: 'abort', reason: `Mixpanel rejected the update: ${error}` };
    }
    // /import (strict=1) answers 400 naming the failed records by index; it imported the others.
    if (response.status === 400 && isRecord(body) && Array.isArray(body.failed_records)) {
      return importFailures(body.failed_records, body.num_records_imported, sent.items.length);
    }
    return undefined;
  },
});

/**
 * The verdict on an /import batch with failed records: each failed event aborted with its
 * reason (retrying sends the same invalid data), the others done. When a record names no event
 * of the request, the batch is judged as a whole: aborted with every reason (replaying is safe,
 * since $insert_id dedupes the imported ones).
 */
function importFailures(records: unknown[], imported: unknown, items: number): ResponseVerdict {
  const failures = records.map((record) => {
    const { index, field, message } = recordOf(record);
    const text = `${String(field ?? '')}: ${String(message ?? '')}`;
    return { index: indexIn(index, items), label: `#${String(index)} ${text}`.trim(), text };
  });
  if (records.length === 0 || failures.some((failure) => failure.index === undefined)) {
    return {
      outcome: 'abort',
      reason:
        `Mixpanel rejected ${failures.length} event(s) and imported ${String(imported ?? 0)}` +
        ` (replaying is safe: $insert_id dedupes): ${excerpt(failures.map((f) => f.label).join('; '))}`,
    };
  }
  const reasons = new Map<number, string[]>();
  for (const { index, text } of failures)
    reasons.set(index!, [...(reasons.get(index!) ?? []), text]);
  const refused = new Map<number, Verdict>(
    [...reasons].map(([index, texts]) => [
      index,
      { outcome: 'abort', reason: `Mixpanel rejected the event: ${excerpt(texts.join('; '))}` },
    ]),
  );
  return perItemVerdict(items, refused, { outcome: 'ok' });
}
