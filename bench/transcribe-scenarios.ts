/**
 * The pieces of the transcription benchmark: a long English recording built from the shared speech
 * set (with its reference), the bare pocketsphinx engine on it, and an embedded Earshot running the
 * real `transcription` job on it with a chosen worker shape.
 */
import { execFile } from 'node:child_process';
import { createReadStream, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { createAsrEngines } from '../src/adapters/asr/asr-engines.js';
import { createPocketsphinxEngine, POCKETSPHINX_CAPABILITIES } from '../src/adapters/asr/pocketsphinx/pocketsphinx-engine.js';
import { createApp, createWorker, LOCAL_TENANT } from '../src/app.js';
import { loadConfig } from '../src/config/config.js';
import { ASR_SAMPLE_RATE } from '../src/core/asr.js';
import { decodeWav } from '../src/core/wav.js';
import { wordErrorRate, type WerResult } from '../src/core/wer.js';
import { readTranscript, STEPS } from '../src/pipelines/transcribe/transcribe.js';
import type { AsrEngine } from '../src/ports/asr-engine.js';
import { silentLogger } from '../src/ports/logger.js';
import { SPEECH_DIR } from '../test/support/speech.js';

const run = promisify(execFile);

/** What to shut down if the run is interrupted (Ctrl-C): engines kill their decoders, workers stop. */
const closers = new Set<() => Promise<void>>();

/** Stops whatever is running; the caller then removes the temp dir. */
export async function closeAll(): Promise<void> {
  await Promise.allSettled([...closers].map((close) => close()));
}

export const SOURCE_FILE = 'long/concat-en-human.flac';
const SEGMENTS_FILE = 'long/concat-en-human.segments.tsv';

export interface BenchAudio {
  /** 16 kHz mono 16-bit WAV. */
  file: string;
  durationSeconds: number;
  /** Copies of the source file begun; the last one is cut short, in a pause between two utterances. */
  copies: number;
  utterances: number;
  reference: string;
}

/** CPU time of this process and of the child processes it has waited for (ffmpeg, pocketsphinx). */
export interface CpuSeconds {
  self: number;
  children: number | null;
}

export function cpuNow(): CpuSeconds {
  const u = process.cpuUsage();
  return { self: (u.user + u.system) / 1e6, children: childCpuSeconds() };
}

export function cpuSince(start: CpuSeconds): CpuSeconds {
  const now = cpuNow();
  return { self: now.self - start.self, children: now.children === null || start.children === null ? null : now.children - start.children };
}

/** cutime + cstime from /proc/self/stat (Linux); null elsewhere. */
function childCpuSeconds(): number | null {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // cutime and cstime are fields 16 and 17 of the whole line (1-based), so 13 and 14 here (0-based, from field 3).
    const ticks = Number(fields[13]) + Number(fields[14]);
    // USER_HZ is 100 on every Linux architecture Node supports.
    return Number.isFinite(ticks) ? ticks / 100 : null;
  } catch {
    return null;
  }
}

async function probeSeconds(file: string): Promise<number> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'json', file]);
  const seconds = Number((JSON.parse(stdout) as { format?: { duration?: string } }).format?.duration);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new Error(`ffprobe could not tell the length of ${file}`);
  return seconds;
}

/**
 * About `minutes` of English: the long recording looped, cut in the pause after the last utterance
 * that fits, so the reference is exactly the utterances heard.
 */
