/**
 * The BlobStore contract: one suite, run against every adapter (disk, and S3 through s3rver). It checks
 * what a user of the port relies on, through the port only; adapter-specific knobs live in the harness.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createDiskBlobStore, type DiskBlobStore } from '../../src/adapters/blobs/disk/disk-blob-store.js';
import { createS3BlobStore } from '../../src/adapters/blobs/s3/s3-blob-store.js';
import { EarshotError } from '../../src/core/errors.js';
import type { BlobStore } from '../../src/ports/blob-store.js';
import { startS3Server } from '../support/s3-server.js';

/**
 * Real time, which the test can shift: the S3 server checks expiry against its own (real) clock,
 * so a frozen fake clock would make URLs expire when a slow run passes 60 s.
 */
class OffsetClock {
  private offsetMs = 0;
  now(): number {
    return Date.now() + this.offsetMs;
  }
  set(ms: number): void {
    this.offsetMs = ms - Date.now();
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}

const MiB = 1024 * 1024;

interface BlobStoreHarness {
  store: BlobStore;
  /** Signs URLs (and, where urlTarget is 'api', checks them); starts at the real time. */
  clock: OffsetClock;
  /** False for a server that accepts any SigV4 signature (s3rver); tamper tests are then skipped. */
  verifiesSignatures: boolean;
  /** Temp or orphaned files a failed write left behind, where the adapter has files to look at. */
  strayFiles?: () => Promise<string[]>;
  close(): Promise<void>;
}

function blobStoreContract(name: string, setup: () => Promise<BlobStoreHarness>): void {
  describe(`BlobStore contract: ${name}`, () => {
    let h: BlobStoreHarness;
    let store: BlobStore;
    let scratchDir: string;

    before(async () => {
      h = await setup();
      store = h.store;
      scratchDir = await mkdtemp(join(tmpdir(), 'earshot-blob-contract-'));
    });
    after(async () => {
      await h?.close();
      if (scratchDir) await rm(scratchDir, { recursive: true, force: true });
    });

    it('returns the bytes it was given, from a Buffer and from a stream', async () => {
      const bytes = randomBytes(100_000);
      const info = await store.put('round-trip/a.bin', bytes);
      assert.equal(info.key, 'round-trip/a.bin');
      assert.equal(info.sizeBytes, bytes.length);
      assert.deepEqual(await readAll(await store.get('round-trip/a.bin')), bytes);

      await store.put('round-trip/b.txt', Readable.from([Buffer.from('hello '), Buffer.from('world')]));
      assert.equal((await readAll(await store.get('round-trip/b.txt'))).toString(), 'hello world');
    });

    it('replaces an object on overwrite, bytes and content type', async () => {
      await store.put('overwrite/x', Buffer.from('first version, longer'), { contentType: 'text/plain' });
      await store.put('overwrite/x', Buffer.from('second'), { contentType: 'application/json' });
      assert.equal((await readAll(await store.get('overwrite/x'))).toString(), 'second');
      const info = await store.stat('overwrite/x');
      assert.equal(info?.sizeBytes, 6);
      assert.equal(info?.contentType, 'application/json');
    });

    it('stats size, content type and time, defaults the type, and answers undefined when missing', async () => {
      const before = Date.now();
      await store.put('stat/typed.wav', Buffer.alloc(1234), { contentType: 'audio/wav' });
      const typed = await store.stat('stat/typed.wav');
      assert.equal(typed?.key, 'stat/typed.wav');
      assert.equal(typed?.sizeBytes, 1234);
      assert.equal(typed?.contentType, 'audio/wav');
      assert.ok(typed && typed.modifiedAt > before - 5_000 && typed.modifiedAt < Date.now() + 5_000, 'modifiedAt is about now');

      await store.put('stat/untyped', Buffer.from('x'));
      assert.equal((await store.stat('stat/untyped'))?.contentType, 'application/octet-stream');
      assert.equal(await store.stat('stat/missing'), undefined);
    });

    it('reads byte ranges: first bytes, middle, open-ended, clamped end', async () => {
      await store.put('range/r.txt', Buffer.from('0123456789abcdef'));
      const read = async (start: number, end?: number): Promise<string> =>
        (await readAll(await store.get('range/r.txt', end === undefined ? { start } : { start, end }))).toString();
      assert.equal(await read(0, 3), '0123');
      assert.equal(await read(5, 9), '56789');
      assert.equal(await read(10), 'abcdef');
      assert.equal(await read(12, 100), 'cdef');
      await rejectsWithCode(store.get('range/r.txt', { start: 16 }), 'bad_request');
      await rejectsWithCode(store.get('range/r.txt', { start: 5, end: 4 }), 'bad_request');
      await rejectsWithCode(store.get('range/r.txt', { start: -1 }), 'bad_request');
    });

    it('lists by string prefix, in key order, across pages', async () => {
      const keys = ['ls/b/2.txt', 'ls/a.txt', 'ls/c.txt', 'ls/b/1.txt', 'ls/bz.txt', 'lsx/other.txt'];
      for (const [i, key] of keys.entries()) await store.put(key, Buffer.alloc(i + 1));
      const listed = await store.list('ls/');
      assert.deepEqual(listed.map((b) => b.key), ['ls/a.txt', 'ls/b/1.txt', 'ls/b/2.txt', 'ls/bz.txt', 'ls/c.txt']);
      assert.equal(listed.find((b) => b.key === 'ls/bz.txt')?.sizeBytes, 5);
      assert.deepEqual((await store.list('ls/b')).map((b) => b.key), ['ls/b/1.txt', 'ls/b/2.txt', 'ls/bz.txt']);
      assert.deepEqual((await store.list('ls/b/')).map((b) => b.key), ['ls/b/1.txt', 'ls/b/2.txt']);
      assert.deepEqual(await store.list('nothing-here/'), []);
      assert.ok((await store.list('')).some((b) => b.key === 'lsx/other.txt'), "'' lists everything");
    });

    it('deletes, and deleting a missing key is fine', async () => {
      await store.put('delete/me', Buffer.from('bye'));
      await store.delete('delete/me');
      assert.equal(await store.stat('delete/me'), undefined);
      await rejectsWithCode(store.get('delete/me'), 'not_found');
      await store.delete('delete/me');
      await store.delete('delete/never-existed');
    });

    it('copies an object to another key, bytes and content type, replacing what was there', async () => {
      const bytes = randomBytes(50_000);
      await store.put('copy/from dir/a.bin', bytes, { contentType: 'audio/wav' });
      await store.put('copy/to.bin', Buffer.from('old'), { contentType: 'text/plain' });
      const info = await store.copy('copy/from dir/a.bin', 'copy/to.bin');
      assert.equal(info.key, 'copy/to.bin');
      assert.equal(info.sizeBytes, bytes.length);
      assert.equal((await store.stat('copy/to.bin'))?.contentType, 'audio/wav');
      assert.deepEqual(await readAll(await store.get('copy/to.bin')), bytes);
      // The copy stands on its own: changing the original changes nothing in it.
      await store.put('copy/from dir/a.bin', Buffer.from('changed'));
      assert.deepEqual(await readAll(await store.get('copy/to.bin')), bytes);
      await rejectsWithCode(store.copy('copy/missing', 'copy/to.bin'), 'not_found');
      assert.deepEqual(await readAll(await store.get('copy/to.bin')), bytes);
    });

    it('answers not_found for a missing key', async () => {
      await rejectsWithCode(store.get('missing/nope'), 'not_found');
      await rejectsWithCode(store.get('missing/nope', { start: 0, end: 1 }), 'not_found');
      await rejectsWithCode(store.download('missing/nope', join(scratchDir, 'nope')), 'not_found');
    });

    it('refuses keys that could escape or collide, with bad_request', async () => {
      const bad = ['', '../x', 'a/../../x', '/abs', 'a\\b', 'a\0b', 'a//b', 'a/', 'a/./b', '.meta/x', 'a/.hidden', 'x'.repeat(1025)];
      for (const key of bad) {
        await rejectsWithCode(store.put(key, Buffer.from('x')), 'bad_request', key);
        await rejectsWithCode(store.get(key), 'bad_request', key);
        await rejectsWithCode(store.stat(key), 'bad_request', key);
        await rejectsWithCode(store.delete(key), 'bad_request', key);
        await rejectsWithCode(store.signUpload(key, { expiresInSeconds: 60 }), 'bad_request', key);
      }
      await rejectsWithCode(store.list('../'), 'bad_request');
    });

    it('refuses a body over maxBytes with payload_too_large and leaves nothing behind', async () => {
      await rejectsWithCode(store.put('limit/stream', generated(64 * 1024).stream, { maxBytes: 1000 }), 'payload_too_large');
      assert.equal(await store.stat('limit/stream'), undefined);
      await rejectsWithCode(store.put('limit/buffer', Buffer.alloc(1001), { maxBytes: 1000 }), 'payload_too_large');
      assert.equal(await store.stat('limit/buffer'), undefined);
      await store.put('limit/exact', Buffer.alloc(1000), { maxBytes: 1000 });

      // Past the first multipart part on S3, so an upload is in flight when the limit hits.
      await rejectsWithCode(store.put('limit/big', generated(12 * MiB).stream, { maxBytes: 9 * MiB }), 'payload_too_large');
      assert.equal(await store.stat('limit/big'), undefined);

      // A refused overwrite keeps the old object, content type included.
      await store.put('limit/keep', Buffer.from('old'), { contentType: 'text/plain' });
      await rejectsWithCode(store.put('limit/keep', generated(4096).stream, { maxBytes: 100, contentType: 'audio/wav' }), 'payload_too_large');
      assert.equal((await readAll(await store.get('limit/keep'))).toString(), 'old');
      assert.equal((await store.stat('limit/keep'))?.contentType, 'text/plain');

      assert.deepEqual((await store.list('limit/')).map((b) => b.key), ['limit/exact', 'limit/keep']);
      if (h.strayFiles) assert.deepEqual(await h.strayFiles(), []);
    });

    it('downloads to a local file, whole and without temp files', async () => {
      const bytes = randomBytes(300_000);
      await store.put('download/in.bin', bytes, { contentType: 'audio/mpeg' });
      const dir = join(scratchDir, 'download');
      const filePath = join(dir, 'out.bin');
      const info = await store.download('download/in.bin', filePath);
      assert.equal(info.sizeBytes, bytes.length);
      assert.equal(info.contentType, 'audio/mpeg');
      assert.deepEqual(await readFile(filePath), bytes);
      assert.deepEqual(await readdir(dir), ['out.bin']);
    });

    it('streams 64 MiB in and out with memory that stays flat', { timeout: 180_000 }, async (t) => {
      const size = 64 * MiB;
      const source = generated(size);
      const gc = exposeGc();
      gc();
      const baseline = process.memoryUsage.rss();
      let peak = baseline;
      // Collecting as we go: garbage the GC has not got to yet (V8 lets ~64 MiB of dead Buffers pile
      // up) is not memory the adapter holds, and would make the number noise.
      const sampler = setInterval(() => {
        gc();
        peak = Math.max(peak, process.memoryUsage.rss());
      }, 25);
      try {
        const info = await store.put('big/64mib.bin', source.stream, { contentType: 'application/octet-stream' });
        assert.equal(info.sizeBytes, size);
      } finally {
        clearInterval(sampler);
      }
      const growth = peak - baseline;
      t.diagnostic(`RSS grew by ${(growth / MiB).toFixed(1)} MiB while streaming 64 MiB`);
      // Buffering the body would grow RSS by at least its 64 MiB.
      assert.ok(growth < 32 * MiB, `RSS grew by ${(growth / MiB).toFixed(1)} MiB while streaming 64 MiB`);

      const hash = createHash('sha256');
      for await (const chunk of await store.get('big/64mib.bin')) hash.update(chunk as Buffer);
      assert.equal(hash.digest('hex'), source.sha256());
    });

    it('accepts an upload to a signed URL with a real HTTP PUT', async () => {
      const signed = await store.signUpload('signed/up.txt', { expiresInSeconds: 60, contentType: 'text/plain' });
      assert.equal(signed.method, 'PUT');
      assert.equal(signed.headers['content-type'], 'text/plain');
      assert.ok(Math.abs(signed.expiresAt - (h.clock.now() + 60_000)) <= 1_000);
      const res = await fetch(signed.url, { method: 'PUT', headers: signed.headers, body: Buffer.from('uploaded by a client') });
      assert.ok(res.ok, `PUT answered ${res.status}: ${await res.text()}`);
      assert.equal((await readAll(await store.get('signed/up.txt'))).toString(), 'uploaded by a client');
      assert.equal((await store.stat('signed/up.txt'))?.contentType, 'text/plain');
    });

    it('serves a signed download URL before it expires and refuses it after', async () => {
      await store.put('signed/down.txt', Buffer.from('for your eyes'));
      const signed = await store.signDownload('signed/down.txt', { expiresInSeconds: 60, downloadName: 'résumé "final".txt' });
      const res = await fetch(signed.url);
      assert.equal(res.status, 200, await res.clone().text());
      assert.equal(await res.text(), 'for your eyes');
      assert.match(res.headers.get('content-disposition') ?? '', /filename\*=UTF-8''r%C3%A9sum%C3%A9/);

      // Signed two minutes ago for one minute: expired by the store's (s3rver) or our (disk) real time.
      const now = h.clock.now();
      h.clock.set(now - 120_000);
      const stale = await store.signDownload('signed/down.txt', { expiresInSeconds: 60 });
      h.clock.set(now);
      await assertRefused(await fetch(stale.url), /expired/i);

      if (store.capabilities.urlTarget === 'api') {
        // Our API checks with the injected clock, so the URL that worked above now stops working.
        h.clock.advance(61_000);
        await assertRefused(await fetch(signed.url), /expired/i);
        h.clock.set(now);
      }
    });

    it('refuses a tampered signed URL', async (t) => {
      if (!h.verifiesSignatures) {
        t.skip('this server does not check SigV4 signatures (s3rver); run the suite against MinIO or S3 to cover it');
        return;
      }
      await store.put('signed/tamper.txt', Buffer.from('secret'));
      const down = await store.signDownload('signed/tamper.txt', { expiresInSeconds: 60 });
      await assertRefused(await fetch(tamperSignature(down.url)));
      await assertRefused(await fetch(tamperExpiry(down.url)));
      await assertRefused(await fetch(down.url.replace('tamper.txt', 'other.txt')));

      const up = await store.signUpload('signed/tamper-up.txt', { expiresInSeconds: 60, contentType: 'text/plain' });
      await assertRefused(await fetch(up.url, { method: 'PUT', headers: { 'content-type': 'text/html' }, body: '<script>' }));
      await assertRefused(await fetch(down.url, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: 'overwrite' }));
      assert.equal(await store.stat('signed/tamper-up.txt'), undefined);
      assert.equal((await readAll(await store.get('signed/tamper.txt'))).toString(), 'secret');
    });
  });
}

