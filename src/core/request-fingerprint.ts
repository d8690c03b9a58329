/**
 * What an idempotency key was used for. A key names one request: sent again with the same request it
 * replays the job it made; sent with another kind or other parameters it is a client bug (409), not
 * a replay. The fingerprint is a hash of the kind and a canonical form of what makes the request.
 */
import { createHash } from 'node:crypto';
import type { Json } from './job.js';

/** JSON with object keys sorted at every level, so equal values always give equal text. */
export function canonicalJson(value: Json): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k]!)}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}

/** A stable hash of a job kind and the request's parameters. */
export function requestFingerprint(kind: string, request: Json): string {
  return createHash('sha256').update(canonicalJson([kind, request]), 'utf8').digest('hex');
}