export async function buildAudio(dir: string, minutes: number): Promise<BenchAudio> {
  const source = resolve(SPEECH_DIR, SOURCE_FILE);
  const sourceSeconds = await probeSeconds(source);
  const utterances = readFileSync(resolve(SPEECH_DIR, SEGMENTS_FILE), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => {
      const [start, end, , reference] = line.split('\t');
      return { startSeconds: Number(start), endSeconds: Number(end), reference: reference! };
    });
  const targetSeconds = minutes * 60;
  const kept: string[] = [];
  let cutSeconds = 0;
  for (let copy = 0; ; copy++) {
    const offset = copy * sourceSeconds;
    const fits = utterances.filter((u) => offset + u.endSeconds + 0.3 <= targetSeconds);
    // Always at least one utterance, however short the target.
    const take = kept.length === 0 && fits.length === 0 ? utterances.slice(0, 1) : fits;
    for (const u of take) kept.push(u.reference);
    // Half of the 0.6 s pause that follows every utterance: the cut falls in silence.
    if (take.length > 0) cutSeconds = offset + take.at(-1)!.endSeconds + 0.3;
    if (take.length < utterances.length) break;
  }
  const copies = Math.ceil(cutSeconds / sourceSeconds);
  const file = join(dir, `english-${minutes}min.wav`);
  await run('ffmpeg', [
    ...['-v', 'error', '-nostdin', '-y', '-stream_loop', String(copies - 1), '-i', source],
    ...['-t', cutSeconds.toFixed(3), '-ac', '1', '-ar', String(ASR_SAMPLE_RATE), '-c:a', 'pcm_s16le'],
    ...['-flags', '+bitexact', '-fflags', '+bitexact', file],
  ]);
  return { file, durationSeconds: await probeSeconds(file), copies, utterances: kept.length, reference: kept.join(' ') };
}

/** The same engine settings for the bare run and inside Earshot. */
export function benchEngine(audio: BenchAudio, tmpDir: string): AsrEngine {
  // The adapter's default limit (300 s per decoder process) is about what 10 min of audio takes on
  // one core, so a one-chunk job would be killed and retried: give it 4× real time.
  return createPocketsphinxEngine({ tmpDir, timeoutMs: Math.max(300_000, Math.ceil(audio.durationSeconds * 4000)) });
}

/** Time spent inside an engine's transcribe(), summed over its calls. */
export interface EngineTime {
  calls: number;
  seconds: number;
}

/** The engine, timing each transcribe() call: what the pipeline adds is what lies outside them. */
function timedEngine(engine: AsrEngine, time: EngineTime): AsrEngine {
  return {
    name: engine.name,
    model: engine.model,
    capabilities: engine.capabilities,
    async transcribe(request) {
      const start = performance.now();
      try {
        return await engine.transcribe(request);
      } finally {
        time.calls += 1;
        time.seconds += (performance.now() - start) / 1000;
      }
    },
    close: () => engine.close(),
  };
}

export interface BareResult {
  wallSeconds: number;
  cpu: CpuSeconds;
  words: number;
  wer: WerResult;
}

/** One `transcribe` call on the whole recording, with a fresh engine; decoding the file is not timed. */
export async function bareEngine(audio: BenchAudio, tmpDir: string): Promise<BareResult> {
  const { pcm, sampleRate } = decodeWav(readFileSync(audio.file));
  if (sampleRate !== ASR_SAMPLE_RATE) throw new Error(`expected ${ASR_SAMPLE_RATE} Hz, got ${sampleRate}`);
  const engine = benchEngine(audio, tmpDir);
  const close = () => engine.close();
  closers.add(close);
  try {
    const cpu = cpuNow();
    const start = performance.now();
    const result = await engine.transcribe({ pcm, language: 'en' });
    const wallSeconds = (performance.now() - start) / 1000;
    return { wallSeconds, cpu: cpuSince(cpu), words: result.text.split(/\s+/).filter(Boolean).length, wer: wordErrorRate(audio.reference, result.text) };
  } finally {
    closers.delete(close);
    await engine.close();
  }
}

export interface WorkerShape {
  workers: number;
  concurrency: number;
}

export interface StepTiming {
  step: string;
  tasks: number;
  /** First task's start to last task's finish. */
  spanSeconds: number;
  /** Sum of its tasks' durations (more than the span when they ran in parallel). */
  taskSeconds: number;
}

