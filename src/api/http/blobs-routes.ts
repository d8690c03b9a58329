/**
 * `/v1/blobs/<key>`: serves the signed URLs of a BlobStore whose URLs point at our API (the disk
 * adapter). The signature is the credential, so there is no API key here; an expired or tampered URL
 * is refused with 403 `forbidden`. Downloads stream with Range support; uploads stream into the store
 * without being buffered, up to `maxUploadBytes`.
 */
import { PassThrough, Readable } from 'node:stream';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { EarshotError } from '../../core/errors.js';
import type { BlobStore, SignedUrlGrant } from '../../ports/blob-store.js';
import { errorResponses } from './errors.js';

export interface BlobsDeps {
  blobs: BlobStore;
  maxUploadBytes: number;
  /**
   * Refuses a write the URL's signature allows but the data's owner no longer does (a completed
   * upload is immutable): asked before the body is read, and again once it is stored, so a write
   * that raced the refusal is undone and refused too.
   */
  checkWrite?: (key: string) => Promise<void>;
}

const PREFIX = '/v1/blobs/';
const SIGNED_QUERY = ['op', 'expires', 'sig', 'name'] as const;

// Not in the OpenAPI document: clients follow the URLs the API hands out and never build them.
const schema = (statuses: number[], ok: Record<number, unknown> = {}) => ({ hide: true, response: { ...ok, ...errorResponses(...statuses) } });

const uploaded = {
  type: 'object',
  properties: { key: { type: 'string' }, size_bytes: { type: 'integer' }, content_type: { type: ['string', 'null'] } },
} as const;

/** What the signed URL of this request allows; throws `forbidden` for anything else. */
function grantFor(request: FastifyRequest, blobs: BlobStore): SignedUrlGrant {
  // Decoded segment by segment from the raw URL, the inverse of how the signer encoded the key
  // (Fastify's wildcard param follows its own decoding rules).
  const url = request.raw.url ?? '';
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const search = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
  let key: string | undefined;
  try {
    if (path.startsWith(PREFIX)) key = path.slice(PREFIX.length).split('/').map(decodeURIComponent).join('/');
  } catch {
    // a malformed escape: refused below like any other malformed URL
  }
  if (key === undefined) throw new EarshotError('forbidden', 'the signed blob URL is malformed', { details: { reason: 'malformed' } });
  const query = Object.fromEntries(SIGNED_QUERY.map((k) => [k, search.get(k) ?? undefined]));
  try {
    // Present: the server registers these routes only for stores that have it.
    return blobs.verifySignedUrl!({ method: request.method, key, query, contentType: request.headers['content-type'] });
  } catch (err) {
    if (err instanceof EarshotError && err.code === 'unauthorized') throw new EarshotError('forbidden', err.message, { details: err.details ?? {} });
    throw err;
  }
}

/**
 * One `bytes=` range against an object of `size` bytes: inclusive bounds, 'unsatisfiable', or
 * undefined to serve the whole object (no header, a syntax we do not parse, or several ranges, all of
 * which RFC 9110 lets a server ignore).
 */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  const m = header === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  const [first, last] = [m[1]!, m[2]!];
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== '' && Number(last) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

/** `attachment` with an ASCII fallback and the exact UTF-8 name (RFC 6266). */
function contentDisposition(name: string): string {
  const fallback = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

export function blobsRoutes(deps: BlobsDeps): FastifyPluginAsync {
  const { blobs } = deps;
  return async (app) => {
    // Upload bodies are streamed by the handler; no parser may consume them first.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', (_request, _payload, done) => done(null));

    app.get('/v1/blobs/*', { schema: schema([403, 404, 416]) }, async (request, reply) => {
      const grant = grantFor(request, blobs);
      const info = await blobs.stat(grant.key);
      if (!info) throw new EarshotError('not_found', 'no such blob');
      const range = parseRange(request.headers.range, info.sizeBytes);
      if (range === 'unsatisfiable') {
        reply.header('content-range', `bytes */${info.sizeBytes}`);
        throw new EarshotError('range_not_satisfiable', 'the range starts past the end of the blob', { details: { size_bytes: info.sizeBytes } });
      }
      reply
        .header('content-type', info.contentType ?? 'application/octet-stream')
        .header('accept-ranges', 'bytes')
        .header('last-modified', new Date(info.modifiedAt).toUTCString())
        .header('cache-control', 'private, no-cache')
        // Uploaded bytes are untrusted: never sniff them into HTML, never run their scripts on our origin.
        .header('x-content-type-options', 'nosniff')
        .header('content-security-policy', 'sandbox');
      if (grant.downloadName !== undefined) reply.header('content-disposition', contentDisposition(grant.downloadName));
      if (range) {
        reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${info.sizeBytes}`);
      }
      reply.header('content-length', String(range ? range.end - range.start + 1 : info.sizeBytes));
      // HEAD: an empty stream keeps our Content-Length (Fastify would read a real one to the end).
      if (request.method === 'HEAD') return reply.send(Readable.from([]));
      return reply.send(await blobs.get(grant.key, range));
    });

    app.put('/v1/blobs/*', { schema: schema([403, 404, 409, 413], { 200: uploaded }) }, async (request, reply) => {
      try {
        const grant = grantFor(request, blobs);
        await deps.checkWrite?.(grant.key);
        const declared = Number(request.headers['content-length']);
        if (declared > deps.maxUploadBytes) {
          throw new EarshotError('payload_too_large', `the body is larger than ${deps.maxUploadBytes} bytes`, { details: { maxBytes: deps.maxUploadBytes } });
        }
        // A pass-through between the socket and the store: a failed put destroys its body, and it
        // should be this stream, not the connection we still want to answer on.
        const raw = request.raw;
        const body = new PassThrough();
        raw.pipe(body);
        // A client that goes away mid-upload is its own problem, not a server error.
        const interrupted = () => body.destroy(new EarshotError('bad_request', 'the upload was interrupted'));
        raw.on('error', interrupted);
        raw.on('close', () => {
          if (!raw.complete) interrupted();
        });
        const info = await blobs.put(grant.key, body, { maxBytes: deps.maxUploadBytes, ...(grant.contentType ? { contentType: grant.contentType } : {}) });
        try {
          await deps.checkWrite?.(grant.key);
        } catch (err) {
          await blobs.delete(grant.key);
          throw err;
        }
        return { key: info.key, size_bytes: info.sizeBytes, content_type: info.contentType ?? null };
      } catch (err) {
        // The rest of the body was not read: close the connection instead of draining it.
        reply.header('connection', 'close');
        throw err;
      }
    });
  };
}
