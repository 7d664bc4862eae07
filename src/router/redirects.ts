/**
 * Which redirects the router follows. A request carries credentials and events meant for the
 * configured host only, so a redirect to any other origin (scheme, host or port) is never
 * followed: the delivery is aborted, naming the status and the other origin, since sending it
 * again would be redirected again. 307 and 308 to the same origin are followed (they keep the
 * method and body), up to MAX_REDIRECTS times; 301, 302 and 303 are not, because clients turn them
 * into a GET without the body, which would drop the events while looking delivered.
 */

/** Same-origin 307/308 redirects followed for one request; one more is a failed delivery. */
export const MAX_REDIRECTS = 3;

const FOLLOWED = new Set([307, 308]);

export type RedirectDecision = { follow: URL } | { refuse: string };

/** Whether `status` is a redirect status (the fetch API's list). */
export function isRedirect(status: number): boolean {
  return [301, 302, 303, 307, 308].includes(status);
}

/**
 * Where a redirect answered by `answeredUrl` leads, if it may be followed from a request to
 * `requestUrl`; otherwise why not.
 */
export function redirectDecision(
  status: number,
  location: string | undefined,
  answeredUrl: string,
  requestUrl: string,
): RedirectDecision {
  if (!location) return { refuse: `HTTP ${status} redirect without a Location: not followed` };
  let target: URL;
  try {
    target = new URL(location, answeredUrl);
  } catch {
    return { refuse: `HTTP ${status} redirect to an invalid Location: not followed` };
  }
  const origin = new URL(requestUrl).origin;
  if (target.origin !== origin) {
    return {
      refuse:
        `HTTP ${status} redirect to another host (${target.origin}) not followed: credentials` +
        ` and events go only to the configured ${origin}`,
    };
  }
  if (!FOLLOWED.has(status)) {
    return {
      refuse:
        `HTTP ${status} redirect to ${target.pathname} not followed: only 307 and 308 keep the` +
        ` method and body (configure the final URL)`,
    };
  }
  return { follow: target };
}
