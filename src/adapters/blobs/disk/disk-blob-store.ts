import { lstat, open, readdir, readFile, rm, stat as fsStat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import type { BlobInfo, BlobStore, ByteRange, PutOptions, SignedUrl, SignedUrlGrant, SignedUrlOptions, SignedUrlRequest } from '../../../ports/blob-store.js';
import { systemClock, type Clock } from '../../../core/clock.js';
import { permanent } from '../../../core/errors.js';
import { writeFileAtomically } from '../atomic-file.js';
import { DEFAULT_CONTENT_TYPE, assertBlobKey, assertBlobPrefix, assertByteRange, assertExpiresIn, compareKeys, rangeNotSatisfiable } from '../blob-key.js';
import { payloadTooLarge } from '../byte-limit.js';
import { signedBlobUrl, verifyBlobSignature, type BlobSignatureInput } from './blob-signature.js';

export { verifyBlobSignature } from './blob-signature.js';

export interface DiskBlobStoreConfig {
  /** Objects live at `<rootDir>/<key>`; content types under `<rootDir>/.meta/`. */
  rootDir: string;
  /** Where clients reach our API, e.g. `https://earshot.example.com`; signed URLs start with it. */
  publicBaseUrl: string;
  /** HMAC key for signed URLs, at least 32 characters; every API node must share it. */
  signingSecret: string;
  /** Default the system clock. */
  clock?: Clock;
}

export interface DiskBlobStore extends BlobStore {
  verifySignedUrl(request: SignedUrlRequest): SignedUrlGrant;
}

/** Hidden, so `list` skips it, and out of reach of keys, which cannot have a segment starting with '.'. */
const META_DIR = '.meta';

interface Meta {
  contentType: string;
}

/** A BlobStore on the local file system; one disk, so one node (or a shared mount). */
export function createDiskBlobStore(config: DiskBlobStoreConfig): DiskBlobStore {
  if (config.signingSecret.length < 32) throw permanent('invalid_config', 'the blob signing secret must be at least 32 characters');
  const rootDir = resolve(config.rootDir);
  const clock = config.clock ?? systemClock;

  // Keys are validated first, so joining them cannot escape rootDir.
  const dataPath = (key: string): string => join(rootDir, ...key.split('/'));
  const metaPath = (key: string): string => `${join(rootDir, META_DIR, ...key.split('/'))}.json`;

  async function readMeta(key: string): Promise<Meta | undefined> {
    try {
      return JSON.parse(await readFile(metaPath(key), 'utf8')) as Meta;
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  async function stat(key: string): Promise<BlobInfo | undefined> {
    assertBlobKey(key);
    let stats;
    try {
      stats = await fsStat(dataPath(key));
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
    if (!stats.isFile()) return undefined;
    const meta = await readMeta(key);
    return { key, sizeBytes: stats.size, contentType: meta?.contentType, modifiedAt: stats.mtimeMs };
  }

  async function put(key: string, body: Readable | Buffer, options: PutOptions = {}): Promise<BlobInfo> {
    assertBlobKey(key);
    if (Buffer.isBuffer(body) && options.maxBytes !== undefined && body.length > options.maxBytes) throw payloadTooLarge(options.maxBytes);
    const source = Buffer.isBuffer(body) ? Readable.from([body]) : body;
    const meta: Meta = { contentType: options.contentType ?? DEFAULT_CONTENT_TYPE };
    // The sidecar is written once every byte has arrived, just before the data's rename: a failed put
    // leaves the old type with the old bytes, and a reader may at worst see the new type with the old
    // bytes for an instant, never an object without a type.
    const writeMeta = async (): Promise<void> => {
      await writeFileAtomically(Readable.from([JSON.stringify(meta)]), metaPath(key), { durable: true });
    };
    try {
      await writeFileAtomically(source, dataPath(key), {
        ...(options.maxBytes !== undefined ? { maxBytes: options.maxBytes } : {}),
        durable: true,
        beforeRename: writeMeta,
      });
    } catch (err) {
      throw asKeyConflict(err, key);
    }
    const info = await stat(key);
    if (!info) throw permanent('internal', 'the object vanished right after it was written', { key });
    return info;
  }

  async function get(key: string, range?: ByteRange): Promise<Readable> {
    assertBlobKey(key);
    if (range) assertByteRange(range);
    let handle;
    try {
      handle = await open(dataPath(key), 'r');
    } catch (err) {
      if (isMissing(err)) throw notFound(key);
      throw err;
    }
    try {
      // fstat on the open handle: a concurrent overwrite renames a new file in, ours stays whole.
      const stats = await handle.stat();
      if (!stats.isFile()) throw notFound(key);
      if (range && range.start >= stats.size) throw rangeNotSatisfiable(range, stats.size);
      const options = range ? { start: range.start, ...(range.end !== undefined ? { end: range.end } : {}) } : {};
      return handle.createReadStream(options); // autoClose closes the handle with the stream
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async function copy(from: string, to: string): Promise<BlobInfo> {
    const source = await get(from); // first, so a missing key is not_found
    const meta = await readMeta(from);
    return put(to, source, meta ? { contentType: meta.contentType } : {});
  }

  async function remove(key: string): Promise<void> {
    assertBlobKey(key);
    // Empty folders are left behind on purpose: removing them races with a put creating them.
    await Promise.all([rmIfFile(dataPath(key)), rm(metaPath(key), { force: true })]);
  }

  async function list(prefix: string): Promise<BlobInfo[]> {
    assertBlobPrefix(prefix);
    const slash = prefix.lastIndexOf('/');
    const startDir = slash === -1 ? '' : prefix.slice(0, slash);
    const found: BlobInfo[] = [];
    await walk(startDir, prefix, found);
    return found.sort((a, b) => compareKeys(a.key, b.key));
  }

  async function walk(relDir: string, prefix: string, found: BlobInfo[]): Promise<void> {
    let entries;
    try {
      entries = await readdir(relDir === '' ? rootDir : dataPath(relDir), { withFileTypes: true });
    } catch (err) {
      if (isMissing(err)) return;
      throw err;
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue; // temp files and the metadata tree
      const key = relDir === '' ? entry.name : `${relDir}/${entry.name}`;
      if (entry.isDirectory()) {
        const asDir = `${key}/`;
        if (asDir.startsWith(prefix) || prefix.startsWith(asDir)) await walk(key, prefix, found);
      } else if (entry.isFile() && key.startsWith(prefix)) {
        const stats = await lstat(dataPath(key)).catch((err: unknown) => (isMissing(err) ? undefined : Promise.reject(err)));
        if (stats) found.push({ key, sizeBytes: stats.size, contentType: undefined, modifiedAt: stats.mtimeMs });
      }
    }
  }

  async function download(key: string, filePath: string): Promise<BlobInfo> {
    const stream = await get(key); // first, so a missing key is not_found
    const info = await stat(key);
    const sizeBytes = await writeFileAtomically(stream, filePath);
    return { key, sizeBytes, contentType: info?.contentType, modifiedAt: info?.modifiedAt ?? clock.now() };
  }

  function sign(input: Omit<BlobSignatureInput, 'expiresAtSeconds'>, options: SignedUrlOptions): { url: string; expiresAt: number } {
    assertBlobKey(input.key);
    assertExpiresIn(options.expiresInSeconds);
    const expiresAtSeconds = Math.floor(clock.now() / 1000) + options.expiresInSeconds;
    return { url: signedBlobUrl(config.publicBaseUrl, config.signingSecret, { ...input, expiresAtSeconds }), expiresAt: expiresAtSeconds * 1000 };
  }

  return {
    name: 'disk',
    capabilities: { urlTarget: 'api' },
    put,
    get,
    stat,
    delete: remove,
    copy,
    list,
    download,
    async signUpload(key, options) {
      const contentType = options.contentType ?? DEFAULT_CONTENT_TYPE;
      const { url, expiresAt } = sign({ op: 'put', key, contentType }, options);
      return { url, method: 'PUT', expiresAt, headers: { 'content-type': contentType } } satisfies SignedUrl;
    },
    async signDownload(key, options) {
      const { url, expiresAt } = sign({ op: 'get', key, ...(options.downloadName !== undefined ? { downloadName: options.downloadName } : {}) }, options);
      return { url, method: 'GET', expiresAt, headers: {} } satisfies SignedUrl;
    },
    verifySignedUrl(request) {
      const check = verifyBlobSignature(config.signingSecret, request, clock.now());
      if (!check.ok) throw permanent('unauthorized', `the signed blob URL is ${check.reason}`, { reason: check.reason });
      return check.grant;
    },
    async close() {},
  };
}

function notFound(key: string): Error {
  return permanent('not_found', 'no such blob', { key });
}

/** ENOTDIR: a path segment is a file, e.g. `a/b` asked for when `a` is an object. */
function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** On disk `a` and `a/b` cannot both exist (S3 allows it); say so instead of leaking an errno. */
function asKeyConflict(err: unknown, key: string): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EISDIR' || code === 'ENOTDIR' || code === 'EEXIST' || code === 'ENOTEMPTY') {
    return permanent('conflict', 'on disk a key cannot also be the folder of other keys', { key });
  }
  return err;
}

async function rmIfFile(path: string): Promise<void> {
  try {
    await rm(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    // ERR_FS_EISDIR: the key names a folder of other keys, not an object; nothing to remove.
    if (isMissing(err) || code === 'ERR_FS_EISDIR' || code === 'EISDIR') return;
    throw err;
  }
}
