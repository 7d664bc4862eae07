/**
 * Group commit: concurrent callers hand in rows, and rows that arrive close together are written
 * by one statement in one transaction. Each caller's promise settles only after the write that
 * holds its rows committed (or failed), so a request is answered 200 only once its events are
 * durable. A caller's rows are never split across two writes.
 */
export interface GroupCommitOptions {
  /** How long the first rows of a group wait for company before being written. */
  maxDelayMs: number;
  /** A group is written as soon as it holds this many rows. */
  maxRows: number;
  /** Writes in flight at once; further groups wait and grow meanwhile. */
  maxConcurrent: number;
}

interface Waiting<T> {
  rows: T[];
  resolve: () => void;
  reject: (error: unknown) => void;
}

export class GroupCommit<T> {
  #waiting: Waiting<T>[] = [];
  #waitingRows = 0;
  #timer: NodeJS.Timeout | undefined;
  #inFlight = new Set<Promise<void>>();

  constructor(
    private readonly write: (rows: T[]) => Promise<void>,
    private readonly options: GroupCommitOptions,
  ) {}

  /** Resolves once `rows` are committed; rejects with the write's error. */
  add(rows: T[]): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.#waiting.push({ rows, resolve, reject });
      this.#waitingRows += rows.length;
      if (this.#waitingRows >= this.options.maxRows) this.#flush();
      else this.#timer ??= setTimeout(() => this.#flush(), this.options.maxDelayMs);
    });
  }

  /** Writes everything waiting and resolves when no write is in flight. */
  async drain(): Promise<void> {
    while (this.#waiting.length > 0 || this.#inFlight.size > 0) {
      this.#flush();
      await Promise.allSettled([...this.#inFlight]);
    }
  }

  get pendingRows(): number {
    return this.#waitingRows;
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    while (this.#waiting.length > 0 && this.#inFlight.size < this.options.maxConcurrent) {
      const group = this.#takeGroup();
      const write = this.#writeGroup(group);
      this.#inFlight.add(write);
      void write.finally(() => {
        this.#inFlight.delete(write);
        // Rows that queued up behind a full set of writers go out as soon as one finishes.
        if (this.#waiting.length > 0) this.#flush();
      });
    }
  }

  #takeGroup(): Waiting<T>[] {
    const group: Waiting<T>[] = [];
    let rows = 0;
    while (this.#waiting.length > 0) {
      const next = this.#waiting[0];
      if (group.length > 0 && rows + next.rows.length > this.options.maxRows) break;
      group.push(this.#waiting.shift()!);
      rows += next.rows.length;
    }
    this.#waitingRows -= rows;
    return group;
  }

  async #writeGroup(group: Waiting<T>[]): Promise<void> {
    const rows = group.length === 1 ? group[0].rows : group.flatMap((waiting) => waiting.rows);
    try {
      await this.write(rows);
    } catch (error) {
      for (const waiting of group) waiting.reject(error);
      return;
    }
    for (const waiting of group) waiting.resolve();
  }
}