blobStoreContract('disk', async () => {
  const rootDir = await mkdtemp(join(tmpdir(), 'earshot-disk-blobs-'));
  const clock = new OffsetClock();
  const route = await startSignedUrlRoute();
  const store = createDiskBlobStore({ rootDir, publicBaseUrl: route.baseUrl, signingSecret: randomBytes(32).toString('hex'), clock });
  route.serve(store);
  return {
    store,
    clock,
    verifiesSignatures: true,
    strayFiles: () => diskStrayFiles(rootDir),
    async close() {
      await store.close();
      await route.close();
      await rm(rootDir, { recursive: true, force: true });
    },
  };
});

blobStoreContract('s3 (s3rver)', async () => {
  const s3 = await startS3Server();
  const clock = new OffsetClock();
  const store = createS3BlobStore({
    bucket: s3.bucket,
    prefix: `contract-${randomBytes(4).toString('hex')}`,
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
    clock,
    listPageSize: 2, // so listing crosses pages
  });
  return {
    store,
    clock,
    verifiesSignatures: false,
    async close() {
      await store.close();
      await s3.stop();
    },
  };
});

/**
 * Just enough of the future `/v1/blobs/*` route to exercise disk signed URLs: verify with the adapter,
 * then put or get. Refusals answer 403 with the reason, so tests can tell expired from invalid.
 */
