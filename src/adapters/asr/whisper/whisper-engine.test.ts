/**
 * The whisper engine's own behaviour against a fake addon (fast: mapping, one call at a time, abort,
 * close, timeout), then the real addon on whisper.cpp's weightless test models, which load and
 * transcribe to an empty string (each real call takes 15-50 s on two cores, so there are two).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EarshotError } from '../../../core/errors.js';
import { createWhisperEngine } from './whisper-engine.js';
import { readWhisperModelInfo } from './whisper-model-file.js';
import { loadWhisperBinding, WHISPER_NATIVE_VERSION, whisperPackageName, type NativeTranscribeOptions, type NativeTranscribeResult, type NativeWhisperBinding } from './whisper-native.js';

const STUBS = resolve(import.meta.dirname, '../../../../../shared/models/whisper-cpp-test-stubs');
const MULTILINGUAL = join(STUBS, 'for-tests-ggml-tiny.bin');
const ENGLISH = join(STUBS, 'for-tests-ggml-tiny.en.bin');
const hasStubs = existsSync(MULTILINGUAL) && existsSync(ENGLISH);

const code = (c: string, retryable?: boolean) => (err: unknown) =>
  err instanceof EarshotError && err.code === c && (retryable === undefined || err.retryable === retryable);

/** One second of a tone, at 16 kHz. */
const tone = (seconds = 1) => Int16Array.from({ length: seconds * 16_000 }, (_, i) => Math.round(3000 * Math.sin(i / 10)));

interface FakeJob {
  pcm: ArrayBuffer;
  options: NativeTranscribeOptions;
  resolve(result: NativeTranscribeResult): void;
  reject(err: Error): void;
}

/** An addon whose calls the test settles by hand. */
function fakeBinding() {
  const jobs: FakeJob[] = [];
  let released = 0;
  let waiters: Array<() => void> = [];
  const binding: NativeWhisperBinding = {
    WhisperContext: class {
      transcribeData(pcm: ArrayBuffer, options: NativeTranscribeOptions) {
        let job!: FakeJob;
        const promise = new Promise<NativeTranscribeResult>((resolve, reject) => (job = { pcm, options, resolve, reject }));
        jobs.push(job);
        for (const w of waiters) w();
        waiters = [];
        return { stop: () => Promise.reject(new Error('the engine must not call stop()')), promise };
      }
      async release() {
        released++;
      }
    },
  };
  /** Resolves once the addon has been given `n` calls in all. */
  const started = (n: number) =>
    new Promise<FakeJob>((resolve) => {
      const check = () => (jobs.length >= n ? resolve(jobs[n - 1]!) : waiters.push(check));
      check();
    });
  return { binding, jobs, started, released: () => released };
}

const result = (segments: NativeTranscribeResult['segments'], language = 'en'): NativeTranscribeResult => ({
  result: segments.map((s) => s.text).join(''),
  language,
  segments,
  isAborted: false,
});

