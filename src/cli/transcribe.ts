import { createReadStream, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { LOCAL_TENANT, createApp, createWorker } from '../app.js';
import type { Config } from '../config/config.js';
import { EarshotError } from '../core/errors.js';
import { watchJob } from '../engine/job-events.js';
import { renderTranscript, transcriptFormats, type TranscriptFormat } from '../pipelines/transcribe/render.js';
import { readTranscript } from '../pipelines/transcribe/transcribe.js';
import { notesKey } from '../pipelines/transcribe/keys.js';
import { EarshotClient } from './client.js';
import { DB_SETTINGS, PIPELINE_SETTINGS, type Command, type CommandContext } from './command.js';
import { currentStep, followJob, remoteJobEvents, type JobView } from './follow.js';
import { MultiProgress } from './progress.js';

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Tasks done of tasks known, and the step in progress, for a job's bar. */
function progressOf(job: JobView): { done: number; total: number; label: string } {
  const label = job.finished ? job.status : (currentStep(job)?.replace('transcribe.', '') ?? job.status);
  // Until prepare has planned the chunks, the ASR step is not known: count it as one more.
  return { done: job.done, total: job.total + (job.steps.some((s) => s.step === 'transcribe.asr') ? 0 : 1), label };
}

interface Request {
  files: string[];
  /** The options as the API takes them (form fields). */
  fields: { language: string | undefined; engine: string | undefined; model: string | undefined; formats: string; notes?: string };
  formats: TranscriptFormat[];
  /** Also write FILE.notes.md. */
  notes: boolean;
  outDir: string;
}

/** `name: code: message` for a file whose job did not succeed. */
const failureLine = (name: string, job: JobView) => `${name}: ${job.error?.code ?? job.status}: ${job.error?.message ?? ''}`;

/** Where FILE's transcript in format F (or its notes) goes. */
const outFile = (r: Request, file: string, f: TranscriptFormat | 'notes.md') => join(r.outDir, `${basename(file, extname(file))}.${f}`);

/** Runs the pipeline in this process, with a worker of its own. Bars follow `watchJob`. */
async function transcribeHere(ctx: CommandContext, config: Config, r: Request, bars: MultiProgress): Promise<number> {
  const app = await createApp({ ...config, logLevel: 'warn' });
  const worker = createWorker(app, { pools: ['cpu', 'io', 'asr'] });
  await worker.start();
  const signal = new AbortController().signal;
  let failures = 0;
  try {
    // Refuse bad options before any file is stored.
    app.transcriptions.options(r.fields);
    mkdirSync(r.outDir, { recursive: true });
    await Promise.all(
      r.files.map(async (file) => {
        const name = basename(file);
        const { uploadId } = await app.transcriptions.storeUpload(LOCAL_TENANT, createReadStream(file), { filename: name });
        const { job } = await app.transcriptions.submitUpload(LOCAL_TENANT, uploadId, r.fields);
        const events = watchJob(app.engine, job.id, { tenantId: LOCAL_TENANT, signal, pollMs: 200 });
        const outcome = await followJob(events, (v) => {
          const p = progressOf(v);
          bars.update(name, p.done, p.total, p.label);
        });
        if (outcome.status !== 'succeeded') {
          failures++;
          ctx.err.write(`${failureLine(name, outcome)}\n`);
          return;
        }
        const transcript = await readTranscript(app.blobs, LOCAL_TENANT, job.id);
        for (const f of r.formats) writeFileSync(outFile(r, file, f), renderTranscript(transcript, f));
        if (r.notes) await app.blobs.download(notesKey(LOCAL_TENANT, job.id, 'notes.md'), outFile(r, file, 'notes.md'));
      }),
    );
  } finally {
    await worker.stop(5000);
    await app.close();
  }
  return failures > 0 ? 1 : 0;
}

/** Uploads each file to a server, follows its job's events, and downloads the results. */
async function transcribeOnServer(ctx: CommandContext, client: EarshotClient, r: Request, bars: MultiProgress): Promise<number> {
  mkdirSync(r.outDir, { recursive: true });
  let failures = 0;
  await Promise.all(
    r.files.map(async (file) => {
      const name = basename(file);
      try {
        bars.update(name, 0, 1, 'uploading');
        const job = await client.uploadFile<{ id: string }>(file, r.fields);
        const outcome = await followJob(remoteJobEvents(client, job.id), (v) => {
          const p = progressOf(v);
          bars.update(name, p.done, p.total, p.label);
        });
        if (outcome.status !== 'succeeded') {
          failures++;
          ctx.err.write(`${failureLine(name, outcome)} (job ${job.id})\n`);
          return;
        }
        for (const f of [...r.formats, ...(r.notes ? (['notes.md'] as const) : [])]) {
          await client.download(`/v1/transcriptions/${encodeURIComponent(job.id)}?format=${f}`, outFile(r, file, f));
        }
      } catch (err) {
        if (!(err instanceof EarshotError)) throw err;
        failures++;
        ctx.err.write(`${name}: ${err.code}: ${err.message}\n`);
      }
    }),
  );
  return failures > 0 ? 1 : 0;
}

export const transcribeCommand: Command = {
  name: 'transcribe',
  summary:
    'Transcribes files on this machine through the same pipeline as the server (probe, chunk, ASR in parallel, stitch), or on a server with --server, with a progress bar per file.',
  usage: 'earshot transcribe FILES... [--language en] [--format txt,srt] [--out DIR] [--engine NAME] [--notes TEMPLATE] [--server URL [--api-key KEY]]',
  settings: [...DB_SETTINGS, 'concurrency', ...PIPELINE_SETTINGS, 'serverUrl', 'apiKey'],
  options: {
    language: { type: 'string' },
    format: { type: 'string' },
    out: { type: 'string' },
    engine: { type: 'string' },
    model: { type: 'string' },
    notes: { type: 'string' },
  },
  optionsHelp: [
    '  --language L   ISO 639-1 code (en, es, ...) or auto (default)',
    `  --format F     comma-separated: ${transcriptFormats.join(', ')} (default txt)`,
    '  --out DIR      where to write FILE.FORMAT (default: the current directory)',
    '  --engine NAME  whisper, pocketsphinx, mock or openai (default: --asr-engine, or the server\'s default)',
    '  --notes T      also write FILE.notes.md: T is a notes template (diary, meeting, lecture) or true (diary)',
    '  --server URL   upload to this Earshot server (POST /v1/transcriptions), follow its progress and download',
    '                 the results, instead of running the pipeline here',
  ].join('\n'),
  async run(ctx) {
    if (ctx.args.length === 0) throw new EarshotError('bad_request', `name at least one file\nusage: ${transcribeCommand.usage}`);
    for (const f of ctx.args) if (!existsSync(f)) throw new EarshotError('bad_request', `no such file: ${f}`);
    const formats = (str(ctx.values.format) ?? 'txt').split(',').map((f) => f.trim()) as TranscriptFormat[];
    const unknown = formats.filter((f) => !transcriptFormats.includes(f));
    if (unknown.length > 0) throw new EarshotError('bad_request', `unknown format ${unknown.join(', ')}: use ${transcriptFormats.join(', ')}`);
    const request: Request = {
      files: ctx.args,
      fields: {
        language: str(ctx.values.language),
        engine: str(ctx.values.engine),
        model: str(ctx.values.model),
        formats: formats.join(','),
        ...(str(ctx.values.notes) ? { notes: str(ctx.values.notes)! } : {}),
      },
      formats,
      notes: Boolean(str(ctx.values.notes)) && str(ctx.values.notes) !== 'false',
      outDir: resolve(str(ctx.values.out) ?? '.'),
    };
    const config = ctx.config();
    const bars = new MultiProgress();
    const { serverUrl, apiKey } = config.client;
    if (serverUrl) return transcribeOnServer(ctx, new EarshotClient({ serverUrl, apiKey }), request, bars);
    return transcribeHere(ctx, config, request, bars);
  },
};
