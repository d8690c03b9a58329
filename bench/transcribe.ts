/**
 * Transcription benchmark, on about 10 minutes of English (the shared long recording, looped):
 *
 * 1. Pipeline overhead: the bare pocketsphinx engine on the whole recording against an embedded
 *    Earshot running the real `transcription` job on it as one chunk (1 worker × concurrency 1),
 *    submit to success, with the time of each step (probe, prepare, asr, merge, render). The engine
 *    inside Earshot is wrapped to time its transcribe() call, so the table also gives the overhead
 *    measured around that call in the same run, which the decoder's run-to-run noise cannot move.
 * 2. Parallel chunks: the job with chunks of --chunk-seconds on 1 worker × concurrency 1, then on
 *    2 Worker instances × concurrency 1 each (one process, one SQLite store), with the WER of each
 *    transcript against the reference so a speed-up cannot hide a loss of accuracy.
 *
 *   npm run bench:transcribe -- [--minutes N] [--chunk-seconds N] [--repeat N] [--skip-bare] [--json]
 *
 * --repeat runs the bare engine and the one-chunk job N times each, alternating, and compares their
 * medians (default 1). --skip-bare leaves out the bare engine (and the bare-vs-pipeline figure); the
 * one-chunk job still runs for its step times. --json prints one JSON document on stdout; progress
 * always goes to stderr (use `npm run -s` to keep npm's banner off stdout). Pocketsphinx runs one
 * decoder process per call on one core: the speed-up is bounded by the cores the machine has free,
 * so the table prints the load average before and after, and CPU seconds beside wall times.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { normalizeWords } from '../src/core/wer.js';
import { bareEngine, buildAudio, closeAll, pipeline, SOURCE_FILE, type BareResult, type CpuSeconds, type PipelineResult } from './transcribe-scenarios.js';

const TARGETS = {
  /** (pipeline − bare) / bare, one chunk, nothing in parallel. */
  maxOverhead: 0.05,
  /** t(1 worker) / t(2 workers); soft, and only where the machine has 2 cores or more. */
  minSpeedUp: 1.6,
  /** Chunked WER may exceed the one-chunk WER by this much (soft). */
  maxWerIncrease: 0.01,
};
const WHOLE_CHUNK_SECONDS = 3600;

interface Config {
  minutes: number;
  chunkSeconds: number;
  repeat: number;
  skipBare: boolean;
  json: boolean;
}

interface Results {
  audio: { source: string; durationSeconds: number; copies: number; utterances: number; referenceWords: number };
  /** One per repetition, in the order run (bare and whole alternate). Empty with --skip-bare. */
  bare: BareResult[];
  whole: PipelineResult[];
  chunked1: PipelineResult;
  chunked2: PipelineResult;
  /** (median pipeline − median bare) / median bare, wall time. */
  overhead: number | null;
  /** Median over the one-chunk runs of (pipeline − the engine call inside it) / that call. */
  engineOverhead: number;
  speedUp: number;
}

interface Row {
  measurement: string;
  result: string;
  cpu: string;
  target: string;
  pass: string;
  setup: string;
}

const log = (message: string) => process.stderr.write(`${message}\n`);

