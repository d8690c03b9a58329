/**
 * Request ids. A client's `x-request-id` is kept (so its logs and ours meet) only when it is short and
 * made of characters that are safe in a log line and a header; anything else gets a fresh id, so a
 * client cannot make every log line of its request carry kilobytes, or forge lines.
 */
import { newId } from '../../core/ids.js';

const CLIENT_ID = /^[A-Za-z0-9._:/+=@-]{1,128}$/;

/** The id of a request: the client's `x-request-id` when acceptable, else a new `req_…`. */
export function requestId(header: string | string[] | undefined): string {
  return typeof header === 'string' && CLIENT_ID.test(header) ? header : newId('req');
}
