import { createReadStream, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { LOCAL_TENANT, createApp, createWorker } from '../app.js';
import { EarshotError } from '../core/errors.js';
import type { JobDetail } from '../ports/store.js';
import { renderTranscript, transcriptFormats, type TranscriptFormat } from '../pipelines/transcribe/render.js';
import { readTranscript } from '../pipelines/transcribe/transcribe.js';
import { DB_SETTINGS, PIPELINE_SETTINGS, type Command } from './command.js';
import { MultiProgress } from './progress.js';

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Tasks done of tasks known, and the step in progress, for a job's bar. */
function progressOf(job: JobDetail): { done: number; total: number; label: string } {
  const total = job.steps.reduce((a, s) => a + s.total, 0);
  const done = job.steps.reduce((a, s) => a + s.done, 0);
  const current = job.steps.find((s) => s.state === 'running') ?? job.steps.find((s) => s.state === 'pending');
  const label = job.finishedAt !== null ? job.status : (current?.step.replace('transcribe.', '') ?? job.status);
  // Until prepare has planned the chunks, the ASR step is not known: count it as one more.
  return { done, total: total + (job.steps.some((s) => s.step === 'transcribe.asr') ? 0 : 1), label };
}

export const transcribeCommand: Command = {
  name: 'transcribe',
  summary: 'Transcribes files on this machine through the same pipeline as the server (probe, chunk, ASR in parallel, stitch), with a progress bar per file.',
  usage: 'earshot transcribe FILES... [--language en] [--format txt,srt] [--out DIR] [--engine NAME]',
  settings: [...DB_SETTINGS, 'concurrency', ...PIPELINE_SETTINGS],
  options: {
    language: { type: 'string' },
    format: { type: 'string' },
    out: { type: 'string' },
    engine: { type: 'string' },
    model: { type: 'string' },
  },
  optionsHelp: [
    '  --language L   ISO 639-1 code (en, es, ...) or auto (default)',
    `  --format F     comma-separated: ${transcriptFormats.join(', ')} (default txt)`,
    '  --out DIR      where to write FILE.FORMAT (default: the current directory)',
    '  --engine NAME  whisper, pocketsphinx, mock or openai (default: --asr-engine)',
  ].join('\n'),
  async run(ctx) {
    if (ctx.args.length === 0) throw new EarshotError('bad_request', `name at least one file\nusage: ${transcribeCommand.usage}`);
    for (const f of ctx.args) if (!existsSync(f)) throw new EarshotError('bad_request', `no such file: ${f}`);
    const formats = (str(ctx.values.format) ?? 'txt').split(',').map((f) => f.trim()) as TranscriptFormat[];
    const outDir = resolve(str(ctx.values.out) ?? '.');
    const config = { ...ctx.config(), logLevel: 'warn' };
    const app = await createApp(config);
    const worker = createWorker(app, { pools: ['cpu', 'io', 'asr'] });
    await worker.start();
    const bars = new MultiProgress();
    let failures = 0;
    try {
      const raw = {
        language: str(ctx.values.language),
        engine: str(ctx.values.engine),
        model: str(ctx.values.model),
        formats: formats.join(','),
      };
      // Refuse bad options before any file is stored.
      app.transcriptions.options(raw);
      mkdirSync(outDir, { recursive: true });
      await Promise.all(
        ctx.args.map(async (file) => {
          const name = basename(file);
          const { uploadId } = await app.transcriptions.storeUpload(LOCAL_TENANT, createReadStream(file), { filename: name });
          const { job } = await app.transcriptions.submitUpload(LOCAL_TENANT, uploadId, raw);
          const draw = async () => {
            const j = await app.engine.getJob(job.id);
            const p = progressOf(j);
            bars.update(name, p.done, p.total, p.label);
            return j;
          };
          const unsubscribe = app.store.subscribe((e) => {
            if (e.type === 'ready' || (e.type === 'job' && e.jobId === job.id)) void draw().catch(() => {});
          });
          let j = await draw();
          while (j.finishedAt === null) {
            await new Promise((r) => setTimeout(r, 200));
            j = await draw();
          }
          unsubscribe();
          if (j.status !== 'succeeded') {
            failures++;
            ctx.err.write(`${name}: ${j.error?.code ?? j.status}: ${j.error?.message ?? ''}\n`);
            return;
          }
          const transcript = await readTranscript(app.blobs, LOCAL_TENANT, job.id);
          for (const f of formats) writeFileSync(join(outDir, `${basename(file, extname(file))}.${f}`), renderTranscript(transcript, f));
        }),
      );
    } finally {
      await worker.stop(5000);
      await app.close();
    }
    return failures > 0 ? 1 : 0;
  },
};