describe('whisper engine (fake addon)', { skip: !hasStubs && 'the whisper test models are missing' }, () => {
  it('maps segments (ms) into the audio, drops non-speech markers, and passes the options', async () => {
    const fake = fakeBinding();
    const engine = createWhisperEngine({ modelPath: MULTILINGUAL, binding: fake.binding, threads: 3 });
    assert.deepEqual(engine.capabilities, { languages: 'any', languageDetection: true, wordTimestamps: false, streaming: false, translation: true });
    assert.equal(engine.model, 'for-tests-ggml-tiny.bin');
    const call = engine.transcribe({ pcm: tone(2), language: 'auto', prompt: 'Earshot', temperature: 0.2 });
    const job = await fake.started(1);
    assert.deepEqual(job.options, { language: 'auto', translate: false, maxThreads: 3, temperature: 0.2, prompt: 'Earshot' });
    assert.equal(job.pcm.byteLength, 2 * 16_000 * 2);
    job.resolve(
      result(
        [
          { text: ' Hola', t0: 0, t1: 900 },
          { text: ' [BLANK_AUDIO]', t0: 900, t1: 1200 },
          { text: ' mundo.', t0: 850, t1: 2600 },
        ],
        'es',
      ),
    );
    assert.deepEqual(await call, {
      text: 'Hola mundo.',
      language: 'es',
      segments: [
        { startMs: 0, endMs: 900, text: 'Hola' },
        { startMs: 900, endMs: 2000, text: 'mundo.' },
      ],
    });
    await engine.close();
  });

  it('runs one call at a time; an aborted call rejects at once and the next waits for whisper to finish it', async () => {
    const fake = fakeBinding();
    const engine = createWhisperEngine({ modelPath: MULTILINGUAL, binding: fake.binding });
    const controller = new AbortController();
    const first = engine.transcribe({ pcm: tone(), language: 'en', signal: controller.signal });
    const second = engine.transcribe({ pcm: tone(), language: 'es', translate: true });
    const firstJob = await fake.started(1);
    controller.abort('cancelled');
    await assert.rejects(first, { name: 'AbortError' });
    await new Promise((r) => setImmediate(r));
    assert.equal(fake.jobs.length, 1, 'the second call waits while whisper still computes the first');
    firstJob.resolve(result([]));
    const secondJob = await fake.started(2);
    assert.equal(secondJob.options.translate, true);
    secondJob.resolve(result([{ text: ' Hello.', t0: 0, t1: 500 }], 'es'));
    assert.deepEqual(await second, { text: 'Hello.', language: 'en', segments: [{ startMs: 0, endMs: 500, text: 'Hello.' }] });
    await engine.close();
  });

  it('fails calls in flight and later calls with a retryable asr_failed on close, and closes once', async () => {
    const fake = fakeBinding();
    const engine = createWhisperEngine({ modelPath: MULTILINGUAL, binding: fake.binding });
    const running = engine.transcribe({ pcm: tone(), language: 'en' });
    const waiting = engine.transcribe({ pcm: tone(), language: 'en' });
    await fake.started(1);
    await engine.close();
    await assert.rejects(running, code('asr_failed', true));
    await assert.rejects(waiting, code('asr_failed', true));
    await assert.rejects(engine.transcribe({ pcm: tone(), language: 'en' }), code('asr_failed', true));
    await engine.close();
    assert.equal(fake.released(), 1);
  });

  it('gives up on a call the addon never settles, and takes the next one', async () => {
    const fake = fakeBinding();
    const engine = createWhisperEngine({ modelPath: MULTILINGUAL, binding: fake.binding, timeoutMs: 50 });
    await assert.rejects(engine.transcribe({ pcm: tone(), language: 'en' }), code('asr_failed', true));
    const next = engine.transcribe({ pcm: tone(), language: 'en' });
    (await fake.started(2)).resolve(result([]));
    assert.equal((await next).text, '');
    await engine.close();
  });

  it('turns a failure of the addon into a retryable asr_failed', async () => {
    const fake = fakeBinding();
    const engine = createWhisperEngine({ modelPath: MULTILINGUAL, binding: fake.binding });
    const call = engine.transcribe({ pcm: tone(), language: 'en' });
    (await fake.started(1)).reject(new Error('Transcription failed'));
    await assert.rejects(call, (err: unknown) => code('asr_failed', true)(err) && /Transcription failed/.test((err as Error).message));
    await engine.close();
  });

  it('refuses what an English-only model cannot do before calling whisper', async () => {
    const fake = fakeBinding();
    const engine = createWhisperEngine({ modelPath: ENGLISH, binding: fake.binding });
    assert.deepEqual(engine.capabilities, { languages: ['en'], languageDetection: false, wordTimestamps: false, streaming: false, translation: false });
    await assert.rejects(engine.transcribe({ pcm: tone(), language: 'es' }), code('unsupported_language', false));
    await assert.rejects(engine.transcribe({ pcm: tone(), language: 'auto' }), code('unsupported_language', false));
    assert.deepEqual(await engine.transcribe({ pcm: new Int16Array(0), language: 'en' }), { text: '', language: 'en', segments: [] });
    assert.equal(fake.jobs.length, 0);
    await engine.close();
  });

  it('knows the languages of a model from its header', () => {
    assert.equal(readWhisperModelInfo(MULTILINGUAL).languages.length, 99);
    assert.deepEqual(readWhisperModelInfo(ENGLISH).languages, ['en']);
  });
});

