/**
 * Which database errors are transient: the database was lost or is briefly unable to serve
 * (restart, failover, network, connection limits, a deadlock or serialization conflict). Work
 * that failed on one of these is retried as it was; any other error is about the data itself
 * (an invalid value, a violated constraint) and retrying the same data can never succeed, so the
 * stages isolate and record the offending item instead (the processor splits a failing chunk; the router records rows one by one).
 *
 * The list lives here once; every stage asks isTransientDatabaseError.
 */

/** Node's network errors: the connection to the database could not be made or was cut. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** SQLSTATEs that say nothing about the data (PostgreSQL appendix A). */
const TRANSIENT_SQLSTATES = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '55P03', // lock_not_available
  '57014', // query_canceled (statement_timeout, pg_cancel_backend)
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '58000', // system_error
  '58030', // io_error
]);

/** SQLSTATE classes that are transient as a whole. */
const TRANSIENT_CLASSES = [
  '08', // connection exception
  '53', // insufficient resources (disk full, out of memory, too many connections)
];

/** pg's own errors for a lost or unobtainable connection carry no code, only these messages. */
const LOST_CONNECTION_MESSAGES =
  /Connection terminated|connection error|timeout exceeded when trying to connect|Client was closed|Cannot use a pool after calling end|not queryable/i;

/** Whether `error` (or its cause) means the database was lost or busy, not that the data is bad. */
export function isTransientDatabaseError(error: unknown): boolean {
  for (let current = error, depth = 0; current && depth < 5; depth++) {
    const { code, message } = current as { code?: unknown; message?: unknown };
    if (typeof code === 'string') {
      if (NETWORK_CODES.has(code) || TRANSIENT_SQLSTATES.has(code)) return true;
      if (code.length === 5 && TRANSIENT_CLASSES.includes(code.slice(0, 2))) return true;
    }
    if (typeof message === 'string' && LOST_CONNECTION_MESSAGES.test(message)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

export interface TransientRetryOptions {
  /** Attempts in all, the first included. */
  attempts: number;
  /** Wait before the second attempt; doubled for each one after, up to maxDelayMs. */
  firstDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_TRANSIENT_RETRY: TransientRetryOptions = {
  attempts: 8,
  firstDelayMs: 100,
  maxDelayMs: 5000,
};

/**
 * Runs `work` again while it fails with a transient database error, waiting longer each time;
 * any other error, or the last attempt's, is thrown. `work` must be safe to run again: a
 * transaction that failed was rolled back, so running it again is.
 */
export async function withTransientRetries<T>(
  work: () => Promise<T>,
  options: TransientRetryOptions = DEFAULT_TRANSIENT_RETRY,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= options.attempts || !isTransientDatabaseError(error)) throw error;
      const delay = Math.min(options.maxDelayMs, options.firstDelayMs * 2 ** (attempt - 1));
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
