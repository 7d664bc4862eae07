/**
 * Segment spec event names as their senders write them: `Order Completed`, `order completed` and
 * `order_completed` name the same spec event. Destinations that map spec events to a vendor's own
 * (Klaviyo's `Placed Order`, Iterable's purchases) look names up by this key.
 */

/** `Order Completed`, `order_completed`, ` order  completed ` → `order completed`. */
export function specEventKey(name: string): string {
  return name
    .trim()
    .toLowerCase()
    .replace(/[\s_]+/g, ' ');
}
