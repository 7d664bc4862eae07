/**
 * Events in and out per minute over the last hour, per source (accepted, rejected) and per
 * destination (delivered, retried, aborted), for the console's overview charts. Read from the
 * process's own Prometheus counters every few seconds, so it shows what this process did; with
 * several processes, /metrics (scraped from each) is the whole picture.
 */
import type { Counter } from 'prom-client';
import type { Metrics } from '../metrics';

const SAMPLE_MS = 10_000;
const MINUTES = 60;

export interface ActivityMinute {
  /** The minute's start, ISO-8601. */
  at: string;
  sources: Record<string, { accepted: number; rejected: number }>;
  destinations: Record<string, { ok: number; retry: number; abort: number }>;
}

export class Activity {
  #minutes: ActivityMinute[] = [];
  /** The counters' values at the last sample, per series. */
  #seen = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly metrics: Pick<Metrics, 'eventsAccepted' | 'eventsRejected' | 'deliveries'>,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    this.#timer = setInterval(() => void this.sample(), SAMPLE_MS);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Adds what the counters counted since the last sample to the current minute. */
  async sample(): Promise<void> {
    const minute = this.#minute();
    for (const { labels, delta } of await this.#deltas(this.metrics.eventsAccepted, 'accepted')) {
      this.#source(minute, String(labels.source)).accepted += delta;
    }
    for (const { labels, delta } of await this.#deltas(this.metrics.eventsRejected, 'rejected')) {
      this.#source(minute, String(labels.source)).rejected += delta;
    }
    for (const { labels, delta } of await this.#deltas(this.metrics.deliveries, 'deliveries')) {
      const outcome = String(labels.outcome) as 'ok' | 'retry' | 'abort';
      const destination = (minute.destinations[String(labels.destination)] ??= {
        ok: 0,
        retry: 0,
        abort: 0,
      });
      if (outcome in destination) destination[outcome] += delta;
    }
  }

  /** The minutes of the last hour that saw anything, oldest first. */
  lastHour(): { minutes: ActivityMinute[] } {
    const since = this.now() - MINUTES * 60_000;
    return { minutes: this.#minutes.filter((minute) => Date.parse(minute.at) >= since) };
  }

  #minute(): ActivityMinute {
    const start = Math.floor(this.now() / 60_000) * 60_000;
    const at = new Date(start).toISOString();
    let minute = this.#minutes[this.#minutes.length - 1];
    if (minute?.at !== at) {
      minute = { at, sources: {}, destinations: {} };
      this.#minutes.push(minute);
      if (this.#minutes.length > MINUTES) this.#minutes.shift();
    }
    return minute;
  }

  #source(minute: ActivityMinute, id: string) {
    return (minute.sources[id] ??= { accepted: 0, rejected: 0 });
  }

  async #deltas(counter: Counter<string>, name: string) {
    const { values } = await counter.get();
    return values.map(({ labels, value }) => {
      const key = `${name}${JSON.stringify(labels)}`;
      const delta = value - (this.#seen.get(key) ?? 0);
      this.#seen.set(key, value);
      return { labels, delta };
    });
  }
}