async function startSignedUrlRoute(): Promise<{ baseUrl: string; serve(store: DiskBlobStore): void; close(): Promise<void> }> {
  let store: DiskBlobStore | undefined;
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (!store || !url.pathname.startsWith('/v1/blobs/')) return void res.writeHead(404).end();
    try {
      const key = url.pathname.slice('/v1/blobs/'.length).split('/').map(decodeURIComponent).join('/');
      const grant = store.verifySignedUrl({ method: req.method ?? 'GET', key, query: Object.fromEntries(url.searchParams), contentType: req.headers['content-type'] });
      if (grant.op === 'put') {
        await store.put(grant.key, req, grant.contentType !== undefined ? { contentType: grant.contentType } : {});
        res.writeHead(200).end();
      } else {
        const body = await store.get(grant.key);
        const disposition = grant.downloadName === undefined ? {} : { 'content-disposition': `attachment; filename*=UTF-8''${encodeURIComponent(grant.downloadName)}` };
        res.writeHead(200, disposition);
        await pipeline(body, res);
      }
    } catch (err) {
      const e = err instanceof EarshotError ? err : new EarshotError('internal', String(err));
      const status = e.code === 'unauthorized' ? 403 : e.code === 'not_found' ? 404 : 500;
      if (!res.headersSent) res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ code: e.code, reason: e.details?.['reason'] }));
    }
  };
  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    serve: (s) => void (store = s),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** Temp files, and content-type sidecars whose object does not exist. */
