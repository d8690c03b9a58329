/**
 * The `transcription` job: probe → prepare (decode to 16 kHz mono, find speech, plan chunks, fan
 * out) → one `transcribe.asr` task per chunk in the `asr` pool → merge (stitch) → render (txt, json,
 * srt, vtt). Media is always copied from the blob store to a local file first: ffmpeg never sees a URL.
 */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { supportsLanguage, ASR_SAMPLE_RATE } from '../../core/asr.js';
import { EarshotError, permanent, retryable } from '../../core/errors.js';
import type { Json, TaskSpec } from '../../core/job.js';
import { parseWavHeader, WAV_HEADER_BYTES } from '../../core/wav.js';
import type { Registry, TaskContext } from '../../engine/registry.js';
import type { AsrEngines, AsrResult } from '../../ports/asr-engine.js';
import type { BlobStore } from '../../ports/blob-store.js';
import type { Llm } from '../../ports/llm.js';
import type { DecodeWarning, MediaTool } from '../../ports/media-tool.js';
import type { SpeechRegion, Vad } from '../../ports/vad.js';
import { smoothRegions } from './speech.js';
import { planChunks, type Chunk } from './chunk-plan.js';
import { checkTranscriptionInput, uploadBlobKey, type TranscriptionInput } from './options.js';
import { contentTypes, renderTranscript } from './render.js';
import { stitch, type ChunkResult } from './stitch.js';
import type { Transcript } from './transcript.js';
import { withWorkDir } from './work-dir.js';
import { jobBlobKey, notesContentTypes, notesKey, resultKey } from './keys.js';
import { extractiveNotes } from '../notes/extractive.js';
import { renderNotesMarkdown } from '../notes/render-notes.js';
import { defaultNoteTemplate } from '../notes/templates.js';
import { writeNotes } from '../notes/write-notes.js';

export const TRANSCRIPTION = 'transcription';
export const STEPS = {
  probe: 'transcribe.probe',
  prepare: 'transcribe.prepare',
  asr: 'transcribe.asr',
  merge: 'transcribe.merge',
  render: 'transcribe.render',
  notes: 'transcribe.notes',
} as const;

export interface TranscribeDeps {
  blobs: BlobStore;
  media: MediaTool;
  vad: Vad;
  engines: AsrEngines;
  /** Local scratch space for downloads and decoding. */
  workDir: string;
  /** Default chunk length. Default 180 s. */
  chunkSeconds?: number;
  /** The chat model that writes notes; without one, notes are extractive. */
  llm?: Llm;
}


interface PrepareOutput {
  audio_key: string;
  duration_ms: number;
  speech_ms: number;
  chunks: number;
  /** Damage the decode read past; the job's and the transcript's warnings. */
  warnings?: DecodeWarning[];
}

interface AsrTaskInput {
  audioKey: string;
  chunk: Chunk;
}

const input = (ctx: TaskContext) => ctx.task.jobInput as unknown as TranscriptionInput;

/** VAD runs on windows of this much audio, so memory stays flat on a two-hour file. */
const VAD_WINDOW_SECONDS = 60;

