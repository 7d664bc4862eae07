/**
 * One transformation version in its own isolate: compiled once, reused for every call, and rebuilt
 * lazily after it was disposed. Calls are serialized (one in flight per isolate), which lets a
 * wall-clock watchdog own the isolate outright: when a call runs past its limit, whether it spins
 * or awaits forever, the watchdog disposes the isolate (isolated-vm's `timeout` option does not
 * bound code resumed after an await, isolated-vm issue #518), fails the call, and the next call
 * builds a fresh isolate. Different transformations never share an isolate, so a loop or an
 * out-of-memory in one never fails another's events, and they run in parallel on isolated-vm's
 * threads.
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
  runner: ivm.Reference<(header: string, texts: string) => string | Promise<string>>;
  deliver: ivm.Reference<(id: number, ok: boolean, text: string) => void>;
}

/**
 * Why the fetches of a finished call are cancelled. One shared reason: without one, every call's
 * abort() would build a DOMException and its stack (measurable at thousands of calls a second).
 */
const CALL_ENDED = new Error('The transformation call ended');

/** A build failure that will recur until the code changes (syntax, imports, exports). */
class CodeError extends Error {}

export class SandboxIsolate {
  readonly version: string;
  #options: SandboxIsolateOptions;
  #queue: Promise<unknown> = Promise.resolve();
  #runtime: Runtime | undefined;
  /** The isolate being built or used, known before the build finishes so the watchdog can kill it. */
  #isolate: ivm.Isolate | undefined;
  #codeError: SandboxError | undefined;
  /** The call in flight: its fetches are delivered only while it lasts. */
  #activeCall: AbortController | undefined;
  #fetchesInFlight = 0;
  #disposed = false;

  constructor(options: SandboxIsolateOptions) {
    this.#options = options;
    this.version = options.version;
  }

  /** Runs the payload once the calls queued before it are done; never rejects. */
  call(payload: CallPayload, timeoutMs: number): Promise<CallOutcome> {
    const run = this.#queue.then(() => this.#callNow(payload, timeoutMs));
    this.#queue = run;
    return run;
  }

  /** Disposes the isolate once the calls already queued have finished. */
  retire(): void {
    void this.#queue.then(() => this.dispose());
  }

  dispose(): void {
    this.#disposed = true;
    this.#activeCall?.abort();
    this.#disposeIsolate();
  }

  async #callNow(payload: CallPayload, timeoutMs: number): Promise<CallOutcome> {
    if (this.#disposed) return failure('The transformation sandbox was disposed');
    if (this.#codeError) return { ok: false, error: this.#codeError };
    const call = new AbortController();
    this.#activeCall = call;
    this.#fetchesInFlight = 0;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<CallOutcome>((resolve) => {
      timer = setTimeout(() => resolve(this.#expire(timeoutMs, call)), timeoutMs);
    });
    try {
      return await Promise.race([this.#attempt(payload, timeoutMs, call), expired]);
    } finally {
      clearTimeout(timer);
      this.#activeCall = undefined;
      call.abort(CALL_ENDED);
    }
  }

  async #attempt(
    payload: CallPayload,
    timeoutMs: number,
    call: AbortController,
  ): Promise<CallOutcome> {
    try {
      const runtime = this.#runtime ?? (await this.#build(timeoutMs));
      const parts = await runtime.runner.apply(undefined, [payload.header, payload.texts], {
        arguments: { copy: true },
        result: { promise: true, copy: true },
      });
      return { ok: true, parts };
    } catch (error) {
      return this.#failureOf(error, call);
    }
  }

  #expire(timeoutMs: number, call: AbortController): CallOutcome {
    // Abort first: the failure the disposal causes in #attempt must not be taken for another one.
    call.abort();
    this.#disposeIsolate();
    this.#options.logger.warn(
      { transformationId: this.#options.code.id, timeoutMs },
      'transformation timed out; its isolate was disposed',
    );
    return failure(
      `The transformation ran longer than ${timeoutMs} ms (sandbox.timeoutMs), counting awaited fetches; its isolate was restarted`,
    );
  }

  #failureOf(error: unknown, call: AbortController): CallOutcome {
    if (call.signal.aborted) return failure('The transformation was stopped');
    const isolate = this.#isolate;
    if (error instanceof CodeError && !isolate?.isDisposed) {
      this.#codeError = { message: error.message };
      this.#disposeIsolate();
      this.#options.logger.warn(
        { transformationId: this.#options.code.id, err: error },
        'transformation cannot be loaded',
      );
      return { ok: false, error: this.#codeError };
    }
    if (isolate?.isDisposed) {
      // Only the watchdog (handled above) and isolated-vm's memory limit dispose an isolate.
      this.#disposeIsolate();
      this.#options.logger.warn(
        { transformationId: this.#options.code.id, memoryLimitMb: this.#options.memoryLimitMb },
        'transformation ran out of memory; its isolate was disposed',
      );
      return failure(
        `The transformation used more than ${this.#options.memoryLimitMb} MB of memory (sandbox.memoryLimitMb); its isolate was restarted`,
      );
    }
    // A build that failed (a throw in top-level code) leaves no usable isolate behind.
    if (!this.#runtime) this.#disposeIsolate();
    const message = (error as Error).message;
    return failure(
      this.#runtime
        ? `The transformation failed: ${message}`
        : `Loading ${this.#options.code.name} failed: ${message}`,
    );
  }

  async #build(timeoutMs: number): Promise<Runtime> {
    const { code, logger } = this.#options;
    const isolate = new ivm.Isolate({
      memoryLimit: this.#options.memoryLimitMb,
      onCatastrophicError: (message) =>
        logger.fatal(
          { transformationId: code.id, message },
          'isolated-vm lost control of an isolate',
        ),
    });
    this.#isolate = isolate;
    const context = await isolate.createContext();
    const startFetch = new ivm.Callback(
      (id: number, request: string) => this.#startFetch(isolate, id, request),
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
    // Top-level errors are not cached as code errors: they may come from a transient cause.
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
    const runtime: Runtime = { isolate, runner, deliver };
    this.#runtime = runtime;
    return runtime;
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

  #startFetch(isolate: ivm.Isolate, id: number, requestText: string): void {
    const call = this.#activeCall;
    const runtime = this.#runtime;
    if (!call || !runtime || runtime.isolate !== isolate) return;
    const deliver = (ok: boolean, text: string) => {
      // A fetch that outlives its call is dropped: delivering it would run user code unwatched.
      if (this.#activeCall !== call || isolate.isDisposed) return;
      this.#fetchesInFlight -= 1;
      try {
        runtime.deliver.applyIgnored(undefined, [id, ok, text]);
      } catch {
        // The isolate was disposed in between.
      }
    };
    this.#fetchesInFlight += 1;
    let request: FetchRequest;
    try {
      if (this.#fetchesInFlight > MAX_FETCHES_IN_FLIGHT) {
        throw new Error(`more than ${MAX_FETCHES_IN_FLIGHT} fetches in flight`);
      }
      request = parseFetchRequest(requestText);
    } catch (error) {
      deliver(false, `fetch: ${(error as Error).message}`);
      return;
    }
    this.#options.fetch(request, call.signal).then(
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