async function diskStrayFiles(rootDir: string): Promise<string[]> {
  const files = (await readdir(rootDir, { recursive: true })).map(String);
  const stray: string[] = [];
  for (const file of files) {
    if (file.endsWith('.tmp')) stray.push(file);
    else if (file.startsWith(`.meta/`) && file.endsWith('.json')) {
      const exists = await stat(join(rootDir, file.slice('.meta/'.length, -'.json'.length))).then(() => true, () => false);
      if (!exists) stray.push(file);
    }
  }
  return stray;
}

/** A full GC on demand, without needing --expose-gc on the test command line. */
function exposeGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** A stream of `sizeBytes` made on the fly (no fixture), with the SHA-256 of what it produced. */
function generated(sizeBytes: number, chunkBytes = 64 * 1024): { stream: Readable; sha256(): string } {
  const hash = createHash('sha256');
  async function* chunks(): AsyncGenerator<Buffer> {
    for (let offset = 0, i = 0; offset < sizeBytes; offset += chunkBytes, i++) {
      const chunk = Buffer.alloc(Math.min(chunkBytes, sizeBytes - offset), i % 251);
      hash.update(chunk);
      yield chunk;
    }
  }
  return { stream: Readable.from(chunks()), sha256: () => hash.digest('hex') };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function rejectsWithCode(promise: Promise<unknown>, code: string, label?: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof EarshotError, `${label ?? ''}: expected an EarshotError, got ${String(err)}`);
    assert.equal(err.code, code, label);
    return true;
  });
}

/** 403 from both our API and S3; the body names the reason. */
async function assertRefused(res: Response, reason?: RegExp): Promise<void> {
  const body = await res.text();
  assert.equal(res.status, 403, body);
  if (reason) assert.match(body, reason);
}

/** Flips one character of the signature, whichever scheme signed the URL. */
function tamperSignature(url: string): string {
  const u = new URL(url);
  const param = u.searchParams.has('sig') ? 'sig' : 'X-Amz-Signature';
  const sig = u.searchParams.get(param) ?? '';
  u.searchParams.set(param, (sig[0] === 'a' ? 'b' : 'a') + sig.slice(1));
  return u.toString();
}

/** Stretches the expiry without re-signing. */
function tamperExpiry(url: string): string {
  const u = new URL(url);
  const param = u.searchParams.has('expires') ? 'expires' : 'X-Amz-Expires';
  u.searchParams.set(param, String(Number(u.searchParams.get(param)) + 3600));
  return u.toString();
}
