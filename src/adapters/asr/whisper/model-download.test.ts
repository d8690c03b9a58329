import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { startFileServer, type FileServer } from '../../../../test/support/file-server.js';
import { EarshotError } from '../../../core/errors.js';
import { findModel, modelUrl, resolveModelPath } from './model-catalog.js';
import { downloadFile, parseContentRange } from './model-download.js';

const payload = randomBytes(3 * 1024 * 1024 + 17);
const sha1 = createHash('sha1').update(payload).digest('hex');
const sha256 = createHash('sha256').update(payload).digest('hex');
const code = (c: string, retryable: boolean) => (err: unknown) => err instanceof EarshotError && err.code === c && err.retryable === retryable;

describe('model download', () => {
  let server: FileServer;
  let dir: string;
  let dest: string;
  const dirs: string[] = [];
  const url = () => `${server.url}/ggml-test.bin`;

  before(async () => {
    server = await startFileServer({ '/ggml-test.bin': payload });
  });
  after(async () => {
    await server.close();
  });
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'earshot-download-test-'));
    dirs.push(dir);
    dest = join(dir, 'models', 'ggml-test.bin');
    server.requests.length = 0;
    server.ignoreRange = false;
    server.cutAfter(0, 0);
  });
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('downloads, checks size and checksum, and renames into place, reporting progress', async () => {
    const seen: Array<[number, number | undefined]> = [];
    const r = await downloadFile({ url: url(), dest, expectedBytes: payload.length, checksum: { algorithm: 'sha1', hex: sha1 }, onProgress: (a, b) => seen.push([a, b]) });
    assert.deepEqual(r, { path: dest, bytes: payload.length, sha1, sha256, resumed: false });
    assert.ok((await readFile(dest)).equals(payload));
    assert.equal(existsSync(`${dest}.part`), false);
    assert.deepEqual(seen[0], [0, payload.length]);
    assert.deepEqual(seen.at(-1), [payload.length, payload.length]);
  });

  it('resumes with a Range request after the connection dropped midway', async () => {
    server.cutAfter(1024 * 1024);
    await assert.rejects(downloadFile({ url: url(), dest, attempts: 1, checksum: { algorithm: 'sha256', hex: sha256 } }), code('download_failed', true));
    const partBytes = (await stat(`${dest}.part`)).size;
    assert.ok(partBytes > 0 && partBytes < payload.length, `a part of ${partBytes} bytes is kept`);
    assert.equal(existsSync(dest), false);

    const r = await downloadFile({ url: url(), dest, checksum: { algorithm: 'sha256', hex: sha256 } });
    assert.equal(r.resumed, true);
    assert.equal(server.requests.at(-1)!.range, `bytes=${partBytes}-`);
    assert.ok((await readFile(dest)).equals(payload));
  });

  it('retries a dropped connection by itself, resuming each time', async () => {
    server.cutAfter(512 * 1024, 2);
    const r = await downloadFile({ url: url(), dest, retryDelayMs: 1, checksum: { algorithm: 'sha1', hex: sha1 } });
    assert.equal(r.sha1, sha1);
    // Each try resumes where the part ends: at most what the server sent before the cut (fetch may
    // drop the last chunks it had buffered when the connection broke).
    const [first, ...resumed] = server.requests.map((q) => q.range);
    assert.equal(first, undefined);
    const offsets = resumed.map((r) => Number(/^bytes=(\d+)-$/.exec(r ?? '')?.[1]));
    assert.equal(offsets.length, 2);
    assert.ok(offsets[0]! > 0 && offsets[0]! <= 512 * 1024, `resumed at ${offsets[0]}`);
    assert.ok(offsets[1]! > offsets[0]! && offsets[1]! <= offsets[0]! + 512 * 1024, `resumed at ${offsets[1]}`);
  });

  it('starts over when the server ignores Range, and finishes a part that is already whole', async () => {
    await mkdir(join(dir, 'models'));
    await writeFile(`${dest}.part`, payload.subarray(0, 1000));
    server.ignoreRange = true;
    const r = await downloadFile({ url: url(), dest, checksum: { algorithm: 'sha1', hex: sha1 } });
    assert.equal(r.resumed, false);
    assert.ok((await readFile(dest)).equals(payload));

    server.ignoreRange = false;
    const whole = join(dir, 'models', 'again.bin');
    await writeFile(`${whole}.part`, payload);
    const again = await downloadFile({ url: url(), dest: whole, checksum: { algorithm: 'sha1', hex: sha1 } });
    assert.equal(again.resumed, true);
    assert.equal(server.requests.at(-1)!.range, `bytes=${payload.length}-`);
  });

  it('deletes the part and fails with checksum_mismatch on a wrong checksum, without retrying', async () => {
    const wrong = '0'.repeat(40);
    await assert.rejects(downloadFile({ url: url(), dest, checksum: { algorithm: 'sha1', hex: wrong } }), (err: unknown) => {
      assert.ok(code('checksum_mismatch', false)(err));
      assert.deepEqual((err as EarshotError).details, { url: url(), algorithm: 'sha1', expected: wrong, actual: sha1 });
      return true;
    });
    assert.equal(existsSync(`${dest}.part`), false);
    assert.equal(existsSync(dest), false);
    assert.equal(server.requests.length, 1);
  });

  it('refuses a file of another size before downloading it', async () => {
    await assert.rejects(downloadFile({ url: url(), dest, expectedBytes: 10 }), code('size_mismatch', false));
    assert.equal(existsSync(`${dest}.part`), false);
  });

  it('fails with not_found on a 404, once', async () => {
    await assert.rejects(downloadFile({ url: `${server.url}/ggml-nothing.bin`, dest }), code('not_found', false));
    assert.equal(server.requests.length, 1);
  });

  it('stops on abort and keeps the part for later', async () => {
    server.cutAfter(0, 0);
    const controller = new AbortController();
    const call = downloadFile({
      url: url(),
      dest,
      signal: controller.signal,
      onProgress: (received) => {
        if (received > 0) controller.abort();
      },
    });
    await assert.rejects(call, { name: 'AbortError' });
    assert.equal(existsSync(dest), false);
  });

  it('parses Content-Range', () => {
    assert.deepEqual(parseContentRange('bytes 100-199/200'), { start: 100, total: 200 });
    assert.deepEqual(parseContentRange('bytes */200'), { start: undefined, total: 200 });
    assert.equal(parseContentRange('items 1-2/3'), undefined);
  });
});

describe('model catalog', () => {
  it('knows whisper.cpp models, their URLs and files', () => {
    const base = findModel('base.en')!;
    assert.equal(modelUrl(base), 'https://huggingface.co/ggerganov/whisper.cpp/resolve/main/ggml-base.en.bin');
    assert.equal(base.multilingual, false);
    assert.deepEqual(base.checksum, { algorithm: 'sha1', hex: '137c40403d78fd54d454da0f9bd998f78703390c' });
    assert.equal(findModel('base-q5_1')!.checksum, undefined);
    assert.equal(resolveModelPath('base.en', '/m'), '/m/ggml-base.en.bin');
    assert.equal(resolveModelPath('/x/ggml-custom.bin', '/m'), '/x/ggml-custom.bin');
  });
});
