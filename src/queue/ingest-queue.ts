/**
 * The gateway's side of the ingest queue: rows handed in by concurrent requests are written
 * together (group commit) and each request learns when its rows are durable.
 */
import type pg from 'pg';
import { GroupCommit, type GroupCommitOptions } from './group-commit';
import { insertIngestJobs, withoutRepeatedMessageIds, type IngestRow } from './insert-ingest-jobs';

export interface IngestQueueOptions extends GroupCommitOptions {
  /** Deduplicate messageIds per source (off when the dedup window is 0). */
  dedup: boolean;
  onWrite?: (rows: number, stored: number, ms: number) => void;
}

export class IngestQueue {
  readonly #groupCommit: GroupCommit<IngestRow>;

  constructor(pool: pg.Pool, options: IngestQueueOptions) {
    this.#groupCommit = new GroupCommit<IngestRow>(async (rows) => {
      const started = performance.now();
      const unique = withoutRepeatedMessageIds(rows);
      const stored = await insertIngestJobs(pool, unique, { dedup: options.dedup });
      options.onWrite?.(rows.length, stored, performance.now() - started);
    }, options);
  }

  /** Resolves once the rows are committed. */
  enqueue(rows: IngestRow[]): Promise<void> {
    return this.#groupCommit.add(rows);
  }

  /** Writes whatever is waiting; used at shutdown. */
  drain(): Promise<void> {
    return this.#groupCommit.drain();
  }
}
