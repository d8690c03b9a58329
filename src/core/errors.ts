/**
 * Errors with a stable `code` and a `retryable` flag. Whether a failure is worth retrying is decided
 * where it is understood (a corrupt upload is not retried), and the engine only reads the flag.
 */
export const ERROR_CODES = [
  // Requests: what a client sent or may do.
  'bad_request',
  'invalid_config',
  'unauthorized',
  'forbidden',
  'not_found',
  'conflict',
  'payload_too_large',
  'unsupported_media_type',
  'range_not_satisfiable',
  'unprocessable',
  'rate_limited',
  'unavailable',
  'internal',
  // The engine.
  'cancelled',
  'lease_expired',
  'lease_lost',
  'unknown_task_type',
  'unknown_job_kind',
  'unknown_step',
  'invalid_dag',
  'handler_failed',
  'shutdown',
  // Media and speech.
  'unsupported_media',
  'corrupt_media',
  'media_limit_exceeded',
  'unsupported_language',
  'unsupported_engine',
  'asr_failed',
  // Models.
  'model_not_found',
  'download_failed',
  'checksum_mismatch',
  'size_mismatch',
  // Notes and notifications.
  'unknown_note_template',
  'notes_invalid',
  'llm_failed',
  'llm_unavailable',
  'email_unavailable',
  'email_failed',
  'webhook_refused',
  'webhook_unreachable',
  'webhook_failed',
  // A client of another Earshot (the CLI's --server) got an answer that is not an Earshot error.
  'http_error',
] as const;

/** Every code Earshot reports: a closed set, so each one has an HTTP status the compiler checks. */
export type ErrorCode = (typeof ERROR_CODES)[number];

const known: ReadonlySet<string> = new Set(ERROR_CODES);

/** Whether a string from outside (a stored error, another server's answer) is one of our codes. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && known.has(code);
}

export interface ErrorInfo {
  code: ErrorCode;
  message: string;
  retryable: boolean;
  /** Not before this many milliseconds (a service's Retry-After): the engine's next attempt waits at least this long. */
  retryAfterMs?: number;
  details?: Record<string, unknown>;
}

export interface ErrorOptions {
  retryable?: boolean;
  retryAfterMs?: number;
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class EarshotError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;
  /** The wait a service asked for (Retry-After), in milliseconds; HTTP answers send it as Retry-After too. */
  readonly retryAfterMs: number | undefined;

  constructor(code: ErrorCode, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'EarshotError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.details = options.details;
    this.retryAfterMs = options.retryAfterMs !== undefined && Number.isFinite(options.retryAfterMs) ? Math.max(0, options.retryAfterMs) : undefined;
  }

  toInfo(): ErrorInfo {
    return {
      code: this.code,
      message: this.message,
      retryable: this.retryable,
      ...(this.retryAfterMs !== undefined ? { retryAfterMs: this.retryAfterMs } : {}),
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

/** A failure that is worth another attempt (network blip, busy engine). */
export function retryable(code: ErrorCode, message: string, details?: Record<string, unknown>): EarshotError {
  return new EarshotError(code, message, { retryable: true, ...(details ? { details } : {}) });
}

/** A failure that another attempt cannot fix (bad input, unsupported media). */
export function permanent(code: ErrorCode, message: string, details?: Record<string, unknown>): EarshotError {
  return new EarshotError(code, message, { retryable: false, ...(details ? { details } : {}) });
}

/**
 * Milliseconds to wait from an HTTP Retry-After value (delay-seconds, fractions tolerated, or an
 * HTTP-date), or undefined when there is none or it cannot be read. A date in the past is 0.
 */
export function parseRetryAfter(header: string | null | undefined, nowMs: number): number | undefined {
  const value = header?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  // An HTTP-date names its day or month ("Wed, 21 Oct 2015 07:28:00 GMT"); Date.parse alone takes "-5" for a year.
  const at = /[a-z]{3}/i.test(value) ? Date.parse(value) : Number.NaN;
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** Turns anything thrown into ErrorInfo; unknown errors are retryable, since their cause is unknown. */
export function toErrorInfo(err: unknown): ErrorInfo {
  if (err instanceof EarshotError) return err.toInfo();
  if (err instanceof Error) {
    if (err.name === 'AbortError') return { code: 'cancelled', message: 'the task was cancelled', retryable: false };
    return { code: 'handler_failed', message: err.message || err.name, retryable: true };
  }
  return { code: 'handler_failed', message: String(err), retryable: true };
}

/** The error an aborted operation rejects with: named `AbortError` (toErrorInfo reads it as `cancelled`). */
export function abortError(message = 'the operation was aborted'): Error {
  return new DOMException(message, 'AbortError');
}
