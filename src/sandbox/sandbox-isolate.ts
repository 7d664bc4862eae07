/**
 * One transformation version in its own isolate: compiled once, reused for every call, and rebuilt
 * lazily after it was disposed. Calls are sent to the isolate before their turn (up to
 * CALLS_SENT_AHEAD), so the isolate starts the next call the moment one ends instead of idling for
 * a round trip to this thread (measured: a round trip per call of 100 events cost 15–20% of the
 * throughput); the runtime inside runs them one at a time (runtime-source.ts). The call at the head of the queue is the
 * one running, and a wall-clock watchdog times it from when it became the head: when it runs past
 * its limit, whether it spins or awaits forever, the watchdog disposes the isolate (isolated-vm's
 * `timeout` option does not bound code resumed after an await, isolated-vm issue #518) and fails
 * that call; the calls behind it did nothing wrong and are sent again to a fresh isolate.
 * Different transformations never share an isolate, so a loop or an out-of-memory in one never
 * fails another's events, and they run in parallel on isolated-vm's threads.
 */
import ivm from 'isolated-vm';
import type { Logger } from 'pino';
import type { FetchRequest, FetchResponse } from './guarded-fetch';
import { RUNTIME_FILENAME, RUNTIME_SOURCE } from './runtime-source';
import type { SandboxError, TransformationCode } from './transformation-sandbox';

/** `parts` is what the runtime returned, to be validated by decodeResult (wire-format.ts). */
export type CallOutcome = { ok: true; parts: unknown } | { ok: false; error: SandboxError };

/** One call's arguments, from encodePayload (wire-format.ts). */
export interface CallPayload {
  header: string;
  texts: string;
}

export interface SandboxIsolateOptions {
  code: TransformationCode;
  /** Identifies code, libraries and memory limit; a new version means a new SandboxIsolate. */
  version: string;
  memoryLimitMb: number;
  logger: Logger;
  /** Performs a transformation's fetch under the sandbox's current rules. */
  fetch: (request: FetchRequest, signal: AbortSignal) => Promise<FetchResponse>;
}

interface Runtime {
  isolate: ivm.Isolate;
  runner: ivm.Reference<
    (header: string, texts: string, callNumber: number) => string[] | Promise<string[]>
  >;
  deliver: ivm.Reference<(id: number, ok: boolean, text: string) => void>;
  /** Calls sent to this runtime whose answer has not come back. */
  unanswered: number;
  /** The isolate died under its calls (memory limit); see #answer. */
  lost: boolean;
}

interface Call {
  number: number;
  payload: CallPayload;
  timeoutMs: number;
  resolve: (outcome: CallOutcome) => void;
  /** Aborted when the call ends: cancels its fetches. */
  ended: AbortController;
  fetchesInFlight: number;
  /** The runtime the call was sent to, until it is sent again. */
  sentTo?: Runtime;
  /** The runtime's answer, kept until the calls before this one have ended. */
  answer?: CallOutcome | 'lost';
}

/**
 * Why the fetches of a finished call are cancelled. One shared reason: without one, every call's
 * abort() would build a DOMException and its stack (measurable at thousands of calls a second).
 */
const CALL_ENDED = new Error('The transformation call ended');

/**
 * Most calls sent to an isolate before they are due: enough to keep it busy, few enough that a
 * huge run does not park its whole payload in the isolate's queue.
 */
const CALLS_SENT_AHEAD = 4;

/** A build failure that will recur until the code changes (syntax, imports, exports). */
class CodeError extends Error {}

export class SandboxIsolate {
  readonly version: string;
  #options: SandboxIsolateOptions;
  /** Calls not yet ended, in order; the first is the one running (or being built for). */
  #calls: Call[] = [];
  #nextNumber = 0;
  #runtime: Runtime | undefined;
  /** The isolate being built or used, known before the build finishes so the watchdog can kill it. */
  #isolate: ivm.Isolate | undefined;
  #codeError: SandboxError | undefined;
  #watchdog: { call: Call; timer: NodeJS.Timeout } | undefined;
  #retiring = false;
  #disposed = false;

  constructor(options: SandboxIsolateOptions) {
    this.#options = options;
    this.version = options.version;
  }

  /** True once disposed: by dispose(), or by retire() when its last call ended. */
  get isDisposed(): boolean {
    return this.#disposed;
  }

