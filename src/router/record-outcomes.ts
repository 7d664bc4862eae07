/**
 * Records a round's outcomes so that neither a lost database nor one bad row loses or blocks the
 * others. The round's requests have gone out by now, so:
 * - a transient database error (see db/transient-errors.ts) is retried where it happened: giving
 *   up would leave the rows to be claimed and sent again;
 * - any other error is about the data (a value PostgreSQL refuses), and recording the same data
 *   again can never succeed: the completion is split in halves until the row that cannot be
 *   recorded is alone, the others are recorded, and that row goes to the dead letters with the
 *   error as its reason instead of its outcome, so the rows behind it move on.
 */
import type pg from 'pg';
import {
  DEFAULT_TRANSIENT_RETRY,
  isTransientDatabaseError,
  withTransientRetries,
  type TransientRetryOptions,
} from '../db/transient-errors';
import { completeDeliveries, type Completion, type RowRef } from './complete-deliveries';

/** A row whose outcome could not be recorded, and why; it was dead-lettered instead. */
export interface UnrecordedRow {
  id: number;
  outcome: keyof Completion;
  error: unknown;
}

type Entry = { [K in keyof Completion]: { list: K; row: Completion[K][number] } }[keyof Completion];

/**
 * Records `completion`; returns the rows that had to be dead-lettered because their outcome could
 * not be recorded. Throws only when the database stays unreachable past the transient retries,
 * or a lone row cannot even be dead-lettered.
 */
export async function recordOutcomes(
  pool: pg.Pool,
  destinationId: string,
  completion: Completion,
  retry: TransientRetryOptions = DEFAULT_TRANSIENT_RETRY,
): Promise<UnrecordedRow[]> {
  const record = (part: Completion) =>
    withTransientRetries(() => completeDeliveries(pool, destinationId, part), retry);
  const unrecorded: UnrecordedRow[] = [];
  const recordSplitting = async (entries: Entry[]): Promise<void> => {
    try {
      await record(completionOf(entries));
      return;
    } catch (error) {
      if (isTransientDatabaseError(error)) throw error;
      if (entries.length === 1) {
        const [{ list, row }] = entries;
        await record(deadLetterOf(row, list, error));
        unrecorded.push({ id: row.id, outcome: list, error });
        return;
      }
    }
    const half = Math.ceil(entries.length / 2);
    await recordSplitting(entries.slice(0, half));
    await recordSplitting(entries.slice(half));
  };
  const entries = entriesOf(completion);
  if (entries.length > 0) await recordSplitting(entries);
  return unrecorded;
}

function entriesOf(completion: Completion): Entry[] {
  return [
    ...completion.delivered.map((row) => ({ list: 'delivered' as const, row })),
    ...completion.retried.map((row) => ({ list: 'retried' as const, row })),
    ...completion.released.map((row) => ({ list: 'released' as const, row })),
    ...completion.aborted.map((row) => ({ list: 'aborted' as const, row })),
  ];
}

function completionOf(entries: Entry[]): Completion {
  const completion: Completion = { delivered: [], retried: [], released: [], aborted: [] };
  for (const entry of entries) (completion[entry.list] as Array<typeof entry.row>).push(entry.row);
  return completion;
}

/** The row dead-lettered with the recording error as its reason, nothing else of its outcome. */
function deadLetterOf(row: RowRef, outcome: keyof Completion, error: unknown): Completion {
  const message = (error as Error)?.message ?? String(error);
  return {
    delivered: [],
    retried: [],
    released: [],
    aborted: [{ id: row.id, reason: `its outcome (${outcome}) could not be recorded: ${message}` }],
  };
}
