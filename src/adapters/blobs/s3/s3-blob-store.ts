import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Readable, pipeline } from 'node:stream';
import type { BlobInfo, BlobStore, ByteRange, PutOptions, SignedUrlOptions } from '../../../ports/blob-store.js';
import { systemClock, type Clock } from '../../../core/clock.js';
import { permanent } from '../../../core/errors.js';
import { writeFileAtomically } from '../atomic-file.js';
import { DEFAULT_CONTENT_TYPE, assertBlobKey, assertBlobPrefix, assertByteRange, assertExpiresIn, compareKeys } from '../blob-key.js';
import { ByteLimit, payloadTooLarge } from '../byte-limit.js';
import { toBlobError } from './s3-errors.js';

export interface S3BlobStoreConfig {
  bucket: string;
  /** Put before every key, e.g. `earshot` (a trailing '/' is added); default ''. */
  prefix?: string;
  /** An S3-compatible server (MinIO, R2, ...); default AWS. */
  endpoint?: string;
  region: string;
  /** Bucket in the path instead of the host name; most S3-compatible servers need it. */
  forcePathStyle: boolean;
  /** Both or neither; neither uses the SDK's default chain (env, profile, instance role). */
  accessKeyId?: string;
  secretAccessKey?: string;
  /** The endpoint clients reach, when it differs from `endpoint` (e.g. a container host name); default `endpoint`. */
  publicEndpoint?: string;
  /** Signs URLs; default the system clock. */
  clock?: Clock;
  /**
   * Multipart part size; default 5 MiB, S3's minimum. A stream of unknown length can fill at most
   * 10,000 parts, so raise it for objects over about 48 GiB.
   */
  uploadPartBytes?: number;
  /** Parts in flight per put; a put holds about (this + 2) × uploadPartBytes of memory. Default 2. */
  uploadQueueSize?: number;
  /** Keys per ListObjectsV2 page; default 1000 (S3's maximum). */
  listPageSize?: number;
}

/** The largest object one CopyObject request may copy. */
const MAX_COPY_BYTES = 5 * 1024 ** 3;

