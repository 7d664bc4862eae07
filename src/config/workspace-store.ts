/**
 * Holds the current workspace and reloads it when the file changes, so that new write keys,
 * destinations and transformation code take effect without a restart. A file that fails to
 * validate is reported and ignored: the last good workspace stays in force.
 */
import { unwatchFile, watchFile, type Stats } from 'node:fs';
import type { Logger } from 'pino';
import { loadWorkspace, type LoadWorkspaceOptions, type Workspace } from './workspace';

export class WorkspaceStore {
  #current: Workspace;
  #listeners: Array<(workspace: Workspace) => void> = [];
  #watching = false;
  #refused: { at: string; message: string } | undefined;

  constructor(
    readonly file: string,
    private readonly options: LoadWorkspaceOptions,
    private readonly logger: Logger,
  ) {
    this.#current = loadWorkspace(file, options);
  }

  get current(): Workspace {
    return this.#current;
  }

  /** Why the last edit of the file was refused, until an edit loads again. */
  get refusedEdit(): { at: string; message: string } | undefined {
    return this.#refused;
  }

  /** Re-reads the file; returns false (and keeps the old workspace) when it is invalid. */
  reload(): boolean {
    try {
      this.#current = loadWorkspace(this.file, this.options);
    } catch (error) {
      this.logger.error({ err: error }, 'workspace reload failed; keeping the previous workspace');
      this.#refused = { at: new Date().toISOString(), message: (error as Error).message };
      return false;
    }
    this.#refused = undefined;
    this.logger.info({ file: this.file }, 'workspace reloaded');
    for (const listener of this.#listeners) listener(this.#current);
    return true;
  }

  onChange(listener: (workspace: Workspace) => void): void {
    this.#listeners.push(listener);
  }

  /** Polls the file (works with Kubernetes ConfigMap symlink swaps, unlike fs.watch). */
  watch(intervalMs = 1000): void {
    if (this.#watching) return;
    this.#watching = true;
    watchFile(this.file, { interval: intervalMs }, this.#onFileChange);
  }

  close(): void {
    if (this.#watching) unwatchFile(this.file, this.#onFileChange);
    this.#watching = false;
  }

  #onFileChange = (current: Stats, previous: Stats): void => {
    if (current.mtimeMs !== previous.mtimeMs || current.size !== previous.size) this.reload();
  };
}