export function registerTranscribe(registry: Registry, deps: TranscribeDeps): void {
  registry.defineJob<TranscriptionInput>({
    kind: TRANSCRIPTION,
    public: true,
    plan: (raw) => {
      checkTranscriptionInput(raw);
      const steps: TaskSpec[] = [
        { key: 'probe', type: STEPS.probe },
        { key: 'prepare', type: STEPS.prepare, dependsOn: ['probe'] },
        { key: 'merge', type: STEPS.merge, dependsOn: ['prepare'] },
        { key: 'render', type: STEPS.render, dependsOn: ['merge'] },
      ];
      if (raw.notes) steps.push({ key: 'notes', type: STEPS.notes, dependsOn: ['merge'] });
      return steps;
    },
    // The media is the submitting tenant's own upload, whoever submits (POST /v1/jobs included).
    checkReferences: async (raw, { tenantId, store }) => {
      const uploadId = raw.source.uploadId;
      if (!(await store.getUpload(uploadId, tenantId))) throw permanent('not_found', 'no such upload', { upload_id: uploadId });
    },
  });

  // Media errors say themselves whether they are worth retrying; ffmpeg crashes are (a worker may be short of memory).
  registry.defineTask({ type: STEPS.probe, pool: 'cpu', handler: (ctx) => probe(ctx, deps) });
  registry.defineTask({ type: STEPS.prepare, pool: 'cpu', handler: (ctx) => prepare(ctx, deps) });
  registry.defineTask({ type: STEPS.asr, pool: 'asr', retry: { maxAttempts: 3, initialDelayMs: 2000 }, handler: (ctx) => transcribeChunk(ctx, deps) });
  registry.defineTask({ type: STEPS.merge, pool: 'cpu', handler: (ctx) => merge(ctx, deps) });
  registry.defineTask({ type: STEPS.render, pool: 'cpu', handler: (ctx) => render(ctx, deps) });
  // Notes wait on a chat model over the network (or take milliseconds offline): the io pool.
  registry.defineTask({ type: STEPS.notes, pool: 'io', retry: { maxAttempts: 4, initialDelayMs: 5000 }, handler: (ctx) => notes(ctx, deps) });
}

async function fetchSource(ctx: TaskContext, deps: TranscribeDeps, dir: string): Promise<string> {
  const file = join(dir, 'source');
  try {
    await deps.blobs.download(uploadBlobKey(ctx.task.tenantId, input(ctx).source.uploadId), file);
  } catch (err) {
    if (err instanceof EarshotError && err.code === 'not_found') throw permanent('not_found', 'the uploaded file is gone from storage');
    throw err;
  }
  return file;
}

async function probe(ctx: TaskContext, deps: TranscribeDeps): Promise<Json> {
  return withWorkDir(deps.workDir, ctx.task.id, async (dir) => {
    const info = await deps.media.probe(await fetchSource(ctx, deps, dir), { signal: ctx.signal });
    const audio = info.audio[0];
    if (!audio) throw permanent('unsupported_media', 'the file has no audio stream', { reason: 'no_audio' });
    return {
      format: info.formatName,
      // The stream's own length: the container's may be a longer subtitle or video track's.
      duration_seconds: audio.durationSeconds ?? info.durationSeconds,
      size_bytes: info.sizeBytes,
      audio: { codec: audio.codec, sample_rate: audio.sampleRate, channels: audio.channels },
      video: info.video.length > 0,
    };
  });
}

/** Speech regions of a 16 kHz mono WAV file, read window by window. */
async function detectSpeech(file: string, deps: TranscribeDeps, signal: AbortSignal): Promise<{ regions: SpeechRegion[]; durationMs: number }> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(4096);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    const wav = parseWavHeader(head.subarray(0, bytesRead));
    const size = (await stat(file)).size;
    const dataBytes = Math.min(wav.dataBytes, size - wav.dataOffset);
    const windowBytes = VAD_WINDOW_SECONDS * ASR_SAMPLE_RATE * 2;
    const regions: SpeechRegion[] = [];
    for (let at = 0; at < dataBytes; at += windowBytes) {
      signal.throwIfAborted();
      const buf = Buffer.alloc(Math.min(windowBytes, dataBytes - at));
      await handle.read(buf, 0, buf.length, wav.dataOffset + at);
      const pcm = new Int16Array(buf.buffer, buf.byteOffset, Math.floor(buf.length / 2));
      const offsetMs = (at / 2 / ASR_SAMPLE_RATE) * 1000;
      for (const r of await deps.vad.detect(pcm, ASR_SAMPLE_RATE, { signal })) regions.push({ startMs: r.startMs + offsetMs, endMs: r.endMs + offsetMs });
      // Yield between windows: in `earshot serve` the API shares this event loop.
      await new Promise((r) => setImmediate(r));
    }
    return { regions: smoothRegions(regions), durationMs: Math.round((dataBytes / 2 / ASR_SAMPLE_RATE) * 1000) };
  } finally {
    await handle.close();
  }
}

