/**
 * Errors with a stable `code` and a `retryable` flag. Whether a failure is worth retrying is decided
 * where it is understood (a corrupt upload is not retried), and the engine only reads the flag.
 */
export type ErrorCode =
  | 'bad_request'
  | 'invalid_config'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'unprocessable'
  | 'rate_limited'
  | 'unavailable'
  | 'internal'
  | 'cancelled'
  | 'lease_expired'
  | 'lease_lost'
  | 'unknown_task_type'
  | 'unknown_job_kind'
  | 'unknown_step'
  | 'invalid_dag'
  | 'handler_failed'
  | 'shutdown'
  | (string & {});

export interface ErrorInfo {
  code: ErrorCode;
  message: string;
  retryable: boolean;
  details?: Record<string, unknown>;
}

export class EarshotError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: { retryable?: boolean; details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'EarshotError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.details = options.details;
  }

  toInfo(): ErrorInfo {
    return { code: this.code, message: this.message, retryable: this.retryable, ...(this.details ? { details: this.details } : {}) };
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
