/**
 * `earshot models` as an operator runs it, against a local file server standing in for Hugging Face:
 * pull with a pinned checksum, resume after a dropped connection, refuse a wrong checksum and a
 * missing file, and list what is there.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startFileServer, type FileServer } from '../support/file-server.js';

const BIN = resolve(import.meta.dirname, '../../bin/earshot.js');
const payload = randomBytes(2 * 1024 * 1024 + 5);
const sha256 = createHash('sha256').update(payload).digest('hex');

/** Runs the CLI without blocking this process, which serves the files. */
function earshot(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, EARSHOT_MODEL_BASE_URL: 'http://127.0.0.1:9/nowhere' } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.once('error', reject);
    child.once('close', (status) => resolvePromise({ status, stdout, stderr }));
  });
}

describe('earshot models', () => {
  let server: FileServer;
  const dir = mkdtempSync(join(tmpdir(), 'earshot-models-cli-'));
  const modelsDir = join(dir, 'models');
  const pull = (name: string, ...extra: string[]) => earshot(['models', 'pull', name, '--models-dir', modelsDir, '--base-url', server.url, ...extra]);

  before(async () => {
    server = await startFileServer({ '/ggml-base-q5_1.bin': payload, '/ggml-small-q5_1.bin': payload, '/ggml-base.en-q5_1.bin': payload });
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('pulls a model checked against a pinned SHA-256, then finds it there', async () => {
    const r = await pull('base-q5_1', '--sha256', sha256);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), join(modelsDir, 'ggml-base-q5_1.bin'));
    assert.match(r.stderr, /done: 2\.0 MiB, sha256 checked/);
    assert.ok(readFileSync(join(modelsDir, 'ggml-base-q5_1.bin')).equals(payload));

    const requests = server.requests.length;
    const again = await pull('base-q5_1');
    assert.equal(again.status, 0);
    assert.match(again.stderr, /already in/);
    assert.equal(server.requests.length, requests);

    const list = await earshot(['models', 'list', '--models-dir', modelsDir]);
    assert.equal(list.status, 0);
    assert.match(list.stdout, /^base-q5_1 .* none +yes \(2\.0 MiB\)$/m);
    assert.match(list.stdout, /^base\.en .* sha1 +-$/m);
  });

  it('resumes by itself after the server drops the connection, and warns when no checksum is known', async () => {
    server.cutAfter(700_000);
    const before = server.requests.length;
    const r = await pull('small-q5_1');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /no checksum is published/);
    assert.match(r.stderr, /broke off after \d+ of \d+ bytes; try 2 in 1 s, resuming/);
    assert.match(r.stderr, new RegExp(`done: 2\\.0 MiB, resumed, sha256 ${sha256}`));
    const ranges = server.requests.slice(before).map((q) => q.range);
    assert.equal(ranges.length, 2);
    assert.match(ranges[1]!, /^bytes=\d+-$/);
    assert.ok(readFileSync(join(modelsDir, 'ggml-small-q5_1.bin')).equals(payload));
  });

  it('refuses a wrong checksum and leaves nothing behind', async () => {
    const r = await pull('base.en-q5_1', '--sha256', '0'.repeat(64));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /sha256 is not the expected one/);
    assert.equal(existsSync(join(modelsDir, 'ggml-base.en-q5_1.bin')), false);
    assert.equal(existsSync(join(modelsDir, 'ggml-base.en-q5_1.bin.part')), false);
  });

  it('fails clearly on a model the server does not have and on an unknown name', async () => {
    const missing = await pull('medium-q5_0');
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /404/);
    const unknown = await pull('gigantic');
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /no model "gigantic"/);
  });
});
