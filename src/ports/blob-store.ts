/**
 * BlobStore: where uploads, intermediate media and results live (local disk or S3-compatible).
 * It owns bytes and their keys, and hands out expiring URLs that let a client upload or download
 * without passing the bytes through the API. It knows nothing of tenants or jobs: callers build keys
 * (`tenants/{tenant}/jobs/{job}/...`). It carries no credentials type; adapters take their own config.
 */
import type { Readable } from 'node:stream';

export interface BlobInfo {
  key: string;
  sizeBytes: number;
  contentType: string | undefined;
  /** Last modification, ms since the epoch. */
  modifiedAt: number;
}

export interface ByteRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive; to the end when absent or past the end. */
  end?: number;
}

export interface PutOptions {
  /** Default `application/octet-stream`, so every object we write has one. */
  contentType?: string;
  /** Refuse (error code `payload_too_large`) and leave nothing behind once more bytes than this arrive. */
  maxBytes?: number;
}

export interface SignedUrlOptions {
  /** How long the URL works. */
  expiresInSeconds: number;
  /** For uploads: the content type the client must send; default `application/octet-stream`. */
  contentType?: string;
  /** For downloads: suggest a file name to the browser. */
  downloadName?: string;
}

export interface SignedUrl {
  url: string;
  method: 'GET' | 'PUT';
  /** ms since the epoch. */
  expiresAt: number;
  /** Headers the client must send with the request. */
  headers: Record<string, string>;
}

export interface BlobStoreCapabilities {
  /**
   * 'api': signed URLs point at our own API (`/v1/blobs/...`), which must check them with
   * `verifySignedUrl` and serve the bytes itself (disk). 'object-store': they point at the store (S3).
   */
  urlTarget: 'api' | 'object-store';
}

/** What the HTTP layer hands `verifySignedUrl`: the request as it arrived at `/v1/blobs/<key>`. */
export interface SignedUrlRequest {
  /** The request's HTTP method. */
  method: string;
  /** The key, decoded from the path after `/v1/blobs/`. */
  key: string;
  /** The query string's parameters, as they arrived. */
  query: Record<string, string | undefined>;
  /** The request's Content-Type header; an upload must send the one it was signed for. */
  contentType?: string | undefined;
}

/** What a valid signed URL allows. */
export interface SignedUrlGrant {
  op: 'get' | 'put';
  key: string;
  /** For uploads: the content type to store. */
  contentType?: string;
  /** For downloads: the file name for Content-Disposition. */
  downloadName?: string;
}

/**
 * Keys are `/`-separated segments, none empty or starting with `.`, with no control characters or
 * backslashes, at most 1,024 bytes; every adapter refuses anything else with `bad_request`, so a key
 * that works on one adapter works on all.
 */
export interface BlobStore {
  readonly name: string;
  readonly capabilities: BlobStoreCapabilities;
  /**
   * Streams `body` to `key`; readers never see a half-written object, and a failed put leaves the
   * previous object (or none) in place. A failure while streaming destroys `body`, so an HTTP layer should refuse
   * an oversized Content-Length before calling this if it wants to answer 413 on a live connection.
   */
  put(key: string, body: Readable | Buffer, options?: PutOptions): Promise<BlobInfo>;
  /** Streams an object, or a byte range of it. Throws `not_found`; a range starting past the end is `bad_request`. */
  get(key: string, range?: ByteRange): Promise<Readable>;
  /** Metadata, or undefined when there is no such object. */
  stat(key: string): Promise<BlobInfo | undefined>;
  /** Removes an object; removing a missing one is not an error. */
  delete(key: string): Promise<void>;
  /**
   * Copies the object at `from` to `to` (inside the store where it can: S3 copies server-side), bytes
   * and content type; replaces what `to` held, atomically as `put` does. Throws `not_found`.
   */
  copy(from: string, to: string): Promise<BlobInfo>;
  /**
   * Objects whose key starts with `prefix` (a plain string prefix, not a folder), in UTF-8 byte
   * order. `contentType` is left undefined: S3 listings do not carry it; use `stat`.
   */
  list(prefix: string): Promise<BlobInfo[]>;
  /** Copies an object to a local file (ffmpeg is never handed a URL); the file appears whole or not at all. */
  download(key: string, filePath: string): Promise<BlobInfo>;
  /** An expiring URL the client can PUT the bytes to. */
  signUpload(key: string, options: SignedUrlOptions): Promise<SignedUrl>;
  /** An expiring URL the client can GET the object from. */
  signDownload(key: string, options: SignedUrlOptions): Promise<SignedUrl>;
  /**
   * Present when `capabilities.urlTarget` is 'api': checks a request made to one of our signed URLs
   * and says what it allows. Throws `unauthorized` (details.reason: 'malformed' | 'invalid' |
   * 'expired') for anything else, so a caller cannot forget to look at the answer.
   */
  verifySignedUrl?(request: SignedUrlRequest): SignedUrlGrant;
  close(): Promise<void>;
}
