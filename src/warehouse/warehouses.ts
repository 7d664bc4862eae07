/**
 * The warehouse role: one WarehouseLoader per enabled warehouse destination of the workspace,
 * replaced when the workspace changes the destination and stopped (after a last load) when it is
 * removed or disabled. Any number of processes may run the role: a destination's loads take
 * turns across them (see warehouse-loader.ts).
 */
import type { WarehouseDestination } from '../../destinations/destination';
import type { DestinationConfig, Workspace } from '../config/workspace';
import type { DestinationRegistry } from '../processor/routing';
import {
  DEFAULT_LOADER_OPTIONS,
  WarehouseLoader,
  type LoaderDeps,
  type LoaderOptions,
  type SyncReport,
} from './warehouse-loader';

export class Warehouses {
  #loaders = new Map<string, { loader: WarehouseLoader; fingerprint: string }>();
  #started = false;

  constructor(
    private readonly deps: Omit<LoaderDeps, 'sources'> & {
      destinations: DestinationRegistry;
      workspace: () => Workspace;
    },
    private readonly options: LoaderOptions = DEFAULT_LOADER_OPTIONS,
  ) {}

  /** Starts loaders for `workspace`'s warehouses (and reconciles on later calls). */
  async apply(workspace: Workspace): Promise<void> {
    const wanted = new Map<
      string,
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      { destination: DestinationConfig; module: WarehouseDestination<any> }
    >();
    for (const destination of workspace.destinations) {
      const module = this.deps.destinations(destination.type);
      if (destination.enabled && module?.kind === 'warehouse') {
        wanted.set(destination.id, { destination, module });
      }
    }
    const stopping: Array<Promise<void>> = [];
    for (const [id, entry] of this.#loaders) {
      const destination = wanted.get(id)?.destination;
      if (!destination || JSON.stringify(destination) !== entry.fingerprint) {
        this.#loaders.delete(id);
        stopping.push(entry.loader.stop());
      }
    }
    await Promise.all(stopping);
    for (const [id, { destination, module }] of wanted) {
      if (this.#loaders.has(id)) continue;
      const loader = new WarehouseLoader(
        { ...this.deps, sources: () => this.deps.workspace().sources },
        id,
        module,
        destination.config,
        this.options,
      );
      this.#loaders.set(id, { loader, fingerprint: JSON.stringify(destination) });
      if (this.#started) loader.start();
    }
  }

  start(): void {
    this.#started = true;
    for (const { loader } of this.#loaders.values()) loader.start();
  }

  /** Loads now what is staged for `destinationId` (every warehouse when not given). */
  async sync(destinationId?: string): Promise<SyncReport[]> {
    const loaders = [...this.#loaders.values()]
      .map((entry) => entry.loader)
      .filter((loader) => destinationId === undefined || loader.destinationId === destinationId);
    return Promise.all(loaders.map((loader) => loader.sync()));
  }

  /** Closes every loader's warehouse client without a last load (for one-off syncs). */
  async close(): Promise<void> {
    await Promise.all([...this.#loaders.values()].map(({ loader }) => loader.close()));
    this.#loaders.clear();
  }

  /** Loads what is staged once more, then stops every loader. */
  async stop(): Promise<void> {
    this.#started = false;
    await Promise.all([...this.#loaders.values()].map(({ loader }) => loader.stop()));
    this.#loaders.clear();
  }
}
