/**
 * What happens now, for whoever watches: events a source's requests brought in (accepted, or
 * rejected with the error code) and what a destination's deliveries came to. The gateway and the
 * router publish here only while someone watches that source or destination, so the feed costs
 * nothing when no one does; each watcher's own buffer is bounded (a slow one misses items and is
 * told how many, it never holds memory without limit).
 *
 * A feed is per process: it shows what the process serving the watcher saw.
 */

/** An event a source sent, as accepted. */
export interface AcceptedItem {
  kind: 'accepted';
  sourceId: string;
  at: string;
  messageId: string;
  type: string;
  event?: string;
  userId?: string;
  anonymousId?: string;
  /** The event as stored (JSON text). */
  payload: string;
}

/** An event or a request of a source's the gateway refused. */
export interface RejectedItem {
  kind: 'rejected';
  sourceId: string;
  at: string;
  code: string;
  message: string;
  /** Its position in the batch, when the request was a batch and the rest was kept. */
  index?: number;
  messageId?: string;
}

/** One delivery attempt's outcome. */
export interface DeliveryItem {
  kind: 'delivery';
  destinationId: string;
  at: string;
  messageId: string;
  outcome: 'ok' | 'retry' | 'abort';
  status?: number;
  reason?: string;
}

export type LiveItem = AcceptedItem | RejectedItem | DeliveryItem;

export interface LiveFilter {
  sourceId?: string;
  destinationId?: string;
}

interface Watcher {
  filter: LiveFilter;
  /** Hands the item on; false when the watcher cannot take it now (it is then dropped). */
  send: (item: LiveItem) => boolean;
  /** Ends the watcher's stream (the process is stopping). */
  end: () => void;
}

export class LiveFeed {
  readonly #watchers = new Set<Watcher>();
  /** Watchers per source and per destination; undefined key: all of them. */
  readonly #sources = new Map<string | undefined, number>();
  readonly #destinations = new Map<string | undefined, number>();

  /** Whether anyone watches this source (checked before building any item). */
  watchesSource(sourceId: string): boolean {
    return this.#sources.has(sourceId) || this.#sources.has(undefined);
  }

  watchesDestination(destinationId: string): boolean {
    return this.#destinations.has(destinationId) || this.#destinations.has(undefined);
  }

  publish(item: LiveItem): void {
    for (const watcher of this.#watchers) {
      if (matches(watcher.filter, item)) watcher.send(item);
    }
  }

  /** Ends every watcher's stream, so that a stopping server is not held open by them. */
  close(): void {
    for (const watcher of [...this.#watchers]) watcher.end();
  }

  /** Starts watching; returns the function that stops. */
  watch(filter: LiveFilter, send: Watcher['send'], end: Watcher['end']): () => void {
    const watcher = { filter, send, end };
    this.#watchers.add(watcher);
    // A filter on destinations only watches deliveries; one on sources only events.
    if (filter.destinationId === undefined) count(this.#sources, filter.sourceId, +1);
    if (filter.sourceId === undefined) count(this.#destinations, filter.destinationId, +1);
    return () => {
      if (!this.#watchers.delete(watcher)) return;
      if (filter.destinationId === undefined) count(this.#sources, filter.sourceId, -1);
      if (filter.sourceId === undefined) count(this.#destinations, filter.destinationId, -1);
    };
  }
}

function count(counts: Map<string | undefined, number>, key: string | undefined, delta: number) {
  const next = (counts.get(key) ?? 0) + delta;
  if (next > 0) counts.set(key, next);
  else counts.delete(key);
}

function matches(filter: LiveFilter, item: LiveItem): boolean {
  if (item.kind === 'delivery') {
    return (
      filter.sourceId === undefined &&
      (filter.destinationId ?? item.destinationId) === item.destinationId
    );
  }
  return filter.destinationId === undefined && (filter.sourceId ?? item.sourceId) === item.sourceId;
}

/**
 * Writes items to a server-sent-events stream, bounded: while more than `maxBuffered` bytes wait
 * unread, items are dropped, and the reader is told how many once it has caught up.
 */
export function eventStreamWriter(
  stream: Pick<NodeJS.WritableStream, 'write'> & { readonly writableLength: number },
  maxBuffered: number,
): (item: LiveItem) => boolean {
  let dropped = 0;
  return (item) => {
    if (stream.writableLength > maxBuffered) {
      dropped += 1;
      return false;
    }
    if (dropped > 0) {
      stream.write(`event: dropped\ndata: {"count":${dropped}}\n\n`);
      dropped = 0;
    }
    stream.write(`event: ${item.kind}\ndata: ${JSON.stringify(item)}\n\n`);
    return true;
  };
}
