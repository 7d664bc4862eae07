/**
 * The gateway's side of the ingest queue: rows handed in by concurrent requests are written
 * together (group commit) and each request learns when its rows are durable.
 */
import type pg from 'pg';
import { GroupCommit, type GroupCommitOptions } from './group-commit';
import { insertIngestJobs, withoutRepeatedMessageIds, type IngestRow } from './insert-ingest-jobs';

export interface IngestQueueOptions extends GroupCommitOptions {
  onWrite?: (rows: number, stored: number, ms: number) => void;
}

export class IngestQueue {
  readonly #groupCommit: GroupCommit<IngestRow>;

  constructor(pool: pg.Pool, options: IngestQueueOptions) {
    this.#groupCommit = new GroupCommit<IngestRow>(async (rows) => {
      const started = performance.now();
      const unique = withoutRepeatedMessageIds(rows);
      await insertIngestJobs(pool, unique);
      options.onWrite?.(rows.length, unique.length, performance.now() - started);
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
