// Turn an "Order Completed" event into one "Product Purchased" event per product as well, since
// many tools report revenue per product. The order event itself is kept. Each new event gets its
// own messageId, derived from the order's, so a retried order does not count twice.
export function transformEvent(event) {
  if (event.type !== 'track' || event.event !== 'Order Completed') return event;
  const { products = [], order_id, currency } = event.properties ?? {};
  const perProduct = products.map((product, index) => ({
    ...event,
    messageId: `${event.messageId}-product-${index}`,
    event: 'Product Purchased',
    properties: { order_id, currency, ...product },
  }));
  return [event, ...perProduct];
}
