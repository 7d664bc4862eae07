// Drop traffic from crawlers, uptime monitors and headless browsers, recognised by the user agent
// that browser SDKs send in context.userAgent. Events without one (server-side SDKs) pass.
const BOTS =
  /bot\b|crawl|spider|slurp|headlesschrome|phantomjs|lighthouse|pingdom|uptimerobot|python-requests|curl\//i;

export function transformEvent(event) {
  const userAgent = event.context?.userAgent;
  if (typeof userAgent === 'string' && BOTS.test(userAgent)) return null;
  return event;
}