function parseConfig(argv: string[]): Config {
  const { values } = parseArgs({
    args: argv,
    options: {
      minutes: { type: 'string' },
      'chunk-seconds': { type: 'string' },
      repeat: { type: 'string' },
      'skip-bare': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const minutes = values.minutes === undefined ? 10 : Number(values.minutes);
  if (!Number.isFinite(minutes) || minutes <= 0 || minutes > 50) throw new Error(`--minutes takes a number above 0 and up to 50, got "${values.minutes}"`);
  const chunkSeconds = values['chunk-seconds'] === undefined ? 60 : Number(values['chunk-seconds']);
  if (!Number.isInteger(chunkSeconds) || chunkSeconds < 30 || chunkSeconds > 3600) {
    throw new Error(`--chunk-seconds takes a whole number from 30 to 3600 (what jobs accept), got "${values['chunk-seconds']}"`);
  }
  const repeat = values.repeat === undefined ? 1 : Number(values.repeat);
  if (!Number.isInteger(repeat) || repeat < 1 || repeat > 20) throw new Error(`--repeat takes a whole number from 1 to 20, got "${values.repeat}"`);
  return { minutes, chunkSeconds, repeat, skipBare: values['skip-bare'], json: values.json };
}

function machine() {
  const cpus = os.cpus();
  return {
    cores: os.availableParallelism(),
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
  };
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The run closest to the median, to show one run's details. */
function typical<T extends { wallSeconds: number }>(runs: readonly T[]): T {
  const m = median(runs.map((r) => r.wallSeconds));
  return runs.reduce((a, b) => (Math.abs(b.wallSeconds - m) < Math.abs(a.wallSeconds - m) ? b : a));
}

const loadAverage = () => os.loadavg().map((l) => Math.round(l * 100) / 100);
const secs = (s: number) => `${s.toFixed(1)} s`;
const pct = (f: number) => `${f >= 0 ? '+' : ''}${(f * 100).toFixed(1)} %`;
const cpuTotal = (c: CpuSeconds) => (c.children === null ? null : c.self + c.children);
const cpuText = (c: CpuSeconds) => (c.children === null ? `${c.self.toFixed(1)} s (self)` : `${(c.self + c.children).toFixed(1)} s`);
const shapeText = (r: PipelineResult) => `${r.shape.workers} worker${r.shape.workers === 1 ? '' : 's'} × concurrency ${r.shape.concurrency}`;
const werText = (r: { wer: { wer: number } }) => `${(r.wer.wer * 100).toFixed(1)} %`;
const runsText = (runs: readonly { wallSeconds: number }[]) => (runs.length > 1 ? `; median of ${runs.map((r) => r.wallSeconds.toFixed(1)).join(', ')} s` : '');

function rows(r: Results, config: Config, cores: number): Row[] {
  const out: Row[] = [];
  const add = (measurement: string, result: string, extra: Partial<Row> = {}) => out.push({ measurement, result, cpu: '', target: '', pass: '', setup: '', ...extra });
  const audio = `${(r.audio.durationSeconds / 60).toFixed(1)} min`;
  const bare = r.bare.length > 0 ? { wallSeconds: median(r.bare.map((b) => b.wallSeconds)), run: typical(r.bare) } : null;
  if (bare) {
    add('bare engine, whole recording', secs(bare.wallSeconds), {
      cpu: cpuText(bare.run.cpu),
      setup: `one transcribe() call, fresh pocketsphinx engine, ${audio}; RTF ${(bare.wallSeconds / r.audio.durationSeconds).toFixed(2)}${runsText(r.bare)}`,
    });
  }
  const w = typical(r.whole);
  add('pipeline, one chunk: submit → succeeded', secs(median(r.whole.map((x) => x.wallSeconds))), {
    cpu: cpuText(w.cpu),
    setup: `${shapeText(w)}, chunk_seconds ${w.chunkSeconds} → ${w.chunks} chunk${w.chunks === 1 ? '' : 's'}${runsText(r.whole)}`,
  });
  const which = r.whole.length > 1 ? ` (the ${w.wallSeconds.toFixed(1)} s run)` : '';
  for (const s of w.steps) add(`  step ${s.step}`, secs(s.spanSeconds), { setup: `${s.tasks} task${s.tasks === 1 ? '' : 's'}${which}` });
  add('  between steps (claim, settle)', secs(w.betweenStepsSeconds), { setup: `job ${secs(w.jobSeconds)} (store clock) less the step spans` });
  const asr = w.steps.find((s) => s.step === 'asr')!;
  add('  inside engine.transcribe()', secs(w.engine.seconds), { setup: `${w.engine.calls} call${w.engine.calls === 1 ? '' : 's'}, timed by a wrapper around the engine` });
  add('  asr step outside the engine call', secs(asr.taskSeconds - w.engine.seconds), { setup: 'reading the chunk from the blob store, checks, result' });
  if (bare) {
    const d = median(r.whole.map((x) => x.engine.seconds)) - bare.wallSeconds;
    add('  engine call − bare engine', secs(d), {
      setup: `${pct(d / bare.wallSeconds)}: the same call on the same samples, i.e. the decoder's run-to-run noise${r.whole.length > 1 ? ' (medians)' : ''}`,
    });
  }
  const target = `≤ ${(TARGETS.maxOverhead * 100).toFixed(0)} %`;
  if (r.overhead !== null && bare) {
    const [bc, wc] = [cpuTotal(bare.run.cpu), cpuTotal(w.cpu)];
    add('pipeline overhead vs bare engine', pct(r.overhead), {
      cpu: bc !== null && wc !== null && r.bare.length === 1 ? pct(wc / bc - 1) : '',
      target,
      pass: r.overhead <= TARGETS.maxOverhead ? 'PASS' : 'FAIL',
      setup: `(pipeline − bare) / bare, wall time${r.bare.length > 1 ? ', medians' : ''}; cpu: the same on CPU seconds`,
    });
  }
  add('pipeline overhead around the engine call', pct(r.engineOverhead), {
    target,
    pass: r.engineOverhead <= TARGETS.maxOverhead ? 'PASS' : 'FAIL',
    setup: '(pipeline − its engine call) / its engine call, same run: free of decoder noise',
  });
  for (const c of [r.chunked1, r.chunked2]) {
    const a = c.steps.find((s) => s.step === 'asr')!;
    add(`chunks of ${config.chunkSeconds} s, ${shapeText(c)}`, secs(c.wallSeconds), {
      cpu: cpuText(c.cpu),
      setup: `${c.chunks} chunk${c.chunks === 1 ? '' : 's'}; asr span ${secs(a.spanSeconds)}, asr task time ${secs(a.taskSeconds)}, in the engine ${secs(c.engine.seconds)}`,
    });
  }
  const soft = (ok: boolean) => (ok ? 'PASS (soft)' : 'FAIL (soft)');
  add('speed-up, 2 workers vs 1', `${r.speedUp.toFixed(2)}×`, {
    target: cores >= 2 ? `≥ ${TARGETS.minSpeedUp} (soft)` : 'n/a (1 core)',
    pass: cores >= 2 ? soft(r.speedUp >= TARGETS.minSpeedUp) : '',
    setup: `t(1 worker) / t(2 workers); ${cores} cores`,
  });
  const ref = `${r.audio.referenceWords} reference words`;
  if (bare) add('WER, bare engine', werText(bare.run), { setup: ref });
  add('WER, pipeline, one chunk', werText(w), { setup: ref });
  for (const c of [r.chunked1, r.chunked2]) {
    const delta = c.wer.wer - w.wer.wer;
    add(`WER, chunks of ${config.chunkSeconds} s, ${shapeText(c)}`, werText(c), {
      target: `≤ one chunk + ${(TARGETS.maxWerIncrease * 100).toFixed(0)} pt (soft)`,
      pass: soft(delta <= TARGETS.maxWerIncrease),
      setup: `${delta >= 0 ? '+' : ''}${(delta * 100).toFixed(1)} pt vs one chunk; ${c.words} words out`,
    });
  }
  return out;
}

/** A plain-text table: console.table would add an index column and quote every string. */
function table(rs: readonly Row[]): string {
  const header = ['measurement', 'result', 'cpu', 'target', 'pass', 'setup'];
  const cells = rs.map((r) => [r.measurement, r.result, r.cpu, r.target, r.pass, r.setup]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((v, i) => (i === 1 || i === 2 ? v.padStart(widths[i]!) : v.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

async function main(): Promise<void> {
  const config = parseConfig(process.argv.slice(2));
  const info = machine();
  const loadBefore = loadAverage();
  const dir = await mkdtemp(join(os.tmpdir(), 'earshot-bench-transcribe-'));
  const interrupted = (signal: NodeJS.Signals) => {
    log(`${signal}: stopping and removing ${dir}`);
    void closeAll()
      .then(() => rm(dir, { recursive: true, force: true }))
      .finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    log(`building ~${config.minutes} min of English from ${SOURCE_FILE} in ${dir}`);
    const audio = await buildAudio(dir, config.minutes);
    log(`${audio.durationSeconds.toFixed(1)} s, ${audio.utterances} utterances; ${info.cores} cores, load average ${loadBefore.join(' ')}`);
    const bare: BareResult[] = [];
    const whole: PipelineResult[] = [];
    for (let i = 1; i <= config.repeat; i++) {
      const of = config.repeat > 1 ? ` (${i}/${config.repeat})` : '';
      if (!config.skipBare) {
        log(`bare engine${of}: one transcribe() call on the whole recording`);
        bare.push(await bareEngine(audio, dir));
        log(`bare engine${of}: ${secs(bare.at(-1)!.wallSeconds)}`);
      }
      log(`pipeline, one chunk${of} (chunk_seconds ${WHOLE_CHUNK_SECONDS}), 1 worker × concurrency 1`);
      whole.push(await pipeline(audio, dir, WHOLE_CHUNK_SECONDS, { workers: 1, concurrency: 1 }));
      log(`pipeline, one chunk${of}: ${secs(whole.at(-1)!.wallSeconds)}`);
    }
    log(`pipeline, chunks of ${config.chunkSeconds} s, 1 worker × concurrency 1`);
    const chunked1 = await pipeline(audio, dir, config.chunkSeconds, { workers: 1, concurrency: 1 });
    log(`pipeline, ${chunked1.chunks} chunks, 1 worker: ${secs(chunked1.wallSeconds)}; now 2 workers × concurrency 1`);
    const chunked2 = await pipeline(audio, dir, config.chunkSeconds, { workers: 2, concurrency: 1 });
    log(`pipeline, ${chunked2.chunks} chunks, 2 workers: ${secs(chunked2.wallSeconds)}`);
    const loadAfter = loadAverage();
    const bareMedian = bare.length > 0 ? median(bare.map((b) => b.wallSeconds)) : null;
    const results: Results = {
      audio: {
        source: SOURCE_FILE,
        durationSeconds: audio.durationSeconds,
        copies: audio.copies,
        utterances: audio.utterances,
        referenceWords: normalizeWords(audio.reference).length,
      },
      bare,
      whole,
      chunked1,
      chunked2,
      overhead: bareMedian === null ? null : (median(whole.map((x) => x.wallSeconds)) - bareMedian) / bareMedian,
      engineOverhead: median(whole.map((x) => (x.wallSeconds - x.engine.seconds) / x.engine.seconds)),
      speedUp: chunked1.wallSeconds / chunked2.wallSeconds,
    };
    const tableRows = rows(results, config, info.cores);
    if (config.json) {
      const { json: _json, ...settings } = config;
      const doc = { machine: { ...info, loadAverageBefore: loadBefore, loadAverageAfter: loadAfter }, config: settings, targets: TARGETS, results, rows: tableRows };
      process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
      return;
    }
    process.stdout.write(`Earshot transcription benchmark — ${info.cores} cores (${info.cpuModel}), ${info.memoryGiB} GiB, node ${info.node}\n`);
    process.stdout.write(
      `audio: ${(audio.durationSeconds / 60).toFixed(2)} min of ${SOURCE_FILE} looped (${audio.utterances} utterances); load average before ${loadBefore.join(' ')}, after ${loadAfter.join(' ')}\n`,
    );
    process.stdout.write('cpu: CPU seconds of this process and its child processes (ffmpeg, pocketsphinx) during the measurement\n');
    process.stdout.write(`\n${table(tableRows)}\n`);
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  log(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
