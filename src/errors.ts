/**
 * The error catalog: every error Sluice reports to a client or an operator has a stable code,
 * an HTTP status and a message template. The gateway answers with
 * `{"success":false,"code":...,"message":...}`; test/errors.test.ts checks every code is documented
 * in docs/errors.md.
 */
export const ERRORS = {
  SLUICE_E_INVALID_JSON: { status: 400, message: 'The request body is not valid JSON' },
  SLUICE_E_INVALID_UTF8: { status: 400, message: 'The request body is not valid UTF-8' },
  SLUICE_E_TOO_DEEP: { status: 400, message: 'The JSON is nested deeper than the limit' },
  SLUICE_E_INVALID_GZIP: {
    status: 400,
    message: 'The gzip request body could not be decompressed',
  },
  SLUICE_E_UNSUPPORTED_ENCODING: { status: 415, message: 'Unsupported Content-Encoding' },
  SLUICE_E_BODY_TOO_LARGE: { status: 413, message: 'The request body is larger than the limit' },
  SLUICE_E_EVENT_TOO_LARGE: { status: 413, message: 'The event is larger than the limit' },
  SLUICE_E_TOO_MANY_EVENTS: { status: 413, message: 'The batch holds more events than the limit' },
  SLUICE_E_INVALID_BATCH: { status: 400, message: 'The batch is malformed' },
  SLUICE_E_INVALID_EVENT: { status: 400, message: 'The event is malformed' },
  SLUICE_E_INVALID_REQUEST: { status: 400, message: 'The request is malformed' },
  SLUICE_E_INVALID_URL: { status: 400, message: 'The URL has bad %-encoding' },
  SLUICE_E_MISSING_WRITE_KEY: { status: 401, message: 'No write key was given' },
  SLUICE_E_UNKNOWN_WRITE_KEY: { status: 401, message: 'The write key does not belong to a source' },
  SLUICE_E_SOURCE_DISABLED: { status: 401, message: 'The source is disabled' },
  SLUICE_E_RATE_LIMITED: { status: 429, message: 'The source is sending faster than its limit' },
  SLUICE_E_UNAUTHORIZED: { status: 401, message: 'A valid admin token is required' },
  SLUICE_E_CROSS_SITE: {
    status: 403,
    message: 'A change through the console session must come from the console itself',
  },
  SLUICE_E_NOT_FOUND: { status: 404, message: 'Not found' },
  SLUICE_E_DATABASE_UNAVAILABLE: { status: 503, message: 'The database is unavailable' },
  SLUICE_E_SHUTTING_DOWN: { status: 503, message: 'Sluice is shutting down' },
  SLUICE_E_WORKSPACE_INVALID: { status: 500, message: 'The workspace file is invalid' },
  SLUICE_E_SETTINGS_INVALID: { status: 500, message: 'A setting is invalid' },
  SLUICE_E_INTERNAL: { status: 500, message: 'Internal error' },
} as const;

export type ErrorCode = keyof typeof ERRORS;

/** An error with a catalog code; `detail` says what exactly was wrong. */
export class SluiceError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Extra response headers, such as Retry-After for 429 and 503. */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    code: ErrorCode,
    detail?: string,
    options: { cause?: unknown; headers?: Record<string, string> } = {},
  ) {
    const entry = ERRORS[code];
    super(detail ? `${entry.message}: ${detail}` : entry.message, { cause: options.cause });
    this.name = 'SluiceError';
    this.code = code;
    this.status = entry.status;
    this.headers = options.headers ?? {};
  }

  /**
   * The response body. A server error answers with its catalog message alone: its detail (a file
   * path, a cause) is for the operator's log, not for whoever sent the request.
   */
  toJSON(): { success: false; code: ErrorCode; message: string } {
    const message = this.status >= 500 ? ERRORS[this.code].message : this.message;
    return { success: false, code: this.code, message };
  }
}

/** Turns anything thrown into a SluiceError, keeping the original as `cause`. */
export function asSluiceError(error: unknown): SluiceError {
  if (error instanceof SluiceError) return error;
  return new SluiceError('SLUICE_E_INTERNAL', undefined, { cause: error });
}