describe('whisper model and addon errors', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'earshot-whisper-test-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('says model_not_found for a missing file and invalid_config for a file that is not a model', async () => {
    assert.throws(() => createWhisperEngine({ modelPath: join(dir, 'ggml-nothing.bin') }), code('model_not_found', false));
    await writeFile(join(dir, 'ggml-html.bin'), '<html>404 Not Found</html>'.padEnd(100, ' '));
    assert.throws(() => createWhisperEngine({ modelPath: join(dir, 'ggml-html.bin') }), code('invalid_config', false));
  });

  it('names the package to install when a GPU build is missing', () => {
    assert.equal(whisperPackageName('cuda', 'linux', 'x64'), '@fugood/node-whisper-linux-x64-cuda');
    assert.throws(
      () => loadWhisperBinding('vulkan'),
      (err: unknown) => code('invalid_config')(err) && (err as Error).message.includes(`${whisperPackageName('vulkan')}@${WHISPER_NATIVE_VERSION}`),
    );
  });

  it('pins the same addon version as package.json', () => {
    const pkg = JSON.parse(readFileSync(resolve(import.meta.dirname, '../../../../package.json'), 'utf8')) as { optionalDependencies?: Record<string, string> };
    assert.equal(pkg.optionalDependencies?.['@fugood/node-whisper-linux-x64'], WHISPER_NATIVE_VERSION);
  });
});

const hasAddon = (() => {
  try {
    createRequire(import.meta.url).resolve(whisperPackageName('off'));
    return true;
  } catch {
    return false;
  }
})();

describe('whisper engine (real addon, test models)', { skip: (!hasStubs && 'the whisper test models are missing') || (!hasAddon && `${whisperPackageName('off')} is not installed`) }, () => {
  it('refuses a file with a whisper header that whisper.cpp cannot load', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'earshot-whisper-test-'));
    try {
      // The magic and nothing else: whisper.cpp is lenient with truncated models, not with this.
      const header = Buffer.alloc(48);
      header.writeUInt32LE(0x67676d6c, 0);
      await writeFile(join(dir, 'ggml-empty.bin'), header);
      assert.throws(() => createWhisperEngine({ modelPath: join(dir, 'ggml-empty.bin') }), (err: unknown) => code('invalid_config')(err) && /could not load/.test((err as Error).message));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('loads a model, aborts a call at once, and transcribes the next (to "", these models have no weights)', async () => {
    const engine = createWhisperEngine({ modelPath: MULTILINGUAL, threads: 2 });
    try {
      const controller = new AbortController();
      const aborted = engine.transcribe({ pcm: tone(), language: 'en', signal: controller.signal });
      await new Promise((r) => setTimeout(r, 50));
      const abortedAt = performance.now();
      controller.abort();
      await assert.rejects(aborted, { name: 'AbortError' });
      assert.ok(performance.now() - abortedAt < 300, 'the abort settles the call at once');
      const started = performance.now();
      const r = await engine.transcribe({ pcm: tone(), language: 'en' });
      assert.deepEqual(r, { text: '', language: 'en', segments: [] });
      process.stderr.write(`# whisper stub: an aborted 1 s call, then a 1 s call: ${Math.round(performance.now() - started)} ms\n`);
    } finally {
      await engine.close();
    }
  });
});
