// Rename track events to the names the analytics team agreed on. Names that are not in the table
// pass unchanged; the old name is kept in properties so nothing is lost.
const RENAMES = {
  'Product Viewed': 'product_viewed',
  'Product Added': 'add_to_cart',
  'Order Completed': 'purchase',
  'Signed Up': 'sign_up',
};

export function transformEvent(event) {
  // Object.hasOwn, not RENAMES[name]: an event named "constructor" must not match.
  if (event.type === 'track' && Object.hasOwn(RENAMES, event.event)) {
    event.properties = { ...event.properties, original_event_name: event.event };
    event.event = RENAMES[event.event];
  }
  return event;
}
