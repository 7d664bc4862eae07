/**
 * The per-item verdicts on Iterable's bulk answers. `POST /api/events/trackBulk` and
 * `POST /api/users/bulkUpdate` answer 200 with `failCount` and `failedUpdates`, lists of the
 * emails and userIds whose items failed (not of indexes), and trackBulk with the
 * `disallowedEventNames` it refused. An item fails when its own identifier (or event name) is in
 * a list; items whose identifier is in no list were taken.
 */
import type { ResponseVerdict, Verdict } from '../destination';
import { excerpt } from '../shared/requests';
import { isRecord, recordOf, stringOf } from '../shared/values';
import { perItemVerdict } from '../shared/verdicts';

/** What follows from each list of `failedUpdates`, and how it reads in a reason. */
const FAILURES: Record<
  string,
  { identifier: 'email' | 'userId'; verdict: 'abort' | 'retry'; says: string }
> = {
  invalidEmails: { identifier: 'email', verdict: 'abort', says: 'invalid email' },
  invalidUserIds: { identifier: 'userId', verdict: 'abort', says: 'invalid userId' },
  invalidDataEmails: { identifier: 'email', verdict: 'abort', says: 'invalid data fields' },
  invalidDataUserIds: { identifier: 'userId', verdict: 'abort', says: 'invalid data fields' },
  conflictEmails: { identifier: 'email', verdict: 'abort', says: 'email of another user' },
  conflictUserIds: { identifier: 'userId', verdict: 'abort', says: 'userId of another user' },
  forgottenEmails: { identifier: 'email', verdict: 'abort', says: 'user forgotten (GDPR)' },
  forgottenUserIds: { identifier: 'userId', verdict: 'abort', says: 'user forgotten (GDPR)' },
  // The event's user does not exist yet: their identify may still be on its way.
  notFoundEmails: { identifier: 'email', verdict: 'retry', says: 'no user with this email yet' },
  notFoundUserIds: { identifier: 'userId', verdict: 'retry', says: 'no user with this userId yet' },
};

/** An item of a bulk request as far as its verdict goes. */
interface BulkItem {
  email?: unknown;
  userId?: unknown;
  eventName?: unknown;
}

/** The list of strings under `key`, or an empty one. */
function listOf(record: Record<string, unknown>, key: string): string[] {
  const list = record[key];
  return Array.isArray(list) ? list.filter((value) => typeof value === 'string') : [];
}

/**
 * The verdict on a 200 bulk answer naming failures; undefined when it names none (all taken).
 * When items failed but none can be told (no list names one of them), the request is
 * dead-lettered with Iterable's answer: it took the others, and which ones it does not say.
 */
export function bulkVerdict(
  body: unknown,
  sentItems: readonly unknown[],
): ResponseVerdict | undefined {
  if (!isRecord(body)) return undefined;
  const failCount = typeof body.failCount === 'number' ? body.failCount : 0;
  if (failCount <= 0) return undefined;
  // failedUpdates, else the deprecated top-level lists of older answers.
  const failed = isRecord(body.failedUpdates) ? body.failedUpdates : body;
  const items = sentItems.map((item) => recordOf(item) as BulkItem);
  const verdicts = new Map<number, Verdict>();
  const judge = (index: number, verdict: 'abort' | 'retry', why: string) => {
    const reason = `Iterable refused the ${items[index].eventName === undefined ? 'user update' : 'event'}: ${why}`;
    // An abort outweighs a retry for the same item.
    if (verdicts.get(index)?.outcome === 'abort') return;
    verdicts.set(
      index,
      verdict === 'abort' ? { outcome: 'abort', reason } : { outcome: 'retry', reason },
    );
  };
  for (const [list, rule] of Object.entries(FAILURES)) {
    const named = new Set(listOf(failed, list).map((value) => normalized(rule.identifier, value)));
    if (named.size === 0) continue;
    const where = failed === body ? list : `failedUpdates.${list}`;
    items.forEach((item, index) => {
      const own = identifierOf(item, rule.identifier);
      if (own !== undefined && named.has(normalized(rule.identifier, own))) {
        judge(index, rule.verdict, `${rule.says} "${own}" (${where})`);
      }
    });
  }
  const disallowed = new Set(listOf(body, 'disallowedEventNames'));
  items.forEach((item, index) => {
    const name = stringOf(item.eventName);
    if (name !== undefined && disallowed.has(name)) {
      judge(
        index,
        'abort',
        `event name "${name}" is not allowed in the project (disallowedEventNames)`,
      );
    }
  });
  if (verdicts.size === 0) {
    return {
      outcome: 'abort',
      reason: `Iterable refused ${failCount} item(s) of the request and took the others, naming none of them: ${excerpt(JSON.stringify(body))}`,
    };
  }
  return perItemVerdict(items.length, verdicts, { outcome: 'ok' });
}

/**
 * The item's identifier of that kind, if it is the one Iterable went by: an item with an email is
 * identified by it (Iterable prioritizes email), else by its userId.
 */
function identifierOf(item: BulkItem, kind: 'email' | 'userId'): string | undefined {
  if (kind === 'email') return stringOf(item.email);
  return item.email === undefined ? stringOf(item.userId) : undefined;
}

/** Emails compare case-insensitively; userIds are case-sensitive (Iterable's userId spec). */
function normalized(identifier: 'email' | 'userId', value: string): string {
  return identifier === 'email' ? value.trim().toLowerCase() : value;
}
