/** Turning AWS SDK failures into EarshotErrors: whether to retry is decided here, where S3 is understood. */
import { EarshotError, type ErrorCode } from '../../../core/errors.js';

/** The part of an SDK v3 service or network error we read. */
interface S3ErrorLike {
  code?: string;
  $metadata?: { httpStatusCode?: number };
}

/** Misconfiguration of our deployment, not of the request: retrying will not help, a person must. */
const CONFIG_ERRORS = new Set(['NoSuchBucket', 'AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AllAccessDisabled', 'PermanentRedirect', 'RequestTimeTooSkewed']);
const THROTTLE_ERRORS = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'RequestTimeout', 'TimeoutError']);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);

/** Maps an SDK error; leaves EarshotErrors and aborts as they are. */
export function toBlobError(err: unknown, key?: string): unknown {
  if (err instanceof EarshotError || !(err instanceof Error) || err.name === 'AbortError') return err;
  const e = err as Error & S3ErrorLike;
  const status = e.$metadata?.httpStatusCode;
  const details = { ...(key !== undefined ? { key } : {}), s3Error: e.name, ...(status !== undefined ? { status } : {}) };
  const fail = (code: ErrorCode, message: string, isRetryable = false, extra: Record<string, unknown> = {}): EarshotError =>
    new EarshotError(code, message, { retryable: isRetryable, details: { ...details, ...extra }, cause: err });

  // HEAD answers carry no body, so a refused HEAD has only its status to go by.
  if (CONFIG_ERRORS.has(e.name) || status === 401 || status === 403) return fail('invalid_config', 'the object store refused our bucket or credentials');
  if (status === 404 || e.name === 'NoSuchKey' || e.name === 'NotFound') return fail('not_found', 'no such blob');
  if (status === 416 || e.name === 'InvalidRange') {
    return fail('bad_request', 'byte range starts past the end of the object', false, { reason: 'range_not_satisfiable' });
  }
  const throttled = status === 429 || THROTTLE_ERRORS.has(e.name);
  const network = status === undefined && e.code !== undefined && NETWORK_CODES.has(e.code);
  if ((status !== undefined && status >= 500) || throttled || network) return fail('unavailable', 'the object store is unavailable', true);
  return fail('internal', 'the object store refused the request');
}
