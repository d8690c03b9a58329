/**
 * The AsrEngine contract against the mock and pocketsphinx engines, then what is particular to each:
 * the mock's seed, failures and latency; pocketsphinx's processes, temp files and failures.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { createMockEngine } from '../../src/adapters/asr/mock/mock-engine.js';
import { createPocketsphinxEngine } from '../../src/adapters/asr/pocketsphinx/pocketsphinx-engine.js';
import { createEngines } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { ASR_SAMPLE_RATE } from '../../src/core/asr.js';
import { EarshotError } from '../../src/core/errors.js';
import { concatPcm, hasSpeech, loadClip, silence } from '../support/speech.js';
import { asrEngineContract } from './asr-engine.case.js';

const POCKETSPHINX_MODEL = '/usr/share/pocketsphinx/model/en-us';
const hasPocketsphinx = existsSync('/usr/bin/pocketsphinx_continuous') && existsSync(POCKETSPHINX_MODEL);
const noPocketsphinx = !hasPocketsphinx && 'pocketsphinx or pocketsphinx-en-us is not installed';

asrEngineContract({
  name: 'mock',
  // The latency makes an abort that is not honoured visible.
  create: async () => createMockEngine({ latencyMs: 500, seed: 7 }),
  // Its words are made up: they have timings to check, but no WER to meet.
  expect: { producesWords: true, silenceIsEmpty: true },
});

asrEngineContract({
  name: 'pocketsphinx',
  create: async () => createPocketsphinxEngine(),
  // Measured 0.47 over the three clips (jfk 0.64, sense-0880 0.25, goforward 0): Debian's en-us
  // model is weak on the noisy 1961 recording.
  expect: { producesWords: true, maxWer: 0.6, silenceIsEmpty: true, unsupportedLanguage: 'es' },
  skip: noPocketsphinx,
});

/** The children of a process, from /proc/PID/stat (comm is in parentheses, ppid follows). */
function childProcesses(ppid: number): { pid: number; name: string }[] {
  const children: { pid: number; name: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const close = stat.lastIndexOf(')');
    const fields = stat.slice(close + 2).split(' ');
    if (Number(fields[1]) === ppid) children.push({ pid: Number(entry), name: stat.slice(stat.indexOf('(') + 1, close) });
  }
  return children;
}

/** The command names of a process's children. */
const childCommands = (ppid: number) => childProcesses(ppid).map((c) => c.name);

const asrFailed = (retryable: boolean) => (err: unknown) => err instanceof EarshotError && err.code === 'asr_failed' && err.retryable === retryable;

/** A tone (speech, to the mock) of `seconds`. */
const tone = (seconds: number) => Int16Array.from({ length: seconds * ASR_SAMPLE_RATE }, (_, i) => Math.round(8000 * Math.sin(i / 10)));

describe('mock engine', () => {
  const jfk = hasSpeech ? loadClip('jfk/jfk.wav').pcm : tone(11);

  it('gives the same words under the same seed, others under another', async () => {
    const text = async (seed: number) => (await createMockEngine({ seed }).transcribe({ pcm: jfk, language: 'en' })).text;
    assert.equal(await text(3), await text(3));
    assert.notEqual(await text(3), await text(4));
  });

  it('puts wordsPerChunk words in each non-silent second and none in silence', async () => {
    const pcm = concatPcm(tone(2), silence(2), tone(1), silence(0.5));
    const result = await createMockEngine({ wordsPerChunk: 3 }).transcribe({ pcm, language: 'es' });
    assert.equal(result.language, 'es');
    assert.equal(result.segments.length, 2);
    assert.deepEqual(
      result.segments.map((s) => s.words!.length),
      [6, 3],
    );
    const [first, second] = result.segments;
    assert.ok(first!.startMs === 0 && first!.endMs <= 2000 && second!.startMs === 4000 && second!.endMs <= 5000);
    assert.equal(result.text.split(' ').length, 9);
  });

  it('fails every call with errorRate 1, retryably, after its latency', async () => {
    const engine = createMockEngine({ errorRate: 1, latencyMs: 20 });
    for (let i = 0; i < 5; i++) await assert.rejects(engine.transcribe({ pcm: jfk, language: 'en' }), asrFailed(true));
  });

  it('fails the same calls under the same seed with errorRate 0.5', async () => {
    const outcomes = async (seed: number) => {
      const engine = createMockEngine({ errorRate: 0.5, seed });
      const settled = await Promise.allSettled(Array.from({ length: 20 }, () => engine.transcribe({ pcm: tone(1), language: 'en' })));
      return settled.map((s) => s.status);
    };
    const first = await outcomes(11);
    assert.deepEqual(await outcomes(11), first);
    assert.ok(first.includes('fulfilled') && first.includes('rejected'), first.join());
  });

  it('takes latencyMs per call', async () => {
    const engine = createMockEngine({ latencyMs: 150 });
    const started = performance.now();
    await engine.transcribe({ pcm: tone(1), language: 'en' });
    assert.ok(performance.now() - started >= 149, `${performance.now() - started} ms`);
  });

  it("answers 'en' for 'auto' and for translations", async () => {
    const engine = createMockEngine();
    assert.equal((await engine.transcribe({ pcm: tone(1), language: 'auto' })).language, 'en');
    assert.equal((await engine.transcribe({ pcm: tone(1), language: 'es', translate: true })).language, 'en');
  });

  it('refuses options out of range', () => {
    for (const options of [{ errorRate: 2 }, { wordsPerChunk: 1.5 }, { latencyMs: -1 }]) {
      assert.throws(() => createMockEngine(options), (err: unknown) => err instanceof EarshotError && err.code === 'invalid_config');
    }
  });
});

