/** The structured logger (pino, JSON lines on stdout). */
import pino, { type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'sluice' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: serializeError },
    },
    destination,
  );
}

/** Message, code, stack and cause chain only: driver errors carry whole connection objects. */
function serializeError(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const record = error as Error & { code?: unknown; detail?: unknown };
  return {
    type: error.name,
    message: error.message,
    code: record.code,
    detail: record.detail,
    stack: error.stack,
    cause: error.cause === undefined ? undefined : serializeError(error.cause),
  };
}