async function prepare(ctx: TaskContext, deps: TranscribeDeps): Promise<Json> {
  const job = input(ctx);
  return withWorkDir(deps.workDir, ctx.task.id, async (dir) => {
    const source = await fetchSource(ctx, deps, dir);
    const wavFile = join(dir, 'audio.wav');
    const { warnings } = await deps.media.decodeAudio(source, wavFile, {
      signal: ctx.signal,
      sampleRate: ASR_SAMPLE_RATE,
      onProgress: (seconds) => ctx.progress({ decoded_seconds: Math.round(seconds) }),
    });
    if (warnings.length > 0 && job.onDamage === 'reject') {
      throw permanent('corrupt_media', `the file is damaged (${warnings.map((w) => w.message).join('; ')})`, { reason: 'damaged', on_damage: 'reject', warnings });
    }
    const { regions, durationMs } = await detectSpeech(wavFile, deps, ctx.signal);
    const audioKey = jobBlobKey(ctx.task.tenantId, ctx.task.jobId, 'audio.wav');
    await deps.blobs.put(audioKey, createReadStream(wavFile), { contentType: 'audio/wav' });
    const chunks = planChunks(durationMs, regions, { targetMs: (job.chunkSeconds ?? deps.chunkSeconds ?? 180) * 1000 });
    const width = String(chunks.length).length;
    ctx.spawn(
      chunks.map((chunk) => ({
        key: `asr-${String(chunk.index).padStart(width, '0')}`,
        type: STEPS.asr,
        input: { audioKey, chunk } satisfies AsrTaskInput as unknown as Json,
        blocks: ['merge'],
      })),
    );
    const speechMs = regions.reduce((a, r) => a + r.endMs - r.startMs, 0);
    return { audio_key: audioKey, duration_ms: durationMs, speech_ms: speechMs, chunks: chunks.length, ...(warnings.length > 0 ? { warnings } : {}) } satisfies PrepareOutput;
  });
}

/** Reads the chunk's samples straight from the stored WAV with a range request. */
async function readChunk(deps: TranscribeDeps, audioKey: string, chunk: Chunk): Promise<Int16Array> {
  const start = WAV_HEADER_BYTES + Math.floor((chunk.startMs * ASR_SAMPLE_RATE) / 1000) * 2;
  const end = WAV_HEADER_BYTES + Math.floor((chunk.endMs * ASR_SAMPLE_RATE) / 1000) * 2 - 1;
  const parts: Buffer[] = [];
  for await (const part of await deps.blobs.get(audioKey, { start, end })) parts.push(part as Buffer);
  const bytes = Buffer.concat(parts);
  const pcm = new Int16Array(Math.floor(bytes.length / 2));
  Buffer.from(pcm.buffer).set(bytes.subarray(0, pcm.length * 2));
  return pcm;
}

async function transcribeChunk(ctx: TaskContext, deps: TranscribeDeps): Promise<Json> {
  const job = input(ctx);
  const { audioKey, chunk } = ctx.task.input as unknown as AsrTaskInput;
  if (!chunk.hasSpeech) return { chunk, result: null } as unknown as Json;
  const engine = await deps.engines.get(job.engine);
  if (!supportsLanguage(engine.capabilities, job.language)) {
    throw new EarshotError('unsupported_language', `the ${engine.name} engine does not transcribe "${job.language}"`, {
      details: { engine: engine.name, language: job.language },
    });
  }
  const pcm = await readChunk(deps, audioKey, chunk);
  let result: AsrResult;
  try {
    result = await engine.transcribe({
      pcm,
      language: job.language,
      signal: ctx.signal,
      ...(job.prompt ? { prompt: job.prompt } : {}),
      ...(job.temperature !== undefined ? { temperature: job.temperature } : {}),
      ...(job.translate ? { translate: true } : {}),
    });
  } catch (err) {
    if (err instanceof EarshotError || (err instanceof Error && err.name === 'AbortError')) throw err;
    throw retryable('asr_failed', `the ${engine.name} engine failed: ${(err as Error).message}`);
  }
  return { chunk, result, engine: engine.name, model: engine.model } as unknown as Json;
}