describe('pocketsphinx engine', { skip: noPocketsphinx || (!hasSpeech && 'the shared speech set is missing') }, () => {
  let dir: string;
  const goforward = () => loadClip('pocketsphinx/goforward.wav').pcm;
  // Read from /proc rather than `ps`, which a minimal Debian lacks.
  const decoders = () => childCommands(process.pid).filter((c) => c.startsWith('pocketsphinx'));
  const decoderPids = () => childProcesses(process.pid).filter((c) => c.name.startsWith('pocketsphinx')).map((c) => c.pid);

  /** Polls until `check` holds (a process appearing has no event to wait on). */
  const until = async (check: () => boolean, what: string) => {
    for (const deadline = Date.now() + 10_000; !check(); await new Promise((resolve) => setTimeout(resolve, 20))) {
      if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    }
  };

  // A folder per test, so no test reads another's leftovers.
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'earshot-pocketsphinx-test-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('leaves no temp file and no decoder process behind, after a call or an abort', async () => {
    const engine = createPocketsphinxEngine({ tmpDir: dir });
    assert.equal((await engine.transcribe({ pcm: goforward(), language: 'en' })).text, 'go forward ten meters');
    const controller = new AbortController();
    const call = engine.transcribe({ pcm: concatPcm(goforward(), goforward()), language: 'en', signal: controller.signal });
    await until(() => decoders().length === 1, 'the decoder runs');
    controller.abort();
    await assert.rejects(call, { name: 'AbortError' });
    assert.deepEqual(decoders(), []);
    assert.deepEqual(await readdir(dir), []);
    await engine.close();
  });

  it('runs at most maxConcurrent decoders', async () => {
    const engine = createPocketsphinxEngine({ tmpDir: dir, maxConcurrent: 1 });
    let done = false;
    const calls = Promise.all([engine.transcribe({ pcm: goforward(), language: 'en' }), engine.transcribe({ pcm: goforward(), language: 'en' })]);
    void calls.finally(() => (done = true));
    // Sampled until both calls end, however long two decodes take on a busy machine (the test's own timeout bounds it).
    const seen = new Set<number>();
    while (!done) {
      seen.add(decoders().length);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(Math.max(...seen), 1, 'one decoder at a time');
    const [a, b] = await calls;
    assert.equal(a!.text, b!.text);
    await engine.close();
  });

  it('fails with a retryable asr_failed when the decoder is missing, fails or runs out of time', async () => {
    const pcm = goforward();
    // The limit grows to twice the audio's length: 10 ms of audio keeps the 50 ms floor, which loading the model alone exceeds.
    for (const options of [{ binary: join(dir, 'no-such-binary') }, { binary: 'false' }, { timeoutMs: 50, short: true }]) {
      const { short, ...engineOptions } = options as { short?: boolean };
      const engine = createPocketsphinxEngine({ tmpDir: dir, ...engineOptions });
      await assert.rejects(engine.transcribe({ pcm: short ? pcm.subarray(0, 160) : pcm, language: 'en' }), asrFailed(true));
      await engine.close();
    }
    assert.deepEqual(decoders(), [], 'the timed-out decoder was killed');
    assert.deepEqual(await readdir(dir), []);
  });

  it('as the app builds it: runs in the work folder, with its own environment and the media memory limit, and writes nowhere else', async () => {
    const workDir = join(dir, 'work');
    const engines = createEngines(loadConfig({ 'work-dir': workDir, 'media-max-memory-bytes': String(1024 ** 3) }, {}));
    process.env.EARSHOT_TEST_PARENT_ONLY = 'not for children';
    try {
      const engine = await engines.get('pocketsphinx');
      const call = engine.transcribe({ pcm: concatPcm(goforward(), goforward()), language: 'en' });
      await until(() => decoderPids().length === 1, 'the decoder runs');
      const pid = decoderPids()[0]!;
      const proc = (what: string) => readFileSync(`/proc/${pid}/${what}`, 'utf8');
      const args = proc('cmdline').split('\0');
      const infile = args[args.indexOf('-infile') + 1]!;
      const cwd = readlinkSync(`/proc/${pid}/cwd`);
      const environ = proc('environ').split('\0');
      const limits = proc('limits');
      assert.equal((await call).text, 'go forward ten meters go forward ten meters');
      assert.equal(dirname(infile), workDir, 'the audio is written in the work folder');
      assert.equal(cwd, workDir, 'the decoder runs in the work folder');
      assert.ok(environ.includes(`TMPDIR=${workDir}`), 'its temp folder is the work folder');
      assert.ok(!environ.some((e) => e.startsWith('EARSHOT_TEST_PARENT_ONLY=')), 'it does not get the parent environment');
      assert.match(limits, /Max address space\s+1073741824\s+1073741824 /);
      assert.match(limits, /Max core file size\s+0\s+0 /);
      assert.deepEqual(await readdir(workDir), []);
    } finally {
      delete process.env.EARSHOT_TEST_PARENT_ONLY;
      await engines.close();
    }
  });

  it('is killed by its memory limit: asr_failed that is not retried, nothing left behind', async () => {
    const engine = createPocketsphinxEngine({ tmpDir: dir, maxMemoryBytes: 64 * 1024 ** 2 });
    await assert.rejects(
      engine.transcribe({ pcm: goforward(), language: 'en' }),
      (err: unknown) => err instanceof EarshotError && err.code === 'asr_failed' && !err.retryable && err.details?.reason === 'memory',
    );
    assert.deepEqual(decoders(), []);
    assert.deepEqual(await readdir(dir), []);
    await engine.close();
  });

  it('refuses a model folder without the model, at once', () => {
    assert.throws(() => createPocketsphinxEngine({ modelDir: dir }), (err: unknown) => err instanceof EarshotError && err.code === 'invalid_config');
  });
});
