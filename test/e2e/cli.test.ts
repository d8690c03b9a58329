/**
 * The CLI as an operator uses it: help, `serve` on the embedded default in a fresh data directory,
 * API keys, a job through the API, and a clean exit on SIGTERM.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import { encodeWav } from '../../src/core/wav.js';
import { wordErrorRate } from '../../src/core/wer.js';
import { SPEECH_DIR, hasSpeech } from '../support/speech.js';

const BIN = resolve(import.meta.dirname, '../../bin/earshot.js');
const dataDir = mkdtempSync(join(tmpdir(), 'earshot-cli-'));
const children: ChildProcess[] = [];

after(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

function earshot(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
}

/** Runs the CLI without blocking this process (for commands that talk to a server started here). */
function earshotAsync(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  return new Promise((r) => child.once('close', (status) => r({ status, stdout, stderr })));
}

/** Five seconds of a loud, wavering tone: audio the mock engine puts words on. */
function toneWav(file: string): string {
  const pcm = new Int16Array(16_000 * 5);
  for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 16_000) * (0.6 + 0.4 * Math.sin(i / 3000)));
  writeFileSync(file, encodeWav(pcm, 16_000));
  return file;
}

const stop = async (child: ChildProcess) => {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
};

/** Starts `earshot serve` and resolves with its URL once it logs that it listens. */
function serve(args: string[]): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--data-dir', dataDir, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return new Promise((resolvePromise, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === 'earshot is listening' && entry.url) resolvePromise({ url: entry.url, child });
      } catch {}
    });
    child.once('exit', (code) => reject(new Error(`serve exited early with ${code}`)));
  });
}

