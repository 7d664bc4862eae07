/**
 * Who an event is about, as Iterable identifies users in the project's type (Iterable, "Project
 * Types and Unique Identifiers" and "Creating and Identifying Users with Iterable APIs"), and the
 * user's profile fields from their traits.
 *
 * - userID-based projects: the `userId` only.
 * - hybrid projects: the `userId`, else the `email`.
 * - email-based projects: the `email` (with the `userId`, which Iterable then sets on the profile),
 *   else the `userId` with `preferUserId`, which creates the user under a placeholder email.
 */
import type { SegmentEvent } from '../../src/event';
import { renameTraits, traitOf, userTraits } from '../shared/traits';
import { compact, firstString, stringOf, type JsonObject } from '../shared/values';

export type ProjectType = 'hybrid' | 'userId' | 'email';

/** The identifying fields of a request about one user. */
export interface IterableUser {
  email?: string;
  userId?: string;
  /** Email-based projects only: create a user that has no email yet. */
  preferUserId?: true;
}

/** The user an event is about, or undefined when the project cannot identify them. */
export function userOf(event: SegmentEvent, projectType: ProjectType): IterableUser | undefined {
  const userId = firstString(event.userId);
  const email = stringOf(traitOf(userTraits(event), 'email'));
  switch (projectType) {
    case 'userId':
      return userId ? { userId } : undefined;
    case 'hybrid':
      return userId ? { userId } : email ? { email } : undefined;
    case 'email':
      if (email) return userId ? { email, userId } : { email };
      return userId ? { userId, preferUserId: true } : undefined;
  }
}

/** The identifying fields an event request takes (events have no `preferUserId`). */
export function eventUserOf({ email, userId }: IterableUser): IterableUser {
  return compact({ email, userId });
}

/**
 * The user's traits as profile fields: `phone` as Iterable's `phoneNumber`, the others as sent.
 * The email stays a field when the request identifies the user by userId (so Iterable sets it),
 * and is left out when it is the request's own identifier.
 */
export function dataFieldsOf(event: SegmentEvent, user: IterableUser): JsonObject {
  const fields = renameTraits(userTraits(event), { phone: 'phoneNumber', id: null });
  if (user.email) delete fields.email;
  return fields;
}