export interface PipelineResult {
  chunkSeconds: number;
  shape: WorkerShape;
  /** submitUpload to the job's success, measured here. */
  wallSeconds: number;
  /** The job's own createdAt → finishedAt (store clock, ms resolution). */
  jobSeconds: number;
  cpu: CpuSeconds;
  chunks: number;
  /** Inside engine.transcribe(), all chunks together (more than the wall time when they ran in parallel). */
  engine: EngineTime;
  steps: StepTiming[];
  /** Job time not covered by any step's span: waiting for claims, settling, and fan-in. */
  betweenStepsSeconds: number;
  words: number;
  wer: WerResult;
}

const STEP_ORDER = [STEPS.probe, STEPS.prepare, STEPS.asr, STEPS.merge, STEPS.render];

/**
 * The recording through a fresh embedded Earshot (SQLite and disk blobs in a temp data dir), uploaded
 * as the API does it, with `shape.workers` Worker instances of `shape.concurrency` each.
 */
export async function pipeline(audio: BenchAudio, root: string, chunkSeconds: number, shape: WorkerShape): Promise<PipelineResult> {
  const dataDir = await mkdtemp(join(root, 'earshot-'));
  const config = loadConfig({ 'data-dir': dataDir, 'log-level': 'silent', 'asr-engine': 'pocketsphinx' }, {});
  const engineTime: EngineTime = { calls: 0, seconds: 0 };
  const engines = createAsrEngines('pocketsphinx', {
    pocketsphinx: { capabilities: POCKETSPHINX_CAPABILITIES, create: () => timedEngine(benchEngine(audio, dataDir), engineTime) },
  });
  const app = await createApp(config, { logger: silentLogger, engines });
  const workers = Array.from({ length: shape.workers }, () => createWorker(app, { pools: ['cpu', 'io', 'asr'], concurrency: shape.concurrency }));
  const close = async () => {
    await Promise.allSettled(workers.map((w) => w.stop(0)));
    await app.close();
  };
  closers.add(close);
  try {
    for (const w of workers) await w.start();
    const { uploadId } = await app.transcriptions.storeUpload(LOCAL_TENANT, createReadStream(audio.file), { filename: 'bench.wav', contentType: 'audio/wav' });
    const cpu = cpuNow();
    const start = performance.now();
    const { job } = await app.transcriptions.submitUpload(LOCAL_TENANT, uploadId, { language: 'en', engine: 'pocketsphinx', chunk_seconds: String(chunkSeconds) });
    const done = await app.engine.waitFor(job.id, { settled: true, timeoutMs: Math.max(600_000, audio.durationSeconds * 8000) });
    const wallSeconds = (performance.now() - start) / 1000;
    const cpuUsed = cpuSince(cpu);
    if (done.status !== 'succeeded') throw new Error(`the ${chunkSeconds} s job ${done.status}: ${JSON.stringify(done.error)}`);
    const transcript = await readTranscript(app.blobs, LOCAL_TENANT, job.id);
    const steps = STEP_ORDER.map((step): StepTiming => {
      const tasks = done.tasks.filter((t) => t.type === step && t.startedAt !== null && t.finishedAt !== null);
      const starts = tasks.map((t) => t.startedAt!);
      const ends = tasks.map((t) => t.finishedAt!);
      return {
        step: step.replace(/^transcribe\./, ''),
        tasks: tasks.length,
        spanSeconds: tasks.length === 0 ? 0 : (Math.max(...ends) - Math.min(...starts)) / 1000,
        taskSeconds: tasks.reduce((s, t) => s + (t.finishedAt! - t.startedAt!), 0) / 1000,
      };
    });
    const jobSeconds = (done.finishedAt! - done.createdAt) / 1000;
    return {
      chunkSeconds,
      shape,
      wallSeconds,
      jobSeconds,
      cpu: cpuUsed,
      chunks: steps.find((s) => s.step === 'asr')!.tasks,
      engine: { ...engineTime },
      steps,
      betweenStepsSeconds: jobSeconds - steps.reduce((s, t) => s + t.spanSeconds, 0),
      words: transcript.text.split(/\s+/).filter(Boolean).length,
      wer: wordErrorRate(audio.reference, transcript.text),
    };
  } finally {
    closers.delete(close);
    for (const w of workers) await w.stop(2000);
    await app.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}