describe('earshot CLI', () => {
  it('prints help for the program and for each command', () => {
    const help = earshot(['--help']);
    assert.equal(help.status, 0);
    for (const c of ['serve', 'worker', 'migrate', 'keys', 'jobs']) assert.match(help.stdout, new RegExp(`\\b${c}\\b`));
    const serveHelp = earshot(['serve', '--help']);
    assert.equal(serveHelp.status, 0);
    assert.match(serveHelp.stdout, /--port <value>/);
    assert.match(serveHelp.stdout, /EARSHOT_PORT/);
    // Workers sign the links in notifications, so they take every storage setting the API takes.
    const workerHelp = earshot(['worker', '--help']);
    assert.equal(workerHelp.status, 0);
    for (const flag of ['--s3-endpoint', '--s3-public-endpoint', '--public-url', '--signing-secret']) assert.ok(workerHelp.stdout.includes(flag), `worker --help lacks ${flag}`);
  });

  it('refuses bad settings with a clear message and exit code 2', () => {
    const r = earshot(['serve', '--port', 'eighty', '--data-dir', dataDir]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /EARSHOT_PORT \/ --port: expected an integer/);
    assert.equal(earshot(['nonsense']).status, 2);
  });

  it('serves the embedded default, runs a job, and exits cleanly on SIGTERM', async () => {
    const { url, child } = await serve([]);
    const health = await fetch(`${url}/v1/health`);
    assert.equal(health.status, 200);
    const created = await fetch(`${url}/v1/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'diagnostics', input: { tasks: 3, sleep_ms: 10 } }),
    });
    assert.equal(created.status, 202);
    const { id } = (await created.json()) as { id: string };
    let job: { status: string } = { status: 'queued' };
    for (let i = 0; i < 100 && !['succeeded', 'failed'].includes(job.status); i++) {
      await new Promise((r) => setTimeout(r, 100));
      job = (await (await fetch(`${url}/v1/jobs/${id}`)).json()) as { status: string };
    }
    assert.equal(job.status, 'succeeded');
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  });

  it('creates API keys that the server then requires', async () => {
    const created = earshot(['keys', 'create', '--tenant', 'acme', '--name', 'ci', '--data-dir', dataDir]);
    assert.equal(created.status, 0, created.stderr);
    const key = created.stdout.trim();
    assert.match(key, /^es_/);
    assert.match(earshot(['keys', 'list', '--data-dir', dataDir]).stdout, /acme/);
    const { url, child } = await serve(['--auth', 'on']);
    assert.equal((await fetch(`${url}/v1/jobs`)).status, 401);
    assert.equal((await fetch(`${url}/v1/jobs`, { headers: { authorization: `Bearer ${key}` } })).status, 200);
    // The CLI's client sends the key (--api-key, or EARSHOT_API_KEY).
    const anonymous = await earshotAsync(['jobs', 'watch', 'job_nope', '--server', url]);
    assert.equal(anonymous.status, 1);
    assert.match(anonymous.stderr, /an API key is required/);
    const keyed = await earshotAsync(['jobs', 'watch', 'job_nope', '--server', url, '--api-key', key]);
    assert.equal(keyed.status, 1);
    assert.match(keyed.stderr, /earshot jobs: no such job/);
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  });

  it('submits a job from the command line and shows its progress while a separate worker process runs it', async () => {
    const worker = spawn(process.execPath, [BIN, 'worker', '--data-dir', dataDir, '--concurrency', '4'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(worker);
    await new Promise<void>((r) => {
      createInterface({ input: worker.stdout! }).on('line', (line) => {
        if (line.includes('worker started')) r();
      });
    });
    const submitted = spawn(process.execPath, [BIN, 'jobs', 'submit', 'diagnostics', '--input', '{"tasks": 6, "sleep_ms": 20}', '--wait', '--data-dir', dataDir]);
    let stdout = '';
    let stderr = '';
    submitted.stdout.on('data', (d: Buffer) => (stdout += d));
    submitted.stderr.on('data', (d: Buffer) => (stderr += d));
    const code = await new Promise((r) => submitted.once('exit', r));
    assert.equal(code, 0, stderr);
    const id = stdout.trim();
    assert.match(id, /^job_/);
    assert.match(stderr, new RegExp(`${id} 100% 8/8`));
    assert.match(stderr, /succeeded/);
    const stopped = new Promise((r) => worker.once('exit', r));
    worker.kill('SIGTERM');
    assert.equal(await stopped, 0);
  });

  it('follows a job on a server with jobs watch --server, from its event stream', async () => {
    const { url, child } = await serve(['--concurrency', '2']);
    try {
      const created = await fetch(`${url}/v1/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ kind: 'diagnostics', input: { tasks: 4, sleep_ms: 1500 } }),
      });
      const { id } = (await created.json()) as { id: string };
      const r = await earshotAsync(['jobs', 'watch', id, '--server', url]);
      assert.equal(r.status, 0, r.stderr);
      const lines = r.stderr.trim().split('\n');
      assert.ok(lines.some((l) => new RegExp(`^${id} \\d+% [0-5]/6 diagnostics\\.`).test(l)), `progress before the end:\n${r.stderr}`);
      assert.ok(lines.includes(`${id} 100% 6/6 succeeded`), r.stderr);
      assert.equal(lines.at(-1), `${id} succeeded`);
    } finally {
      await stop(child);
    }
  });

  it('transcribes on a server with --server: uploads, shows progress, downloads the transcripts, reports failures', async () => {
    const { url, child } = await serve(['--asr-engine', 'mock']);
    try {
      const tone = toneWav(join(dataDir, 'tone.wav'));
      const out = join(dataDir, 'remote-out');
      const ok = await earshotAsync(['transcribe', tone, '--server', url, '--format', 'txt,vtt', '--out', out]);
      assert.equal(ok.status, 0, ok.stderr);
      assert.match(ok.stderr, /^tone\.wav 0% 0\/1 uploading$/m);
      assert.match(ok.stderr, /^tone\.wav \d+% [0-4]\/5 (probe|prepare|asr|merge|render)$/m);
      assert.match(ok.stderr, /^tone\.wav 100% 5\/5 succeeded$/m);
      assert.ok(readFileSync(join(out, 'tone.txt'), 'utf8').trim().split(/\s+/).length >= 5, 'the mock engine put words on the tone');
      assert.match(readFileSync(join(out, 'tone.vtt'), 'utf8'), /^WEBVTT/);

      const bad = join(dataDir, 'notes.wav');
      writeFileSync(bad, 'this is not audio at all\n'.repeat(100));
      const failed = await earshotAsync(['transcribe', bad, tone, '--server', url, '--out', out]);
      assert.equal(failed.status, 1, failed.stderr);
      assert.match(failed.stderr, /^notes\.wav: unsupported_media: .+ \(job job_\w+\)$/m);
      assert.equal(existsSync(join(out, 'notes.txt')), false);
      assert.match(failed.stderr, /^tone\.wav 100% 5\/5 succeeded$/m, 'the other file still succeeds');
    } finally {
      await stop(child);
    }
  });

  it('transcribes files locally into the output folder, with a progress line per file', { skip: !hasSpeech && 'shared/speech is missing' }, () => {
    const out = join(dataDir, 'out');
    const r = earshot(['transcribe', resolve(SPEECH_DIR, 'pocketsphinx/goforward.wav'), '--language', 'en', '--format', 'txt,vtt', '--notes', 'true', '--out', out, '--data-dir', dataDir]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /goforward\.wav 100% 6\/6 succeeded/, 'five steps and the notes');
    assert.match(readFileSync(join(out, 'goforward.notes.md'), 'utf8'), /^# \S/);
    assert.ok(wordErrorRate('go forward ten meters', readFileSync(join(out, 'goforward.txt'), 'utf8')).wer <= 0.5);
    assert.match(readFileSync(join(out, 'goforward.vtt'), 'utf8'), /^WEBVTT/);
    const missing = earshot(['transcribe', join(dataDir, 'nope.wav'), '--data-dir', dataDir]);
    assert.equal(missing.status, 2);
  });

  it('measures WER per language on a manifest, whole and chunked, skipping languages the engine lacks', { skip: !hasSpeech && 'shared/speech is missing' }, () => {
    const manifest = join(dataDir, 'manifest.tsv');
    writeFileSync(
      manifest,
      [
        'file\tlanguage\treference',
        `${resolve(SPEECH_DIR, 'pocketsphinx/goforward.wav')}\ten\tgo forward ten meters`,
        `${resolve(SPEECH_DIR, 'pocketsphinx/sense_and_sensibility_01_austen_64kb-0880.wav')}\ten\the was not an ill disposed young man`,
        `${resolve(SPEECH_DIR, 'fleurs/es/fleurs-es-002.ogg')}\tes\tfue tanta la cantidad de gente`,
      ].join('\n'),
    );
    const r = earshot(['eval', 'wer', '--manifest', manifest, '--engine', 'pocketsphinx', '--chunked', '--chunk-seconds', '30']);
    assert.equal(r.status, 0, r.stderr);
    const en = r.stdout.split('\n').find((l) => l.startsWith('en\t'))!.split('\t');
    assert.deepEqual(en.slice(0, 3), ['en', '2', '12']);
    assert.ok(Number.parseFloat(en[3]!) < 40, en.join(' '));
    assert.match(r.stdout, /^es\t1\t-\tskipped/m);
  });
});
