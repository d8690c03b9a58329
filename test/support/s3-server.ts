/** A real S3-protocol server (s3rver, in this process) for tests: random port, temp folder, one bucket. */
import crypto from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The part of s3rver (untyped CommonJS) we use. */
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  httpServer?: Server;
}
type S3rverConstructor = new (options: {
  address: string;
  port: number;
  directory: string;
  silent: boolean;
  configureBuckets: Array<{ name: string }>;
}) => S3rverInstance;

export interface TestS3Server {
  endpoint: string;
  bucket: string;
  /** s3rver only accepts continuation tokens for this region. */
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  stop(): Promise<void>;
}

export async function startS3Server(bucket = 'earshot-test'): Promise<TestS3Server> {
  allowSingleDes();
  const S3rver = createRequire(import.meta.url)('s3rver') as S3rverConstructor;
  const directory = await mkdtemp(join(tmpdir(), 'earshot-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true, configureBuckets: [{ name: bucket }] });
  const address = await server.run();
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    bucket,
    region: 'us-east-1',
    accessKeyId: 'S3RVER', // s3rver's built-in account
    secretAccessKey: 'S3RVER',
    async stop() {
      const closed = server.close();
      // close() waits for keep-alive sockets (ours and fetch's) to go idle; end them now.
      server.httpServer?.closeAllConnections();
      await closed;
      await rm(directory, { recursive: true, force: true });
    },
  };
}

let desShimmed = false;

/**
 * s3rver builds ListObjectsV2 continuation tokens with single DES, which OpenSSL 3 (Node 17+) no
 * longer offers, so every listing that needs a second page fails with a 500. Triple DES with one key
 * repeated three times is single DES, token for token, and OpenSSL 3 still has it. Test processes only.
 */
function allowSingleDes(): void {
  if (desShimmed) return;
  desShimmed = true;
  const triple = (key: crypto.CipherKey): Buffer => {
    const k = Buffer.from(key as Uint8Array);
    return Buffer.concat([k, k, k]);
  };
  const { createCipheriv, createDecipheriv } = crypto;
  const patched = crypto as unknown as Record<'createCipheriv' | 'createDecipheriv', (...args: unknown[]) => unknown>;
  patched.createCipheriv = (algorithm: unknown, key: unknown, ...rest: unknown[]) =>
    algorithm === 'des'
      ? createCipheriv('des-ede3-cbc', triple(key as crypto.CipherKey), rest[0] as crypto.BinaryLike)
      : (createCipheriv as (...args: unknown[]) => unknown)(algorithm, key, ...rest);
  patched.createDecipheriv = (algorithm: unknown, key: unknown, ...rest: unknown[]) =>
    algorithm === 'des'
      ? createDecipheriv('des-ede3-cbc', triple(key as crypto.CipherKey), rest[0] as crypto.BinaryLike)
      : (createDecipheriv as (...args: unknown[]) => unknown)(algorithm, key, ...rest);
}