  /** Runs the payload after the calls made before it; never rejects. */
  call(payload: CallPayload, timeoutMs: number): Promise<CallOutcome> {
    if (this.#disposed) return Promise.resolve(failure('The transformation sandbox was disposed'));
    return new Promise((resolve) => {
      const number = this.#nextNumber++;
      this.#calls.push({
        number,
        payload,
        timeoutMs,
        resolve,
        ended: new AbortController(),
        fetchesInFlight: 0,
      });
      this.#advance();
    });
  }

  /** Disposes the isolate once the calls already made have ended. */
  retire(): void {
    this.#retiring = true;
    if (this.#calls.length === 0) this.dispose();
  }

  /** Disposes the isolate now; calls not yet ended fail. */
  dispose(): void {
    this.#disposed = true;
    this.#disposeIsolate();
    this.#endAll(failure('The transformation was stopped'));
  }

  /** Moves the queue on: builds the isolate when needed, sends unsent calls, times the head. */
  #advance(): void {
    const head = this.#calls[0];
    if (!head) {
      if (this.#retiring) this.dispose();
      return;
    }
    if (this.#codeError) {
      this.#endAll({ ok: false, error: this.#codeError });
      return;
    }
    if (this.#watchdog?.call !== head) {
      this.#stopWatchdog();
      const timer = setTimeout(() => this.#expire(head), head.timeoutMs);
      this.#watchdog = { call: head, timer };
    }
    const runtime = this.#runtime;
    if (!runtime) {
      if (!this.#isolate) void this.#build(head.timeoutMs);
      return;
    }
    // A lost isolate's calls are sent again once all of them have answered (#answer).
    if (runtime.lost) return;
    const ahead = Math.min(this.#calls.length, CALLS_SENT_AHEAD);
    for (let i = 0; i < ahead; i++) if (!this.#calls[i].sentTo) this.#send(this.#calls[i], runtime);
  }

  #send(call: Call, runtime: Runtime): void {
    call.sentTo = runtime;
    call.fetchesInFlight = 0;
    runtime.unanswered += 1;
    let answer: Promise<unknown>;
    try {
      answer = runtime.runner.apply(
        undefined,
        [call.payload.header, call.payload.texts, call.number],
        { arguments: { copy: true }, result: { promise: true, copy: true } },
      );
    } catch (error) {
      answer = Promise.reject(error as Error);
    }
    answer.then(
      (parts: unknown) => this.#answer(call, runtime, { ok: true, parts }),
      (error: Error) =>
        this.#answer(
          call,
          runtime,
          // Only the memory limit disposes an isolate behind our back.
          runtime.isolate.isDisposed
            ? 'lost'
            : failure(`The transformation failed: ${error.message}`),
        ),
    );
  }

  /** Takes the runtime's answer to a call, then ends the calls at the head that have one. */
  #answer(call: Call, runtime: Runtime, answer: CallOutcome | 'lost'): void {
    runtime.unanswered -= 1;
    // Sent again since (the watchdog restarted the isolate), or already ended.
    if (call.sentTo !== runtime || !this.#calls.includes(call)) return;
    call.answer = answer;
    if (answer === 'lost') runtime.lost = true;
    if (runtime.lost) {
      // The calls sent to a lost isolate all fail, in no set order; once every one has
      // answered, the first call still without a result is the one that was running, and the
      // others are sent again.
      if (runtime.unanswered > 0) return;
      this.#runtimeLost(runtime);
    }
    for (let head = this.#calls[0]; head?.answer; head = this.#calls[0]) {
      if (head.answer === 'lost') break;
      this.#end(head, head.answer);
    }
    this.#advance();
  }

  #runtimeLost(runtime: Runtime): void {
    this.#disposeIsolate();
    let blamed = false;
    for (const call of this.#calls) {
      if (call.sentTo !== runtime || call.answer !== 'lost') continue;
      if (!blamed) {
        blamed = true;
        call.answer = this.#outOfMemory();
      } else {
        call.answer = undefined;
        call.sentTo = undefined;
      }
    }
  }

  #outOfMemory(): CallOutcome {
    this.#options.logger.warn(
      { transformationId: this.#options.code.id, memoryLimitMb: this.#options.memoryLimitMb },
      'transformation ran out of memory; its isolate was disposed',
    );
    return failure(
      `The transformation used more than ${this.#options.memoryLimitMb} MB of memory (sandbox.memoryLimitMb); its isolate was restarted`,
    );
  }

  /** Ends the call at the head. */
  #end(call: Call, outcome: CallOutcome): void {
    this.#calls.shift();
    if (this.#watchdog?.call === call) this.#stopWatchdog();
    this.#settle(call, outcome);
  }

  /** Ends every call not yet ended with the same outcome. */
  #endAll(outcome: CallOutcome): void {
    const calls = this.#calls;
    this.#calls = [];
    this.#stopWatchdog();
    for (const call of calls) this.#settle(call, outcome);
  }

  #settle(call: Call, outcome: CallOutcome): void {
    call.ended.abort(CALL_ENDED);
    call.resolve(outcome);
  }

  #expire(call: Call): void {
    this.#watchdog = undefined;
    // Every call sent to the disposed isolate is sent again, except this one.
    this.#disposeIsolate();
    for (const queued of this.#calls) {
      queued.sentTo = undefined;
      queued.answer = undefined;
    }
    this.#options.logger.warn(
      { transformationId: this.#options.code.id, timeoutMs: call.timeoutMs },
      'transformation timed out; its isolate was disposed',
    );
    this.#end(
      call,
      failure(
        `The transformation ran longer than ${call.timeoutMs} ms (sandbox.timeoutMs), counting awaited fetches; its isolate was restarted`,
      ),
    );
    this.#advance();
  }

  #stopWatchdog(): void {
    if (this.#watchdog) clearTimeout(this.#watchdog.timer);
    this.#watchdog = undefined;
  }

  /** Builds the runtime for the calls queued; a failed build fails the call at the head. */
  async #build(timeoutMs: number): Promise<void> {
    const { code, logger } = this.#options;
    let isolate: ivm.Isolate;
    try {
      isolate = new ivm.Isolate({
        memoryLimit: this.#options.memoryLimitMb,
        onCatastrophicError: (message) =>
          logger.fatal(
            { transformationId: code.id, message },
            'isolated-vm lost control of an isolate',
          ),
      });
    } catch (error) {
      const head = this.#calls[0];
      if (head) this.#end(head, failure(`Starting an isolate failed: ${(error as Error).message}`));
      this.#advance();
      return;
    }
    this.#isolate = isolate;
    try {
      const runtime = await this.#buildIn(isolate, timeoutMs);
      // The watchdog may have disposed the isolate meanwhile, and started another.
      if (this.#isolate !== isolate) return;
      this.#runtime = runtime;
    } catch (error) {
      if (this.#isolate !== isolate) return;
      const head = this.#calls[0];
      const outOfMemory = isolate.isDisposed;
      this.#disposeIsolate();
      if (error instanceof CodeError && !outOfMemory) {
        this.#codeError = { message: error.message };
        logger.warn({ transformationId: code.id, err: error }, 'transformation cannot be loaded');
      } else if (head) {
        // Top-level errors are not cached as code errors: they may come from a transient cause.
        this.#end(
          head,
          outOfMemory
            ? this.#outOfMemory()
            : failure(`Loading ${code.name} failed: ${(error as Error).message}`),
        );
      }
    }
    this.#advance();
  }

  async #buildIn(isolate: ivm.Isolate, timeoutMs: number): Promise<Runtime> {
    const { code } = this.#options;
    const context = await isolate.createContext();
    const startFetch = new ivm.Callback(
      (callNumber: number, id: number, request: string) =>
        this.#startFetch(isolate, callNumber, id, request),
      { ignored: true },
    );
    const bridge = await context.evalClosure(RUNTIME_SOURCE, [startFetch, RUNTIME_FILENAME], {
      filename: RUNTIME_FILENAME,
      result: { reference: true },
    });
    const bind = await bridge.get('bind', { reference: true });
    const deliver = await bridge.get('deliver', { reference: true });
    const main = await this.#compile(isolate, code.source, code.name);
    await this.#link(isolate, context, main);
    await main.evaluate({ timeout: timeoutMs });
    let runner: Runtime['runner'];
    try {
      runner = (await bind.apply(undefined, [main.namespace.derefInto(), code.name], {
        result: { reference: true },
      })) as Runtime['runner'];
    } catch (error) {
      if (isolate.isDisposed) throw error;
      throw new CodeError((error as Error).message);
    }
    return { isolate, runner, deliver, unanswered: 0, lost: false };
  }
  async #compile(isolate: ivm.Isolate, source: string, filename: string): Promise<ivm.Module> {
    try {
      return await isolate.compileModule(source, { filename });
    } catch (error) {
      if (isolate.isDisposed) throw error;
      throw new CodeError(`${filename}: ${(error as Error).message}`);
    }
  }

  /** Resolves imports to workspace libraries, compiling each once; libraries may import others. */
  async #link(isolate: ivm.Isolate, context: ivm.Context, main: ivm.Module): Promise<void> {
    const { code } = this.#options;
    const sources = new Map(code.libraries.map((library) => [library.name, library.source]));
    const compiled = new Map<string, Promise<ivm.Module>>();
    const names = new Map<ivm.Module, string>([[main, code.name]]);
    try {
      await main.instantiate(context, async (specifier, referrer) => {
        const source = sources.get(specifier);
        if (source === undefined) {
          const known = [...sources.keys()].join(', ') || 'none';
          throw new CodeError(
            `${names.get(referrer) ?? code.name} imports '${specifier}', which is not a library in the workspace (libraries: ${known})`,
          );
        }
        let module = compiled.get(specifier);
        if (!module) {
          module = this.#compile(isolate, source, specifier);
          compiled.set(specifier, module);
          names.set(await module, specifier);
        }
        return module;
      });
    } catch (error) {
      if (isolate.isDisposed) throw error;
      throw new CodeError((error as Error).message);
    }
  }

  #startFetch(isolate: ivm.Isolate, callNumber: number, id: number, requestText: string): void {
    const runtime = this.#runtime;
    if (!runtime || runtime.isolate !== isolate) return;
    // Usually the head; the next call when the head's end has not reached this thread yet.
    const call = this.#calls.find((queued) => queued.number === callNumber);
    if (!call || call.sentTo !== runtime) return;
    const signal = call.ended.signal;
    const deliver = (ok: boolean, text: string) => {
      // A fetch that outlives its call is dropped: delivering it would run user code unwatched.
      if (signal.aborted || isolate.isDisposed) return;
      call.fetchesInFlight -= 1;
      try {
        runtime.deliver.applyIgnored(undefined, [id, ok, text]);
      } catch {
        // The isolate was disposed in between.
      }
    };
    call.fetchesInFlight += 1;
    let request: FetchRequest;
    try {
      if (call.fetchesInFlight > MAX_FETCHES_IN_FLIGHT) {
        throw new Error(`more than ${MAX_FETCHES_IN_FLIGHT} fetches in flight`);
      }
      request = parseFetchRequest(requestText);
    } catch (error) {
      deliver(false, `fetch: ${(error as Error).message}`);
      return;
    }
    this.#options.fetch(request, signal).then(
      (response) => deliver(true, JSON.stringify(response)),
      (error: Error) => deliver(false, error.message),
    );
  }

  #disposeIsolate(): void {
    const isolate = this.#isolate;
    this.#runtime = undefined;
    this.#isolate = undefined;
    if (isolate && !isolate.isDisposed) isolate.dispose();
  }
}

function failure(message: string): CallOutcome {
  return { ok: false, error: { message } };
}

/** Keeps one transformation from flooding the network (or an allowed host) from our address. */
const MAX_FETCHES_IN_FLIGHT = 100;

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** The request comes from user code: check every field before the host acts on it. */
function parseFetchRequest(text: string): FetchRequest {
  const value = JSON.parse(text) as Partial<FetchRequest> | null;
  if (!value || typeof value.url !== 'string') throw new Error('a URL is required');
  const method = String(value.method ?? 'GET');
  if (!METHODS.has(method)) throw new Error(`unsupported method ${method}`);
  const headers: Record<string, string> = {};
  for (const [name, header] of Object.entries(value.headers ?? {})) {
    if (typeof header !== 'string') throw new Error(`header ${name} must be a string`);
    headers[name] = header;
  }
  if (value.body !== undefined && typeof value.body !== 'string') {
    throw new Error('init.body must be a string');
  }
  if (value.body !== undefined && (method === 'GET' || method === 'HEAD')) {
    throw new Error(`a ${method} request cannot have a body`);
  }
  return { url: value.url, method, headers, body: value.body };
}
