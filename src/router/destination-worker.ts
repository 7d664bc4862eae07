/**
 * Delivers one destination's queue: claims due rows (in order per user, see claim-deliveries.ts),
 * maps each event to requests with the destination module, merges batchable requests of different
 * users into combined requests within the vendor's limits, sends them under the destination's
 * concurrency limit and throttle, and records every outcome in bulk.
 *
 * A user's claimed events are sent as a sequence of steps — a run of consecutive events with the
 * same batch key (one combined request), or one event with its own requests in order — and a step
 * is sent only after the previous one of the same user succeeded or was aborted. A step with an
 * event told to retry stops its user: that user's remaining events wait for the retry time. Where
 * the vendor answers per item, each event of a combined request has its own outcome: a refused
 * event is retried or dead-lettered alone, and the users whose events were taken move on. An event
 * sent on its own requests may have more derived from the answers (Destination.followUp: ids the
 * vendor assigned), sent next, in order, before its remaining ones.
 */
import type pg from 'pg';
import type { Logger } from 'pino';
import type { DeliverySettings } from '../config/workspace';
import {
  MAX_FOLLOW_UPS,
  type Answer,
  type BatchSlot,
  type Destination,
  type DestinationRequest,
  type SentRequest,
  type TransformContext,
} from '../../destinations/destination';
import type { LiveFeed } from '../admin/live-feed';
import type { SegmentEvent } from '../event';
import type { Metrics } from '../metrics';
import { OneAtATime } from '../one-at-a-time';
import { PollLoop } from '../poll-loop';
import { backoffMs, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff';
import { DeliveryRound, type ClaimedDelivery } from './claim-deliveries';
import type { DeliveryLocks } from './delivery-locks';
import type { Completion } from './complete-deliveries';
import { outcomeOfItem, type DeliveryOutcome } from './delivery-outcome';
import { CredentialMask } from './mask-credentials';
import { sendRequest, type SendResult } from './send-request';
import { Throttle } from './throttle';

export type DeliveryPolicy = DeliverySettings;

export interface WorkerOptions {
  claimLimit: number;
  /**
   * Rounds (claim, send, record) in flight at once: while one waits for the database, another
   * sends. Safe for order: their claims take turns (see runOnce) and never share a user (see
   * delivery-locks.ts).
   */
  parallelRounds: number;
  idleMs: number;
  backoff: BackoffPolicy;
  quickRetries: number;
  quickRetryMinMs: number;
}

export const DEFAULT_WORKER_OPTIONS: WorkerOptions = {
  claimLimit: 500,
  parallelRounds: 3,
  idleMs: 100,
  backoff: DEFAULT_BACKOFF,
  quickRetries: 2,
  quickRetryMinMs: 200,
};

interface Job {
  row: ClaimedDelivery;
  event: SegmentEvent;
  requests: DestinationRequest[];
}

/**
 * Consecutive jobs of one user sent together: one combined request (within the vendor's item
 * and byte limits), or one job's own requests.
 */
interface Step {
  jobs: Job[];
  batchKey?: string;
  bytes: number;
}

/** The requests sent for some steps, in order; the steps' jobs are the items of a batch. */
interface Send {
  steps: Step[];
  requests: SentRequest[];
}

/**
 * What is stored about a send's rows: text masked with the credentials of its request, and the
 * request and response kept with its dead letters, built once for all of them.
 */
interface Evidence {
  mask: CredentialMask;
  deadLetter(): { request: string; response?: string };
}

export class DestinationWorker {
  readonly #throttle: Throttle;
  readonly #loop: PollLoop;
  /** Requests in flight across rounds, and rounds waiting for one to finish. */
  #inFlight = 0;
  #waitingForSlot: Array<() => void> = [];
  #recentRequests: number[] = [];
  #claims = new OneAtATime();
  /** The destination's credentials, masked in everything stored about its deliveries. */
  readonly #mask: CredentialMask;

  constructor(
    private readonly deps: {
      pool: pg.Pool;
      /** The process's keys in flight, shared by every destination's worker. */
      locks: DeliveryLocks;
      logger: Logger;
      metrics: Metrics;
      fetch?: typeof fetch;
      /** Where outcomes go while someone watches the destination (the console's live view). */
      live?: LiveFeed;
    },
    readonly destinationId: string,
    private readonly module: Destination<unknown>,
    private readonly context: TransformContext<unknown>,
    private readonly policy: DeliveryPolicy,
    private readonly options: WorkerOptions,
  ) {
    this.#throttle = new Throttle(policy.requestsPerSecond);
    this.#loop = new PollLoop(() => this.runOnce(), {
      idleMs: options.idleMs,
      parallel: options.parallelRounds,
      onError: (error) =>
        deps.logger.error(
          { err: error, destination: destinationId },
          'delivery round failed; retrying',
        ),
    });
    this.#mask = new CredentialMask(module.credentialsOf?.(context.config) ?? []);
  }

  start(): void {
    this.#loop.start();
  }

  /** Lets the rounds in flight finish (their requests answered and recorded), then stops. */
  stop(): Promise<void> {
    return this.#loop.stop();
  }

  /** Claims and delivers one batch; returns the rows claimed. */
  async runOnce(): Promise<number> {
    const started = performance.now();
    // One claim at a time per worker: a claim walks past the users that rounds in flight have
    // locked, and two walking at once would find the same users and one of them would lose.
    const round = await this.#claims.run(() =>
      DeliveryRound.claim(this.deps.pool, this.deps.locks, this.destinationId, {
        limit: this.options.claimLimit,
        perKey: this.module.batching ? Math.min(this.module.batching.maxItems, 100) : 20,
      }),
    );
    if (!round) return 0;
    const groups = round.groups;
    const claimedAt = performance.now();
    const completion: Completion = { delivered: [], retried: [], released: [], aborted: [] };
    try {
      await this.#deliver(groups, completion);
    } catch (error) {
      await round.abandon();
      throw error;
    }
    const sentAt = performance.now();
    const unrecorded = await round.complete(completion);
    for (const row of unrecorded) {
      this.deps.logger.error(
        { err: row.error, destination: this.destinationId, row: row.id, outcome: row.outcome },
        'a delivery outcome could not be recorded; the row was dead-lettered',
      );
    }
    const count = groups.reduce((sum, rows) => sum + rows.length, 0);
    this.deps.logger.debug(
      {
        destination: this.destinationId,
        claimed: count,
        claimMs: Math.round(claimedAt - started),
        sendMs: Math.round(sentAt - claimedAt),
        completeMs: Math.round(performance.now() - sentAt),
      },
      'delivery round',
    );
    return count;
  }

  /** Sends the round's events, step by step per user, recording each outcome. */
  async #deliver(groups: ClaimedDelivery[][], completion: Completion): Promise<void> {
    const users = groups.map((rows) => this.#steps(rows, completion));
    // Each retried row's next attempt, by id, filled by #record: a lookup, not a scan of `retried`.
    const retryAt = new Map<number, Date>();
    while (users.some((steps) => steps.length > 0)) {
      const current = users.filter((steps) => steps.length > 0).map((steps) => steps[0]);
      const sends = this.#requestsFor(current);
      await this.#sendAll(sends, completion, retryAt);
      // Each user moves on unless an event of its step was told to retry (then the user is done
      // for now, and its later events wait until the last of those retries).
      for (const steps of users) {
        const step = steps.shift();
        if (!step) continue;
        const retries = step.jobs.flatMap((job) => retryAt.get(job.row.id) ?? []);
        if (retries.length > 0) {
          const nextAttemptAt = new Date(Math.max(...retries.map((at) => at.getTime())));
          for (const later of steps.flatMap((s) => s.jobs)) {
            completion.released.push({ ...later.row, nextAttemptAt });
          }
          steps.length = 0;
        }
      }
    }
  }

  /** Maps a user's rows to events and requests and cuts them into steps. */
  #steps(rows: ClaimedDelivery[], completion: Completion): Step[] {
    const steps: Step[] = [];
    for (const row of rows) {
      let event: SegmentEvent;
      let requests: DestinationRequest[];
      try {
        event = JSON.parse(row.payload) as SegmentEvent;
        requests = this.module.transform(event, this.context);
      } catch (error) {
        // Retrying cannot fix a mapping failure (a required field missing).
        const reason = `mapping failed: ${(error as Error).message}`;
        completion.aborted.push({ ...row, reason: this.#mask.mask(reason) });
        this.deps.metrics.deliveries.inc({ destination: this.destinationId, outcome: 'abort' });
        continue;
      }
      if (requests.length === 0) {
        completion.delivered.push(row); // nothing to send for this event
        continue;
      }
      const slot = requests.length === 1 && this.module.batching ? requests[0].batch : undefined;
      const batchKey = slot?.key;
      const itemBytes = slot ? Buffer.byteLength(JSON.stringify(slot.item)) : 0;
      const job = { row, event, requests };
      const last = steps[steps.length - 1];
      const limits = slot && this.#limitsOf(slot);
      const fits =
        limits !== undefined &&
        last?.batchKey === batchKey &&
        last.jobs.length < limits.maxItems &&
        last.bytes + itemBytes <= limits.maxBytes;
      if (fits) {
        last.jobs.push(job);
        last.bytes += itemBytes;
      } else steps.push({ jobs: [job], batchKey, bytes: itemBytes });
    }
    return steps;
  }

  /** The requests of this round: combined per batch key within limits, or a step's own. */
  #requestsFor(steps: Step[]): Send[] {
    const sends: Send[] = [];
    const batching = this.module.batching;
    const byKey = new Map<string, Step[]>();
    for (const step of steps) {
      if (step.batchKey === undefined || !batching)
        sends.push({ steps: [step], requests: step.jobs[0].requests.map(sentAlone) });
      else {
        let group = byKey.get(step.batchKey);
        if (!group) byKey.set(step.batchKey, (group = []));
        group.push(step);
      }
    }
    for (const group of byKey.values()) {
      const limits = this.#limitsOf(group[0].jobs[0].requests[0].batch!);
      let chunk: Step[] = [];
      let items = 0;
      let bytes = 0;
      const flush = () => {
        if (chunk.length === 0) return;
        const first = chunk[0].jobs[0].requests[0];
        // A lone request goes as it is: combining one item rebuilds the same request.
        if (items === 1) sends.push({ steps: chunk, requests: [sentAlone(first)] });
        else {
          const allItems = chunk.flatMap((step) =>
            step.jobs.map((job) => job.requests[0].batch!.item),
          );
          const request = batching!.combine(allItems, first, this.context);
          sends.push({ steps: chunk, requests: [{ request, items: allItems }] });
        }
        chunk = [];
        items = 0;
        bytes = 0;
      };
      for (const step of group) {
        if (items + step.jobs.length > limits.maxItems || bytes + step.bytes > limits.maxBytes)
          flush();
        chunk.push(step);
        items += step.jobs.length;
        bytes += step.bytes;
      }
      flush();
    }
    return sends;
  }

  /**
   * Sends every request of the round (within the destination's slots) and records outcomes: a
   * step's own requests in order until one fails; a batch's outcome per item where the vendor
   * answered per item (item i is the i-th job of the send's steps).
   */
  async #sendAll(sends: Send[], completion: Completion, retryAt: Map<number, Date>): Promise<void> {
    let next = 0;
    const lane = async () => {
      while (next < sends.length) {
        const send = sends[next++];
        let result: SendResult | undefined;
        let last: SentRequest | undefined;
        const jobs = send.steps.flatMap((step) => step.jobs);
        const queue = [...send.requests];
        const answers: Answer[] = [];
        let followUps = 0;
        for (let sent = queue.shift(); sent; sent = queue.shift()) {
          last = sent;
          result = await this.#send(sent);
          if (result.outcome.kind !== 'ok') break;
          if (jobs.length !== 1 || !this.module.followUp || !result.response) continue;
          answers.push({ request: sent.request, response: result.response });
          const next = this.#followUps(jobs[0].event, answers);
          followUps += 'abort' in next ? 0 : next.length;
          if ('abort' in next || followUps > MAX_FOLLOW_UPS) {
            const reason =
              'abort' in next
                ? next.abort
                : `the destination asked for more than ${MAX_FOLLOW_UPS} follow-up requests`;
            result = { ...result, outcome: { kind: 'abort', reason } };
            break;
          }
          queue.unshift(...next.map(sentAlone));
        }
        const evidence = this.#evidenceOf(result!, last!);
        jobs.forEach((job, index) => {
          const outcome = outcomeOfItem(result!.outcome, index);
          this.#record(job.row, outcome, evidence, completion, retryAt, result!.response?.status);
        });
      }
    };
    await Promise.all(
      Array.from({ length: Math.min(this.policy.maxConcurrency, sends.length) }, lane),
    );
  }

  /**
   * The requests the destination derives from an event's answers so far (see
   * Destination.followUp), or why the event must be aborted: the derivation failed.
   */
  #followUps(event: SegmentEvent, answers: Answer[]): DestinationRequest[] | { abort: string } {
    try {
      return this.module.followUp!(event, answers, this.context);
    } catch (error) {
      return { abort: `mapping failed: ${(error as Error).message}` };
    }
  }

  /** The destination's batch limits, narrowed by the request's own (a webhook's batchSize). */
  #limitsOf(slot: BatchSlot): { maxItems: number; maxBytes: number } {
    const batching = this.module.batching!;
    return {
      maxItems: Math.min(batching.maxItems, slot.limits?.maxItems ?? Infinity),
      maxBytes: Math.min(batching.maxBytes, slot.limits?.maxBytes ?? Infinity),
    };
  }

  async #send(sent: SentRequest): Promise<SendResult> {
    await this.#acquireSlot();
    let result: SendResult;
    try {
      await this.#throttle.acquire();
      result = await sendRequest(sent, this.module, {
        timeoutMs: this.policy.timeoutMs,
        fetch: this.deps.fetch,
        quickRetries: this.options.quickRetries,
        quickRetryMinMs: this.options.quickRetryMinMs,
        mask: this.#mask,
      });
    } finally {
      this.#releaseSlot();
    }
    this.deps.metrics.deliveryRequestSeconds.observe(
      { destination: this.destinationId },
      result.durationMs / 1000,
    );
    const now = Date.now();
    this.#recentRequests = this.#recentRequests.filter((at) => now - at < 1000);
    this.#recentRequests.push(now);
    if (result.response?.status === 429) this.#throttle.onRateLimited(this.#recentRequests.length);
    else if (result.outcome.kind === 'ok' || result.outcome.kind === 'per-item') {
      this.#throttle.onSuccess();
    }
    return result;
  }

  #evidenceOf(result: SendResult, sent: SentRequest): Evidence {
    const mask = this.#mask.forRequest(sent.request);
    let deadLetter: { request: string; response?: string } | undefined;
    return {
      mask,
      deadLetter: () =>
        (deadLetter ??= {
          request: this.#mask.describeRequest(sent.request),
          // Masked as it was read (send-request.ts).
          response: result.response && JSON.stringify(result.response),
        }),
    };
  }

  /** Records one row's outcome; what is stored about it is masked (see mask-credentials.ts). */
  #record(
    row: ClaimedDelivery,
    itemOutcome: DeliveryOutcome,
    { mask, deadLetter }: Evidence,
    completion: Completion,
    retryAt: Map<number, Date>,
    status: number | undefined,
  ): void {
    const outcome = this.#withLimits(row, itemOutcome);
    this.deps.metrics.deliveries.inc({ destination: this.destinationId, outcome: outcome.kind });
    if (this.deps.live?.watchesDestination(this.destinationId)) {
      this.deps.live.publish({
        kind: 'delivery',
        destinationId: this.destinationId,
        at: new Date().toISOString(),
        messageId: row.messageId,
        outcome: outcome.kind,
        status,
        reason: outcome.kind === 'ok' ? undefined : mask.mask(outcome.reason),
      });
    }
    if (outcome.kind === 'ok') {
      completion.delivered.push(row);
      this.deps.metrics.deliveryLagSeconds.observe(
        { destination: this.destinationId },
        (Date.now() - row.receivedAt.getTime()) / 1000,
      );
    } else if (outcome.kind === 'retry') {
      const delay = outcome.afterMs ?? backoffMs(row.attempts + 1, this.options.backoff);
      const nextAttemptAt = new Date(Date.now() + delay);
      completion.retried.push({ ...row, nextAttemptAt, error: mask.mask(outcome.reason) });
      retryAt.set(row.id, nextAttemptAt);
    } else {
      completion.aborted.push({ ...row, reason: mask.mask(outcome.reason), ...deadLetter() });
    }
  }

  /** A retry past the attempt or time budget becomes an abort. */
  #withLimits(row: ClaimedDelivery, outcome: DeliveryOutcome): DeliveryOutcome {
    if (outcome.kind !== 'retry') return outcome;
    const attempts = row.attempts + 1;
    const started = row.firstAttemptAt?.getTime() ?? Date.now();
    const hours = (Date.now() - started) / 3_600_000;
    if (attempts >= this.policy.maxAttempts || hours >= this.policy.maxRetryHours) {
      return {
        kind: 'abort',
        reason: `gave up after ${attempts} attempts over ${hours.toFixed(2)} h: ${outcome.reason}`,
      };
    }
    return outcome;
  }

  /** Waits for one of the destination's maxConcurrency request slots. */
  async #acquireSlot(): Promise<void> {
    while (this.#inFlight >= this.policy.maxConcurrency) {
      await new Promise<void>((resolve) => this.#waitingForSlot.push(resolve));
    }
    this.#inFlight++;
  }

  #releaseSlot(): void {
    this.#inFlight--;
    this.#waitingForSlot.shift()?.();
  }
}

/** A request sent as built: its own batch item, if it has one, is the item it carries. */
function sentAlone(request: DestinationRequest): SentRequest {
  return { request, items: request.batch ? [request.batch.item] : [] };
}
