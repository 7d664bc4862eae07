/**
 * Signing in to the console: the admin token, once, for a session cookie (HttpOnly, so page
 * scripts never see it; SameSite=Strict, so no other site's page sends it). The cookie carries
 * its expiry and an HMAC of it keyed by the admin token, so every process and replica accepts it
 * without shared state, and changing the token signs every session out.
 *
 * A request authenticated by the cookie that changes state must also carry the
 * `X-Sluice-Console` header, which no cross-site form or image can send (the admin API answers
 * no CORS preflight), and must not come from another Origin.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const SESSION_COOKIE = 'sluice_console';
export const CONSOLE_HEADER = 'x-sluice-console';

/** How long a console session lasts. */
export const SESSION_HOURS = 12;

/** The value of a new session cookie for `token`, valid until `now` + SESSION_HOURS. */
export function newSession(token: string, now = Date.now()): { value: string; maxAge: number } {
  const expires = now + SESSION_HOURS * 3_600_000;
  return { value: `${expires}.${signature(token, expires)}`, maxAge: SESSION_HOURS * 3600 };
}

/** Whether the request carries a valid, unexpired session cookie for `token`. */
export function hasSession(request: IncomingMessage, token: string, now = Date.now()): boolean {
  const value = cookieOf(request, SESSION_COOKIE);
  const match = value && /^(\d+)\.([0-9a-f]{64})$/.exec(value);
  if (!match) return false;
  const expires = Number(match[1]);
  if (!(expires > now)) return false;
  const expected = Buffer.from(signature(token, expires));
  const given = Buffer.from(match[2]);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * Whether a cookie-authenticated request may change state: it carries the console's header and
 * no Origin of another host.
 */
export function isSameSiteChange(request: IncomingMessage): boolean {
  if (request.headers[CONSOLE_HEADER] !== '1') return false;
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === request.headers.host;
  } catch {
    return false;
  }
}

/** The Set-Cookie header for a session value (`maxAge` 0 signs out). */
export function sessionCookie(value: string, maxAge: number, secure: boolean): string {
  return [
    `${SESSION_COOKIE}=${value}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Strict',
    `Max-Age=${maxAge}`,
    ...(secure ? ['Secure'] : []),
  ].join('; ');
}

function signature(token: string, expires: number): string {
  return createHmac('sha256', token).update(`sluice-console-session:${expires}`).digest('hex');
}

function cookieOf(request: IncomingMessage, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return undefined;
}
