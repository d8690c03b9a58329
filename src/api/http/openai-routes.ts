/**
 * OpenAI-compatible speech to text: `POST /v1/audio/transcriptions` and `/v1/audio/translations`,
 * so existing OpenAI clients work against Earshot by changing their base URL. Synchronous: the file
 * goes through the same job pipeline at urgent priority and the answer waits for it.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { EarshotError } from '../../core/errors.js';
import type { Engine } from '../../engine/engine.js';
import type { RawOptions } from '../../pipelines/transcribe/options.js';
import { renderTranscript, transcriptJson } from '../../pipelines/transcribe/render.js';
import type { TranscriptionService } from '../../pipelines/transcribe/service.js';
import { readTranscript } from '../../pipelines/transcribe/transcribe.js';
import type { BlobStore } from '../../ports/blob-store.js';
import { errorResponses } from './errors.js';
import { withMultipartUpload } from './multipart.js';

export interface OpenAiRoutesDeps {
  engine: Engine;
  blobs: BlobStore;
  service: TranscriptionService;
  /** How long a request may wait for its transcript. Default 10 min. */
  waitMs?: number;
}

const responseFormats = ['json', 'text', 'srt', 'vtt', 'verbose_json'] as const;

/**
 * The form's `response_format`, checked. The other fields the OpenAI API defines and we have no use
 * for (stream, include[], chunking_strategy, ...) are ignored, as clients send them.
 */
function responseFormat(fields: RawOptions): (typeof responseFormats)[number] {
  const format = String(fields.response_format ?? 'json');
  if (!(responseFormats as readonly string[]).includes(format)) {
    throw new EarshotError('bad_request', `response_format must be one of ${responseFormats.join(', ')}`, { details: { response_format: format } });
  }
  return format as (typeof responseFormats)[number];
}

export function openAiRoutes(deps: OpenAiRoutesDeps): FastifyPluginAsync {
  const { engine, service } = deps;

  /** Our options for an OpenAI form. */
  const options = (fields: RawOptions, translate: boolean): RawOptions => {
    const model = String(fields.model ?? '');
    return {
      // `whisper-1` and other model names mean the default engine; an engine's own name picks it.
      ...(service.engineNames().includes(model) ? { engine: model } : {}),
      language: translate ? 'auto' : (fields.language ?? 'auto'),
      prompt: fields.prompt,
      temperature: fields.temperature,
      translate: translate ? 'true' : undefined,
      priority: 'urgent',
      formats: 'txt,json',
    };
  };

  const handle = (translate: boolean) =>
    async (request: FastifyRequest, reply: FastifyReply) => {
      const { job, fields, format } = await withMultipartUpload(
        request,
        service,
        (early) => {
          responseFormat(early);
          service.options(options(early, translate));
        },
        async ({ uploadId, fields }) => {
          const format = responseFormat(fields);
          const { job } = await service.submitUpload(request.tenantId, uploadId, options(fields, translate));
          return { job, fields, format };
        },
      );
      const granularities = [fields['timestamp_granularities[]'], fields.timestamp_granularities].flat().filter(Boolean).map(String);
      const done = await engine.waitFor(job.id, { timeoutMs: deps.waitMs ?? 600_000 });
      if (done.status !== 'succeeded') {
        throw new EarshotError(done.error?.code ?? 'asr_failed', done.error?.message ?? 'the transcription failed', {
          details: { ...(done.error?.details ?? {}), job_id: job.id },
        });
      }
      const t = await readTranscript(deps.blobs, request.tenantId, job.id);
      switch (format) {
        case 'text':
          void reply.type('text/plain; charset=utf-8');
          return `${t.text}\n`;
        case 'srt':
        case 'vtt':
          void reply.type(format === 'srt' ? 'application/x-subrip; charset=utf-8' : 'text/vtt; charset=utf-8');
          return renderTranscript(t, format);
        case 'verbose_json': {
          const j = transcriptJson(t) as { segments: { id: number; start: number; end: number; text: string; words?: { word: string; start: number; end: number }[] }[] };
          return {
            task: translate ? 'translate' : 'transcribe',
            language: t.language,
            duration: t.durationMs / 1000,
            text: t.text,
            segments: j.segments.map(({ words: _w, ...s }) => ({ ...s, seek: 0, tokens: [], temperature: Number(fields.temperature ?? 0), avg_logprob: 0, compression_ratio: 0, no_speech_prob: 0 })),
            ...(granularities.includes('word') ? { words: j.segments.flatMap((s) => s.words ?? []) } : {}),
          };
        }
        default:
          return { text: t.text };
      }
    };

  const schema = (summary: string) => ({
    summary,
    tags: ['openai-compatible'],
    consumes: ['multipart/form-data'],
    description: 'multipart/form-data: file, model, language, prompt, response_format (json, text, srt, vtt, verbose_json), timestamp_granularities[], temperature.',
    response: errorResponses(400, 401, 413, 422, 429),
  });

  return async (app) => {
    app.post('/v1/audio/transcriptions', { schema: schema('Transcribe audio (OpenAI-compatible, synchronous)') }, handle(false));
    app.post('/v1/audio/translations', { schema: schema('Translate audio into English (OpenAI-compatible, synchronous)') }, handle(true));
  };
}
