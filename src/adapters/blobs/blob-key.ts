/** Key and range rules shared by every BlobStore adapter, so a key that works on disk works on S3. */
import type { ByteRange } from '../../ports/blob-store.js';
import { permanent } from '../../core/errors.js';

/** S3's limit, applied everywhere so a disk deployment cannot store keys S3 would refuse. */
const MAX_KEY_BYTES = 1024;
/** Control characters (NUL included) end C strings and logs; a backslash is a separator on Windows. */
const FORBIDDEN_CHARS = /[\u0000-\u001f\u007f\\]/;

export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

/** Throws `bad_request` unless `key` follows the rules documented on the BlobStore port. */
export function assertBlobKey(key: string): void {
  const problem = keyProblem(key);
  if (problem) throw permanent('bad_request', `invalid blob key: ${problem}`, { key });
}

/** Throws `bad_request` unless `prefix` is '' or a valid key, optionally ending with '/'. */
export function assertBlobPrefix(prefix: string): void {
  if (prefix === '') return;
  const problem = keyProblem(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
  if (problem) throw permanent('bad_request', `invalid blob prefix: ${problem}`, { prefix });
}

function keyProblem(key: string): string | undefined {
  if (typeof key !== 'string' || key.length === 0) return 'empty';
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) return `longer than ${MAX_KEY_BYTES} bytes`;
  if (FORBIDDEN_CHARS.test(key)) return 'control character or backslash';
  if (key.startsWith('/')) return 'absolute';
  for (const segment of key.split('/')) {
    if (segment === '') return 'empty segment';
    // Covers '.' and '..', and keeps the disk adapter's hidden temp and metadata files out of reach.
    if (segment.startsWith('.')) return 'segment starting with a dot';
  }
  return undefined;
}

/** Throws `bad_request` for a range that is not whole, non-negative numbers in order. */
export function assertByteRange(range: ByteRange): void {
  const { start, end } = range;
  const ok = Number.isSafeInteger(start) && start >= 0 && (end === undefined || (Number.isSafeInteger(end) && end >= start));
  if (!ok) throw permanent('bad_request', 'invalid byte range', { start, end });
}

export function rangeNotSatisfiable(range: ByteRange, sizeBytes?: number): Error {
  return permanent('bad_request', 'byte range starts past the end of the object', { reason: 'range_not_satisfiable', start: range.start, end: range.end, sizeBytes });
}

/** S3's listing order (UTF-8 bytes), which differs from JS string order for characters past U+FFFF. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Throws `bad_request` unless a URL lifetime is whole seconds within S3's one-week limit. */
export function assertExpiresIn(expiresInSeconds: number): void {
  if (!Number.isSafeInteger(expiresInSeconds) || expiresInSeconds < 1 || expiresInSeconds > 7 * 24 * 3600) {
    throw permanent('bad_request', 'expiresInSeconds must be a whole number from 1 to 604800', { expiresInSeconds });
  }
}
