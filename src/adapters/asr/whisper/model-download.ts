/**
 * Downloads a model file: streams it to `<file>.part`, resumes a `.part` left by an earlier attempt
 * with a Range request, and renames the part into place only once its size and checksum are right,
 * so the models folder never holds a half file under a model's name. Models are large (up to 3 GB)
 * and connections drop; a dropped connection is retried by resuming, a wrong checksum is not.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { abortError, EarshotError, permanent, retryable } from '../../../core/errors.js';
import type { ModelChecksum } from './model-catalog.js';

export interface DownloadOptions {
  url: string;
  /** The final path; bytes go to `<dest>.part` until they are checked. */
  dest: string;
  /** The exact size, when known: a server that announces another size is refused before the download. */
  expectedBytes?: number;
  /** Checked before the rename; a mismatch deletes the part and fails with `checksum_mismatch`. */
  checksum?: ModelChecksum;
  signal?: AbortSignal;
  /** Called as bytes arrive (often: throttle any drawing). `totalBytes` is undefined when the server does not say. */
  onProgress?: (receivedBytes: number, totalBytes: number | undefined) => void;
  /** Tries on a retryable failure (dropped connection, 5xx), each resuming the part. Default 3. */
  attempts?: number;
  /** Wait before try n+1 is n times this. Default 1000. */
  retryDelayMs?: number;
  /** Told of each retryable failure before the next try. */
  onRetry?: (err: EarshotError, nextAttempt: number, delayMs: number) => void;
}

export interface DownloadResult {
  path: string;
  bytes: number;
  sha1: string;
  sha256: string;
  /** Whether an earlier part was reused. */
  resumed: boolean;
}

/** Downloads `url` to `dest` with resume, retries and checks (see the file comment). */
export async function downloadFile(options: DownloadOptions): Promise<DownloadResult> {
  const attempts = options.attempts ?? 3;
  for (let attempt = 1; ; attempt++) {
    try {
      return await attemptDownload(options);
    } catch (err) {
      const again = err instanceof EarshotError && err.retryable && attempt < attempts && !options.signal?.aborted;
      if (!again) throw err;
      const delayMs = (options.retryDelayMs ?? 1000) * attempt;
      options.onRetry?.(err, attempt + 1, delayMs);
      await sleep(delayMs, undefined, options.signal ? { signal: options.signal } : {}).catch(() => {
        throw abortError('the download was aborted');
      });
    }
  }
}

