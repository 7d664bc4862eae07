/**
 * The router: one DestinationWorker per enabled tool destination, each draining its own queue so
 * that a slow or dead destination holds back only itself. Workers are replaced when the
 * workspace changes a destination and stopped when it is removed or disabled.
 */
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Destination } from '../../destinations/destination';
import type { LiveFeed } from '../admin/live-feed';
import type { DestinationConfig, Workspace } from '../config/workspace';
import type { Metrics } from '../metrics';
import type { DestinationRegistry } from '../processor/routing';
import { DeliveryLocks } from './delivery-locks';
import { DEFAULT_WORKER_OPTIONS, DestinationWorker } from './destination-worker';

export interface RouterDeps {
  pool: pg.Pool;
  logger: Logger;
  metrics: Metrics;
  destinations: DestinationRegistry;
  live?: LiveFeed;
}

export class Router {
  #workers = new Map<string, { worker: DestinationWorker; fingerprint: string }>();
  #started = false;
  /** The users in flight, for every destination of this process (one connection). */
  readonly #locks: DeliveryLocks;

  constructor(private readonly deps: RouterDeps) {
    this.#locks = new DeliveryLocks(deps.pool);
  }

  /** Starts workers for `workspace`'s destinations (and reconciles on later calls). */
  async apply(workspace: Workspace): Promise<void> {
    const wanted = new Map<string, { destination: DestinationConfig; module: Destination }>();
    for (const destination of workspace.destinations) {
      const module = this.deps.destinations(destination.type);
      if (destination.enabled && module?.kind === 'tool') {
        wanted.set(destination.id, { destination, module });
      }
    }
    const stopping: Array<Promise<void>> = [];
    for (const [id, entry] of this.#workers) {
      const destination = wanted.get(id)?.destination;
      if (!destination || fingerprint(destination) !== entry.fingerprint) {
        this.#workers.delete(id);
        stopping.push(entry.worker.stop());
      }
    }
    // Each lets its rounds in flight finish; they wait for their own destinations, not each other.
    await Promise.all(stopping);
    for (const [id, { destination, module }] of wanted) {
      if (this.#workers.has(id)) continue;
      const worker = new DestinationWorker(
        { ...this.deps, locks: this.#locks },
        id,
        module,
        { config: destination.config, destination: { id, name: destination.name } },
        destination.delivery,
        DEFAULT_WORKER_OPTIONS,
      );
      this.#workers.set(id, { worker, fingerprint: fingerprint(destination) });
      if (this.#started) worker.start();
    }
  }

  start(): void {
    this.#started = true;
    for (const { worker } of this.#workers.values()) worker.start();
  }

  /** Lets every worker finish its round (requests in flight are answered), then stops. */
  async stop(): Promise<void> {
    this.#started = false;
    await Promise.all([...this.#workers.values()].map(({ worker }) => worker.stop()));
    await this.#locks.close();
  }
}

function fingerprint(destination: DestinationConfig): string {
  return JSON.stringify(destination);
}
