/**
 * The user-transformation sandbox: runs the workspace's transformation modules over batches of
 * events in isolated-vm, with the workspace's limits (sandbox.memoryLimitMb, timeoutMs,
 * fetchTimeoutMs, fetchAllowList). Each transformation gets its own isolate per code version
 * (sandbox-isolate.ts), reused across calls and replaced when its code, a library or the memory
 * limit changes. A transformation that throws, loops, awaits forever, exhausts its memory or tries
 * to escape fails only the events of its own call; the process and other transformations go on.
 *
 * Concurrency: calls for one transformation run one at a time, in the order they were made (they
 * queue inside its isolate); calls for different transformations run in parallel. Batch events
 * per call: the per-call cost is a fraction of a millisecond, the per-event cost a few
 * microseconds.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import { DEFAULT_MAX_JSON_DEPTH } from '../config/settings';
import { SandboxSchema } from '../config/workspace';
import { guardedFetch, type FetchRules } from './guarded-fetch';
import { SandboxIsolate, type CallOutcome } from './sandbox-isolate';
import { decodeResult, encodePayload, failedRun, type OutputForm } from './wire-format';

/**
 * Most events per call into an isolate; a run over more is cut into calls of this size, queued
 * on the isolate together: it runs them back to back while this thread encodes the next slices
 * and decodes the finished ones. Smaller calls overlap more but cost more each; each call's output
 * texts also stay alive until it returns, and at the default 128 MB an isolate's young generation
 * is only 2 MB (isolated-vm sizes it from the memory limit). Measured with bench/transform:
 * 100 did best, 50 and 200 were 5% slower.
 */
export const CALL_EVENTS = 100;

/** The runs of consecutive slices of a batch, as one run (log event indexes shifted to match). */
function joinRuns(runs: SandboxRun[]): SandboxRun {
  if (runs.length === 1) return runs[0];
  const joined: SandboxRun = { results: [], logs: [] };
  for (const run of runs) {
    const offset = joined.results.length;
    for (const log of run.logs) {
      joined.logs.push(
        log.eventIndex === undefined ? log : { ...log, eventIndex: log.eventIndex + offset },
      );
    }
    for (const result of run.results) joined.results.push(result);
  }
  return joined;
}

export interface SandboxLimits {
  memoryLimitMb: number;
  /** Wall time per call, awaited fetches included. */
  timeoutMs: number;
  fetchTimeoutMs: number;
  /** Hosts `fetch` may reach: exact names or `*.example.com`; empty means no fetch at all. */
  fetchAllowList: readonly string[];
  /** Most events one event may become; more fail the event. */
  maxOutputsPerEvent: number;
}

const defaults = SandboxSchema.parse({});

/** The workspace defaults, for runs without a workspace. */
export const DEFAULT_SANDBOX_LIMITS: SandboxLimits = Object.freeze({
  ...defaults,
  fetchAllowList: Object.freeze(defaults.fetchAllowList),
});

export interface TransformationCode {
  /** Transformation id from the workspace. */
  id: string;
  /** Shown in stack traces and error messages: the file name. */
  name: string;
  /** ES module source text. */
  source: string;
  /** Every library of the workspace; the module imports them by name. */
  libraries: ReadonlyArray<{ name: string; source: string }>;
}

export interface EventMetadata {
  sourceId: string;
  sourceName: string;
  destinationId: string;
  destinationName: string;
  destinationType: string;
  messageId: string;
  receivedAt: string;
}

export interface SandboxError {
  message: string;
  /** The user's frames only (file name, line, column), when the error has any. */
  stack?: string;
}

export interface SandboxLog {
  level: 'log' | 'warn' | 'error';
  message: string;
  /** The input event the line was logged for, when known. */
  eventIndex?: number;
}

export interface SandboxRun {
  /** One entry per input event, in input order. */
  results: Array<
    | {
        events: unknown[];
        /** With output `json`: each output's messageId (null when it has no string one). */
        messageIds?: Array<string | null>;
      }
    | { error: SandboxError }
  >;
  logs: SandboxLog[];
}

export interface RunOptions {
  /**
   * `objects` (default): output events are parsed objects. `json`: each output event is its JSON
   * text, unparsed, with its messageId beside it; for callers that store text (the processor),
   * this skips a parse and a stringify per output.
   */
  output?: OutputForm;
}

export interface TransformationSandboxOptions {
  limits: SandboxLimits;
  logger: Logger;
  /**
   * Lets `fetch` reach private, loopback and link-local addresses: `true` for all of them, or a
   * list of exact addresses. For tests and deliberate operator setups only; user code cannot set it.
   */
  allowPrivateAddresses?: boolean | readonly string[];
  /**
   * Most levels an output event may nest: the gateway's limit for events (SLUICE_MAX_JSON_DEPTH),
   * so that what a transformation returns is as safe to recurse over as what an SDK sends.
   */
  maxEventDepth?: number;
}

