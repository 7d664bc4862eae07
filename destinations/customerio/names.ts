/**
 * Customer.io event names within its limit: the Track API answers 400 ("event name cannot be
 * longer than 100 bytes", Customer.io's "Invalid API Requests" page) to longer names, and trims
 * leading and trailing spaces itself. Page views are named after the page's URL, as Customer.io
 * intends for `page` events ("the page a person visited"); a URL too long keeps its page (the
 * URL without query and fragment, which usually hold campaign parameters), and anything still too
 * long is cut at a character boundary.
 */
import { truncateBytes } from '../shared/values';

/** The most bytes of UTF-8 in an event name Customer.io accepts. */
export const MAX_NAME_BYTES = 100;

/** A track or screen name, trimmed and cut to MAX_NAME_BYTES. */
export function eventName(name: string): string {
  return truncateBytes(name.trim(), MAX_NAME_BYTES).trim();
}

/**
 * The name of a page view: the URL when it fits, else the URL without its query and fragment,
 * else that cut to MAX_NAME_BYTES. The URL is cut as text, never re-encoded, so a page keeps the
 * spelling its SDK sent.
 */
export function pageName(url: string): string {
  const whole = url.trim();
  if (Buffer.byteLength(whole, 'utf8') <= MAX_NAME_BYTES) return whole;
  return eventName(whole.replace(/[?#].*$/s, ''));
}
