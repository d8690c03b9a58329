/**
 * Which pg failures mean "the database is not there right now" (as opposed to a bad statement or a
 * constraint): a server that is down, restarting or refusing connections, a connection that broke,
 * a pool that could not connect in time. These are outages, retried by workers and answered with 503
 * by the API; everything else is left as it is.
 */

/** Socket errors of a server that is down or unreachable. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * SQLSTATEs: 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now (starting up or
 * shutting down), 53300 too_many_connections; class 08 is every connection exception.
 */
const SERVER_CODES = new Set(['57P01', '57P02', '57P03', '53300']);

/** pg's and pg-pool's own messages, which carry no code. */
const MESSAGES = [
  /^Connection terminated/,
  /timeout exceeded when trying to connect/,
  /Client has encountered a connection error and is not queryable/,
  /^Query read timeout$/,
];

export function isConnectionFailure(err: unknown, depth = 0): boolean {
  if (typeof err !== 'object' || err === null || depth > 4) return false;
  const { code, message } = err as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (SOCKET_CODES.has(code) || SERVER_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true;
  if (typeof message === 'string' && MESSAGES.some((m) => m.test(message))) return true;
  // AggregateError (one ECONNREFUSED per address of localhost) and errors that wrap a cause.
  const { errors, cause } = err as { errors?: unknown; cause?: unknown };
  if (Array.isArray(errors) && errors.length > 0 && errors.every((e) => isConnectionFailure(e, depth + 1))) return true;
  return cause !== undefined && isConnectionFailure(cause, depth + 1);
}