/** A BlobStore on S3 or an S3-compatible server; signed URLs go to the store, not to our API. */
export function createS3BlobStore(config: S3BlobStoreConfig): BlobStore {
  if ((config.accessKeyId === undefined) !== (config.secretAccessKey === undefined)) {
    throw permanent('invalid_config', 'set both the S3 access key id and secret access key, or neither');
  }
  const { bucket } = config;
  const prefix = config.prefix ? `${config.prefix.replace(/^\/+|\/+$/g, '')}/` : '';
  const clock = config.clock ?? systemClock;
  const client = new S3Client(clientConfig(config, config.endpoint));
  // Presigning is offline, so a second client that only knows the public endpoint costs nothing.
  const signer = config.publicEndpoint && config.publicEndpoint !== config.endpoint ? new S3Client(clientConfig(config, config.publicEndpoint)) : client;

  const objectKey = (key: string): string => prefix + key;

  async function stat(key: string): Promise<BlobInfo | undefined> {
    assertBlobKey(key);
    try {
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: objectKey(key) }));
      return { key, sizeBytes: head.ContentLength ?? 0, contentType: head.ContentType, modifiedAt: head.LastModified?.getTime() ?? clock.now() };
    } catch (err) {
      const mapped = toBlobError(err, key);
      if ((mapped as { code?: string }).code === 'not_found') return undefined;
      throw mapped;
    }
  }

  async function put(key: string, body: Readable | Buffer, options: PutOptions = {}): Promise<BlobInfo> {
    assertBlobKey(key);
    const { maxBytes } = options;
    if (Buffer.isBuffer(body) && maxBytes !== undefined && body.length > maxBytes) throw payloadTooLarge(maxBytes);
    const limit = new ByteLimit(maxBytes);
    // The SDK reads the body through the limit; pipeline destroys `body` when the limit is crossed or
    // when we give up. Its errors surface through `limit`, which the upload reads, so the callback is empty.
    const source = Buffer.isBuffer(body) ? body : pipeline(body, limit, () => {});
    const upload = new Upload({
      client,
      params: { Bucket: bucket, Key: objectKey(key), Body: source, ContentType: options.contentType ?? DEFAULT_CONTENT_TYPE },
      partSize: config.uploadPartBytes ?? 5 * 1024 * 1024,
      queueSize: config.uploadQueueSize ?? 2,
    });
    try {
      // Until the last part is complete S3 shows no object, so a refused upload leaves nothing behind.
      await upload.done();
    } catch (err) {
      limit.destroy();
      // Checked first: the SDK then aborts the multipart upload and may report that instead (s3rver
      // cannot abort one at all).
      if (limit.exceeded && maxBytes !== undefined) throw payloadTooLarge(maxBytes);
      if (!Buffer.isBuffer(body) && body.errored) throw body.errored; // the caller's stream failed, not S3
      throw toBlobError(err, key);
    }
    const info = await stat(key);
    if (!info) throw permanent('internal', 'the object vanished right after it was written', { key });
    return info;
  }

  async function getObject(key: string, range?: ByteRange): Promise<{ body: Readable; info: BlobInfo }> {
    assertBlobKey(key);
    if (range) assertByteRange(range);
    try {
      const Range = range ? `bytes=${range.start}-${range.end ?? ''}` : undefined;
      const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: objectKey(key), Range }));
      // In Node the SDK answers with the HTTP response itself, a Readable.
      if (!(res.Body instanceof Readable)) throw permanent('internal', 'the S3 client did not return a Node stream', { key });
      return {
        body: res.Body,
        info: { key, sizeBytes: res.ContentLength ?? 0, contentType: res.ContentType, modifiedAt: res.LastModified?.getTime() ?? clock.now() },
      };
    } catch (err) {
      throw toBlobError(err, key);
    }
  }

  async function copy(from: string, to: string): Promise<BlobInfo> {
    assertBlobKey(to);
    const info = await stat(from);
    if (!info) throw permanent('not_found', 'no such blob', { key: from });
    // One CopyObject takes objects up to 5 GiB; larger ones stream through this process.
    if (info.sizeBytes > MAX_COPY_BYTES) return put(to, await (await getObject(from)).body, info.contentType ? { contentType: info.contentType } : {});
    try {
      const copySource = `${bucket}/${objectKey(from).split('/').map(encodeURIComponent).join('/')}`;
      await client.send(new CopyObjectCommand({ Bucket: bucket, Key: objectKey(to), CopySource: copySource, MetadataDirective: 'COPY' }));
    } catch (err) {
      throw toBlobError(err, from);
    }
    const copied = await stat(to);
    if (!copied) throw permanent('internal', 'the object vanished right after it was written', { key: to });
    return copied;
  }

  async function list(listPrefix: string): Promise<BlobInfo[]> {
    assertBlobPrefix(listPrefix);
    const found: BlobInfo[] = [];
    let token: string | undefined;
    try {
      do {
        const page = await client.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: objectKey(listPrefix), ContinuationToken: token, MaxKeys: config.listPageSize ?? 1000 }),
        );
        for (const item of page.Contents ?? []) {
          if (item.Key === undefined) continue;
          found.push({ key: item.Key.slice(prefix.length), sizeBytes: item.Size ?? 0, contentType: undefined, modifiedAt: item.LastModified?.getTime() ?? clock.now() });
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    } catch (err) {
      throw toBlobError(err);
    }
    // S3 already lists in this order; some compatible servers do not.
    return found.sort((a, b) => compareKeys(a.key, b.key));
  }

  async function sign(command: PutObjectCommand | GetObjectCommand, options: SignedUrlOptions): Promise<{ url: string; expiresAt: number }> {
    assertExpiresIn(options.expiresInSeconds);
    // SigV4 dates have whole seconds; the URL stops working expiresIn seconds after that date.
    const signedAt = Math.floor(clock.now() / 1000) * 1000;
    const url = await getSignedUrl(signer, command, {
      expiresIn: options.expiresInSeconds,
      signingDate: new Date(signedAt),
      // The presigner leaves Content-Type unsigned by default, letting a client upload any type;
      // signing it makes S3 hold the client to it, as our disk URLs do.
      signableHeaders: new Set(['content-type']),
    });
    return { url, expiresAt: signedAt + options.expiresInSeconds * 1000 };
  }

  return {
    name: 's3',
    capabilities: { urlTarget: 'object-store' },
    put,
    async get(key, range) {
      return (await getObject(key, range)).body;
    },
    stat,
    async delete(key) {
      assertBlobKey(key);
      try {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: objectKey(key) }));
      } catch (err) {
        const mapped = toBlobError(err, key);
        if ((mapped as { code?: string }).code !== 'not_found') throw mapped;
      }
    },
    copy,
    list,
    async download(key, filePath) {
      const { body, info } = await getObject(key);
      const sizeBytes = await writeFileAtomically(body, filePath);
      return { ...info, sizeBytes };
    },
    async signUpload(key, options) {
      assertBlobKey(key);
      const contentType = options.contentType ?? DEFAULT_CONTENT_TYPE;
      const { url, expiresAt } = await sign(new PutObjectCommand({ Bucket: bucket, Key: objectKey(key), ContentType: contentType }), options);
      return { url, method: 'PUT', expiresAt, headers: { 'content-type': contentType } };
    },
    async signDownload(key, options) {
      assertBlobKey(key);
      const disposition = options.downloadName === undefined ? undefined : attachment(options.downloadName);
      const { url, expiresAt } = await sign(new GetObjectCommand({ Bucket: bucket, Key: objectKey(key), ResponseContentDisposition: disposition }), options);
      return { url, method: 'GET', expiresAt, headers: {} };
    },
    async close() {
      // Ends the keep-alive sockets, which would otherwise hold the process open.
      client.destroy();
      if (signer !== client) signer.destroy();
    },
  };
}

function clientConfig(config: S3BlobStoreConfig, endpoint: string | undefined): S3ClientConfig {
  return {
    region: config.region,
    forcePathStyle: config.forcePathStyle,
    ...(endpoint !== undefined ? { endpoint } : {}),
    ...(config.accessKeyId !== undefined && config.secretAccessKey !== undefined
      ? { credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey } }
      : {}),
    // Since SDK 3.729 the default sends streamed bodies as aws-chunked with a CRC trailer and puts a
    // checksum of an empty body into presigned PUT URLs; many S3-compatible servers (s3rver, older
    // MinIO, Ceph) store the chunk framing as data or refuse the upload. Checksums only where required.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  };
}

/** Content-Disposition for a download name: ASCII fallback plus the RFC 5987 UTF-8 form. */
function attachment(fileName: string): string {
  const ascii = fileName.replace(/[^\x20-\x7e]|["\\]/g, '_');
  const utf8 = encodeURIComponent(fileName).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${utf8}`;
}
