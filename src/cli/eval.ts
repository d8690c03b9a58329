import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createEngines } from '../app.js';
import { createFfmpegMediaTool } from '../adapters/media/ffmpeg/ffmpeg-media-tool.js';
import { createEnergyVad } from '../adapters/vad/energy/energy-vad.js';
import { supportsLanguage } from '../core/asr.js';
import { EarshotError } from '../core/errors.js';
import { decodeWav } from '../core/wav.js';
import { combineWer, wordErrorRate, type WerResult } from '../core/wer.js';
import { transcribeLocally } from '../pipelines/transcribe/local.js';
import { PIPELINE_SETTINGS, type Command } from './command.js';
import { ProgressBar } from './progress.js';

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

interface Row {
  file: string;
  language: string;
  reference: string;
}

function readManifest(path: string): Row[] {
  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l.trim());
  const header = lines.shift()?.split('\t') ?? [];
  const col = (name: string) => header.indexOf(name);
  if (col('file') < 0 || col('language') < 0 || col('reference') < 0) {
    throw new EarshotError('bad_request', 'the manifest needs a header with file, language and reference columns (tab-separated)');
  }
  return lines.map((l) => {
    const f = l.split('\t');
    return { file: resolve(dirname(path), f[col('file')]!), language: f[col('language')]!, reference: f[col('reference')]! };
  });
}

const pct = (w: number) => `${(w * 100).toFixed(1)}%`;

export const evalCommand: Command = {
  name: 'eval',
  summary:
    'Measures word error rate on a manifest of recordings with reference transcripts, per language; --chunked compares transcribing each file whole with cutting it into chunks as jobs do.',
  usage: 'earshot eval wer --manifest FILE.tsv [--engine NAME] [--chunked] [--chunk-seconds N] [--limit N]',
  settings: PIPELINE_SETTINGS,
  options: { manifest: { type: 'string' }, engine: { type: 'string' }, chunked: { type: 'boolean' }, limit: { type: 'string' } },
  optionsHelp: [
    '  --manifest FILE  TSV with a header: file, language, reference (paths relative to the manifest)',
    '  --engine NAME    the engine to measure (default: --asr-engine)',
    '  --chunked        also transcribe in chunks (--chunk-seconds) and print both WERs',
    '  --limit N        only the first N rows',
    '',
    'Normalisation before comparing: Unicode NFKC, lower case, punctuation removed (apostrophes inside',
    'words kept), accents kept, whitespace collapsed; numbers are compared as written (not spelled out).',
  ].join('\n'),
  async run(ctx) {
    if (ctx.args[0] !== 'wer') throw new EarshotError('bad_request', `usage: ${evalCommand.usage}`);
    const manifest = str(ctx.values.manifest);
    if (!manifest) throw new EarshotError('bad_request', '--manifest is required');
    const config = ctx.config();
    let rows = readManifest(resolve(manifest));
    if (ctx.values.limit) rows = rows.slice(0, Number(ctx.values.limit));
    const engines = createEngines(config);
    const name = str(ctx.values.engine) ?? config.asrEngine;
    const caps = engines.capabilities(name);
    if (!caps) throw new EarshotError('bad_request', `no engine "${name}"; have ${engines.names().join(', ')}`);
    const engine = await engines.get(name);
    const media = createFfmpegMediaTool({ timeoutMs: config.media.timeoutMs, maxDurationSeconds: config.media.maxDurationSeconds });
    const vad = createEnergyVad();
    const chunked = Boolean(ctx.values.chunked);
    const tmp = mkdtempSync(join(tmpdir(), 'earshot-eval-'));
    const whole = new Map<string, WerResult[]>();
    const parts = new Map<string, WerResult[]>();
    const skipped = new Map<string, number>();
    const bar = new ProgressBar(`eval ${name}`, process.stderr);
    try {
      for (const [i, row] of rows.entries()) {
        bar.update(i, rows.length, row.file.split('/').slice(-2).join('/'));
        if (!supportsLanguage(caps, row.language)) {
          skipped.set(row.language, (skipped.get(row.language) ?? 0) + 1);
          continue;
        }
        const wav = join(tmp, `${i}.wav`);
        await media.decodeAudio(row.file, wav);
        const { pcm } = decodeWav(readFileSync(wav));
        rmSync(wav);
        const run = async (chunkSeconds: number | null) => wordErrorRate(row.reference, (await transcribeLocally({ pcm, engine, vad, language: row.language, chunkSeconds })).text);
        whole.set(row.language, [...(whole.get(row.language) ?? []), await run(null)]);
        if (chunked) parts.set(row.language, [...(parts.get(row.language) ?? []), await run(config.chunkSeconds)]);
      }
      bar.finish(`${rows.length} files`);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
      await engines.close();
    }
    const lines = [`engine ${name} (${engine.model})`, ['language', 'files', 'words', 'WER', ...(chunked ? [`WER chunked (${config.chunkSeconds} s)`, 'difference'] : [])].join('\t')];
    for (const [language, results] of whole) {
      const w = combineWer(results);
      const row = [language, String(results.length), String(w.referenceWords), pct(w.wer)];
      if (chunked) {
        const c = combineWer(parts.get(language) ?? []);
        row.push(pct(c.wer), `${((c.wer - w.wer) * 100).toFixed(1)} points`);
      }
      lines.push(row.join('\t'));
    }
    for (const [language, n] of skipped) lines.push(`${language}\t${n}\t-\tskipped: the ${name} engine does not transcribe it`);
    ctx.out.write(`${lines.join('\n')}\n`);
  },
};
