// A trivial transformation for bench/deliver --transformation: tag each event.
export function transformEvent(event) {
  event.properties = { ...event.properties, pipeline: 'sluice' };
  return event;
}