async function attemptDownload(o: DownloadOptions): Promise<DownloadResult> {
  const part = `${o.dest}.part`;
  await mkdir(dirname(o.dest), { recursive: true });
  let offset = await sizeOf(part);
  if (o.expectedBytes !== undefined && offset > o.expectedBytes) offset = await discard(part);
  const response = await request(o.url, offset, o.signal);
  let total: number | undefined;

  if (offset > 0 && response.status === 416) {
    // Nothing left to send: the part may be whole already (stopped between the last byte and the rename).
    await response.body?.cancel();
    total = parseContentRange(response.headers.get('content-range'))?.total;
    if (total !== offset) return restart(o, part);
  } else if (!response.ok) {
    await response.body?.cancel();
    throw httpFailure(response.status, o.url);
  } else if (offset > 0 && response.status === 206) {
    const range = parseContentRange(response.headers.get('content-range'));
    if (range?.start !== offset) {
      await response.body?.cancel();
      return restart(o, part);
    }
    total = range.total;
  } else {
    // 200: the whole file (a server that ignores Range sends it all again).
    offset = 0;
    const length = response.headers.get('content-length');
    total = length !== null && !response.headers.get('content-encoding') ? Number(length) : undefined;
  }
  if (o.expectedBytes !== undefined && total !== undefined && total !== o.expectedBytes) {
    await response.body?.cancel();
    await discard(part);
    throw permanent('size_mismatch', `the server offers ${total} bytes, expected ${o.expectedBytes}`, { url: o.url, expected: o.expectedBytes, actual: total });
  }

  const hashes = { sha1: createHash('sha1'), sha256: createHash('sha256') };
  if (offset > 0) await hashFile(part, Object.values(hashes));
  let received = offset;
  o.onProgress?.(received, total);
  if (response.status !== 416 && response.body) {
    // Each chunk is written before the next is read, so a broken connection leaves every byte
    // received in the part for the next attempt to resume from.
    const file = await open(part, offset > 0 ? 'a' : 'w');
    try {
      for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
        received += chunk.length;
        if (total !== undefined && received > total) throw retryable('download_failed', 'the server sent more bytes than it announced', { url: o.url });
        for (const h of Object.values(hashes)) h.update(chunk);
        await file.write(chunk);
        o.onProgress?.(received, total);
      }
    } catch (err) {
      if (o.signal?.aborted) throw abortError('the download was aborted');
      if (err instanceof EarshotError) throw err;
      throw new EarshotError('download_failed', `the download broke off after ${received}${total !== undefined ? ` of ${total}` : ''} bytes`, { retryable: true, cause: err, details: { url: o.url, received, total } });
    } finally {
      await file.close();
    }
  }
  if (total !== undefined && received < total) {
    throw retryable('download_failed', `the download broke off after ${received} of ${total} bytes`, { url: o.url, received, total });
  }
  if (o.expectedBytes !== undefined && received !== o.expectedBytes) {
    await discard(part);
    throw permanent('size_mismatch', `downloaded ${received} bytes, expected ${o.expectedBytes}`, { url: o.url, expected: o.expectedBytes, actual: received });
  }
  const digests = { sha1: hashes.sha1.digest('hex'), sha256: hashes.sha256.digest('hex') };
  if (o.checksum && digests[o.checksum.algorithm] !== o.checksum.hex.toLowerCase()) {
    await discard(part);
    throw permanent('checksum_mismatch', `the downloaded file's ${o.checksum.algorithm} is not the expected one; the partial file was deleted`, {
      url: o.url,
      algorithm: o.checksum.algorithm,
      expected: o.checksum.hex,
      actual: digests[o.checksum.algorithm],
    });
  }
  await rename(part, o.dest);
  return { path: o.dest, bytes: received, ...digests, resumed: offset > 0 };
}

/** A part the server will not continue: drop it and download from the start. */
async function restart(o: DownloadOptions, part: string): Promise<DownloadResult> {
  await discard(part);
  return attemptDownload(o);
}

async function request(url: string, offset: number, signal: AbortSignal | undefined): Promise<Response> {
  try {
    return await fetch(url, {
      // identity: a compressed body would make Content-Length and ranges count other bytes.
      headers: { 'accept-encoding': 'identity', ...(offset > 0 ? { range: `bytes=${offset}-` } : {}) },
      redirect: 'follow',
      ...(signal ? { signal } : {}),
    });
  } catch (err) {
    if (signal?.aborted) throw abortError('the download was aborted');
    const code = (err as Error & { cause?: { code?: string } }).cause?.code;
    throw new EarshotError('download_failed', `cannot reach ${new URL(url).host}: ${code ?? (err as Error).message}`, { retryable: true, cause: err, details: { url } });
  }
}

function httpFailure(status: number, url: string): EarshotError {
  if (status === 404) return permanent('not_found', `no such file on the server (404): ${url}`, { url, status });
  const again = status === 408 || status === 429 || status >= 500;
  return new EarshotError('download_failed', `the server answered ${status} for ${url}`, { retryable: again, details: { url, status } });
}

/** A Content-Range value: `bytes START-END/TOTAL`, or `bytes` then an asterisk and `/TOTAL` (on a 416). */
export function parseContentRange(header: string | null): { start: number | undefined; total: number | undefined } | undefined {
  const m = /^bytes\s+(?:(\d+)-(\d+)|\*)\/(\d+|\*)$/i.exec(header?.trim() ?? '');
  if (!m) return undefined;
  return { start: m[1] === undefined ? undefined : Number(m[1]), total: m[3] === '*' ? undefined : Number(m[3]) };
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

async function discard(path: string): Promise<0> {
  await rm(path, { force: true });
  return 0;
}

async function hashFile(path: string, hashes: Hash[]): Promise<void> {
  for await (const chunk of createReadStream(path)) for (const h of hashes) h.update(chunk as Buffer);
}