async function merge(ctx: TaskContext, deps: TranscribeDeps): Promise<Json> {
  const job = input(ctx);
  const outputs = await ctx.dependencyOutputs();
  const prepared = outputs.find((o) => o.type === STEPS.prepare)?.output as unknown as PrepareOutput;
  const parts = outputs.filter((o) => o.type === STEPS.asr).map((o) => o.output as unknown as ChunkResult & { engine?: string; model?: string });
  const used = parts.find((p) => p.engine);
  const transcript = stitch(parts, {
    durationMs: prepared.duration_ms,
    engine: used?.engine ?? job.engine,
    model: used?.model ?? job.model ?? '',
    language: job.language,
  });
  if (prepared.warnings && prepared.warnings.length > 0) transcript.warnings = prepared.warnings;
  const key = jobBlobKey(ctx.task.tenantId, ctx.task.jobId, 'transcript.internal.json');
  await deps.blobs.put(key, Buffer.from(JSON.stringify(transcript)), { contentType: 'application/json' });
  const words = transcript.text.split(/\s+/).filter(Boolean).length;
  return { transcript_key: key, language: transcript.language, segments: transcript.segments.length, words, duration_ms: transcript.durationMs };
}

async function render(ctx: TaskContext, deps: TranscribeDeps): Promise<Json> {
  const job = input(ctx);
  const merged = (await ctx.dependencyOutputs()).find((o) => o.type === STEPS.merge)?.output as { transcript_key: string };
  const chunks: Buffer[] = [];
  for await (const c of await deps.blobs.get(merged.transcript_key)) chunks.push(c as Buffer);
  const transcript = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Transcript;
  const results: Record<string, string> = {};
  for (const format of job.formats) {
    const key = resultKey(ctx.task.tenantId, ctx.task.jobId, format);
    await deps.blobs.put(key, Buffer.from(renderTranscript(transcript, format), 'utf8'), { contentType: contentTypes[format] });
    results[format] = key;
  }
  return { results, language: transcript.language, words: transcript.text.split(/\s+/).filter(Boolean).length };
}

async function notes(ctx: TaskContext, deps: TranscribeDeps): Promise<Json> {
  const job = input(ctx);
  const template = typeof job.notes === 'string' ? job.notes : defaultNoteTemplate;
  const transcript = await readTranscript(deps.blobs, ctx.task.tenantId, ctx.task.jobId);
  const recordedAt = new Date(ctx.clock.now()).toISOString();
  const doc = deps.llm
    ? await writeNotes(deps.llm, { text: transcript.text, language: transcript.language, durationMs: transcript.durationMs, recordedAt }, { template, signal: ctx.signal })
    : extractiveNotes({ text: transcript.text, language: transcript.language, segments: transcript.segments, recordedAt }, template);
  await deps.blobs.put(notesKey(ctx.task.tenantId, ctx.task.jobId, 'notes'), Buffer.from(`${JSON.stringify(doc, null, 2)}\n`), { contentType: 'application/json' });
  await deps.blobs.put(notesKey(ctx.task.tenantId, ctx.task.jobId, 'notes.md'), Buffer.from(renderNotesMarkdown(doc), 'utf8'), { contentType: notesContentTypes['notes.md'] });
  return { source: doc.source, template: doc.template, title: doc.title, model: doc.model };
}

/** The stored transcript of a finished job (the merge step's output), for the API and the CLI. */
export async function readTranscript(blobs: BlobStore, tenantId: string, jobId: string): Promise<Transcript> {
  const chunks: Buffer[] = [];
  for await (const c of await blobs.get(jobBlobKey(tenantId, jobId, 'transcript.internal.json'))) chunks.push(c as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Transcript;
}