export class TransformationSandbox {
  #limits: SandboxLimits;
  #logger: Logger;
  #allowPrivateAddresses: boolean | readonly string[];
  #maxEventDepth: number;
  #isolates = new Map<string, SandboxIsolate>();
  /**
   * Replaced versions still finishing their calls. Kept so that dispose() ends them too: left
   * alone, a stuck one would run on, its watchdog timer holding the process open until it fires.
   */
  #retiring = new Set<SandboxIsolate>();
  #agents = {
    http: new http.Agent({ keepAlive: true, maxSockets: 32 }),
    https: new https.Agent({ keepAlive: true, maxSockets: 32 }),
  };
  #disposed = false;

  constructor(options: TransformationSandboxOptions) {
    this.#limits = options.limits;
    this.#logger = options.logger;
    this.#allowPrivateAddresses = options.allowPrivateAddresses ?? false;
    this.#maxEventDepth = options.maxEventDepth ?? DEFAULT_MAX_JSON_DEPTH;
  }

  /**
   * Runs `code` over `events`, one metadata per event. An event is either the JSON text of one
   * object (preferred: it goes into the isolate without being parsed or copied on the host; it is
   * not re-validated, so it must be exactly one JSON object) or a value that is serialized with
   * JSON.stringify. Never rejects for the transformation's faults: they come back as errors in
   * `results`.
   *
   * transformEvent: each event is handled on its own (a throw fails that event only); events run
   * concurrently inside the isolate, results keep input order; `null`, `undefined` or `[]` drop
   * the event (`{ events: [] }`). transformBatch: an output belongs to the input with the same
   * messageId; outputs with an unknown messageId belong to the first input, and outputs without
   * one also get a fresh random messageId; a throw or an invalid return fails every input.
   * Either way, more than CALL_EVENTS events are handed over in consecutive calls of at most
   * CALL_EVENTS (each with its own time limit), so transformBatch sees batches of that size.
   */
  async run(
    code: TransformationCode,
    events: unknown[],
    metadata: EventMetadata[],
    options: RunOptions = {},
  ): Promise<SandboxRun> {
    if (this.#disposed) throw new Error('The transformation sandbox was disposed');
    if (events.length !== metadata.length) {
      throw new RangeError(`${events.length} events but ${metadata.length} metadata entries`);
    }
    if (events.length === 0) return { results: [], logs: [] };
    const isolate = this.#isolateFor(code);
    const output = options.output ?? 'objects';
    const calls: Array<{ outcome: Promise<CallOutcome>; count: number }> = [];
    for (let start = 0; start < events.length; start += CALL_EVENTS) {
      const end = Math.min(events.length, start + CALL_EVENTS);
      const payload = encodePayload(
        events.slice(start, end),
        metadata.slice(start, end),
        this.#limits.maxOutputsPerEvent,
      );
      calls.push({ outcome: isolate.call(payload, this.#limits.timeoutMs), count: end - start });
    }
    const limits = {
      output,
      maxOutputs: this.#limits.maxOutputsPerEvent,
      maxDepth: this.#maxEventDepth,
    };
    const runs = calls.map(({ outcome, count }) =>
      outcome.then((result) =>
        result.ok ? decodeResult(result.parts, count, limits) : failedRun(count, result.error),
      ),
    );
    return joinRuns(await Promise.all(runs));
  }

  /**
   * Applies new limits (a workspace reload). Fetch rules and the time limit apply from the next
   * call; isolates built with another memory limit are replaced on their next use.
   */
  setLimits(limits: SandboxLimits): void {
    this.#limits = limits;
  }

  /** Disposes every isolate and closes idle fetch connections. */
  dispose(): void {
    this.#disposed = true;
    for (const isolate of [...this.#isolates.values(), ...this.#retiring]) isolate.dispose();
    this.#isolates.clear();
    this.#retiring.clear();
    this.#agents.http.destroy();
    this.#agents.https.destroy();
  }

  #isolateFor(code: TransformationCode): SandboxIsolate {
    const version = this.#versionOf(code);
    const current = this.#isolates.get(code.id);
    if (current?.version === version) return current;
    // The old version finishes the calls it already has, then goes.
    for (const old of this.#retiring) if (old.isDisposed) this.#retiring.delete(old);
    if (current) {
      current.retire();
      if (!current.isDisposed) this.#retiring.add(current);
    }
    const isolate = new SandboxIsolate({
      code,
      version,
      memoryLimitMb: this.#limits.memoryLimitMb,
      logger: this.#logger,
      fetch: (request, signal) => guardedFetch(request, this.#fetchRules(), signal),
    });
    this.#isolates.set(code.id, isolate);
    return isolate;
  }

  /** Hash of everything baked into an isolate (a few µs per call; no cache to go stale). */
  #versionOf(code: TransformationCode): string {
    const hash = createHash('sha256');
    for (const part of [code.name, code.source, String(this.#limits.memoryLimitMb)]) {
      hash.update(`${part}\0`);
    }
    const libraries = [...code.libraries].sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const library of libraries) hash.update(`${library.name}\0${library.source}\0`);
    return hash.digest('hex');
  }

  #fetchRules(): FetchRules {
    return {
      allowList: this.#limits.fetchAllowList,
      timeoutMs: this.#limits.fetchTimeoutMs,
      allowPrivateAddresses: this.#allowPrivateAddresses,
      agents: this.#agents,
    };
  }
}
