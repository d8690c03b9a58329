/**
 * Our own expiring URLs for the disk adapter, served by our API at `/v1/blobs/<key>`:
 * `?op=get|put&expires=<unix s>[&name=<download name>]&sig=<hex HMAC-SHA256>`. Pure functions, so the
 * HTTP layer and tests can check a URL without a store.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { SignedUrlGrant, SignedUrlRequest } from '../../../ports/blob-store.js';
import { assertBlobKey } from '../blob-key.js';

export interface BlobSignatureInput {
  op: 'get' | 'put';
  key: string;
  expiresAtSeconds: number;
  /** Uploads only: the client must send exactly this Content-Type. */
  contentType?: string;
  /** Downloads only. */
  downloadName?: string;
}

export type BlobSignatureCheck =
  | { ok: true; grant: SignedUrlGrant }
  | { ok: false; reason: 'malformed' | 'invalid' | 'expired' };

/** Hex HMAC-SHA256 over everything the URL grants. */
export function signBlob(secret: string, input: BlobSignatureInput): string {
  // A JSON array keeps fields apart without an escaping scheme of our own.
  const payload = JSON.stringify(['earshot-blob-v1', input.op, input.key, input.expiresAtSeconds, input.contentType ?? null, input.downloadName ?? null]);
  return createHmac('sha256', secret).update(payload).digest('hex');
}

/** `${publicBaseUrl}/v1/blobs/<key, each segment encoded>?op=..&expires=..[&name=..]&sig=..` */
export function signedBlobUrl(publicBaseUrl: string, secret: string, input: BlobSignatureInput): string {
  const path = input.key.split('/').map(encodeURIComponent).join('/');
  const query = new URLSearchParams({ op: input.op, expires: String(input.expiresAtSeconds) });
  if (input.downloadName !== undefined) query.set('name', input.downloadName);
  query.set('sig', signBlob(secret, input));
  return `${publicBaseUrl.replace(/\/+$/, '')}/v1/blobs/${path}?${query.toString()}`;
}

const METHODS_FOR_OP = { get: ['GET', 'HEAD'], put: ['PUT'] } as const;

/** Checks a request against its signature (constant time) and expiry; refuses anything tampered with. */
export function verifyBlobSignature(secret: string, request: SignedUrlRequest, nowMs: number): BlobSignatureCheck {
  const { op, expires, sig, name } = request.query;
  if (op !== 'get' && op !== 'put') return { ok: false, reason: 'malformed' };
  if (expires === undefined || !/^\d{1,12}$/.test(expires)) return { ok: false, reason: 'malformed' };
  if (sig === undefined || !/^[0-9a-f]{64}$/.test(sig)) return { ok: false, reason: 'malformed' };
  try {
    assertBlobKey(request.key);
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (!(METHODS_FOR_OP[op] as readonly string[]).includes(request.method.toUpperCase())) return { ok: false, reason: 'invalid' };

  const input: BlobSignatureInput = { op, key: request.key, expiresAtSeconds: Number(expires) };
  if (op === 'put') input.contentType = request.contentType ?? '';
  if (op === 'get' && name !== undefined) input.downloadName = name;
  const expected = Buffer.from(signBlob(secret, input), 'hex');
  if (!timingSafeEqual(expected, Buffer.from(sig, 'hex'))) return { ok: false, reason: 'invalid' };
  // Checked after the signature, so the answer says nothing about URLs we never issued.
  if (nowMs >= input.expiresAtSeconds * 1000) return { ok: false, reason: 'expired' };

  const grant: SignedUrlGrant = { op, key: request.key };
  if (input.contentType !== undefined) grant.contentType = input.contentType;
  if (input.downloadName !== undefined) grant.downloadName = input.downloadName;
  return { ok: true, grant };
}
