/**
 * Transcriptions: direct multipart upload, pre-signed uploads, results and download links, and the
 * simple aliases of the original service (`/upload-audio/`, `/status/{id}`, `/result/{id}`).
 */
import multipart from '@fastify/multipart';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { EarshotError } from '../../core/errors.js';
import type { Engine } from '../../engine/engine.js';
import { onDamageChoices, type RawOptions } from '../../pipelines/transcribe/options.js';
import { transcriptFormats } from '../../pipelines/transcribe/render.js';
import { notesFormats } from '../../pipelines/transcribe/keys.js';
import { defaultNoteTemplate, noteTemplates } from '../../pipelines/notes/templates.js';
import type { TranscriptionService } from '../../pipelines/transcribe/service.js';
import { readTranscript } from '../../pipelines/transcribe/transcribe.js';
import type { BlobStore } from '../../ports/blob-store.js';
import { errorResponses } from './errors.js';
import { jobDetailJson } from './job-json.js';
import { withMultipartUpload } from './multipart.js';
import { openAiRoutes } from './openai-routes.js';

export interface TranscriptionRoutesDeps {
  engine: Engine;
  blobs: BlobStore;
  service: TranscriptionService;
  maxUploadBytes: number;
}

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 100 } } } as const;
const tags = ['transcriptions'];
const optionFields = {
  language: { type: 'string', description: 'ISO 639-1 code (en, es, ...) or auto. Default auto.' },
  engine: { type: 'string', description: 'ASR engine: whisper, pocketsphinx, mock, openai (what the workers have).' },
  model: { type: 'string' },
  priority: { type: 'string', enum: ['urgent', 'high', 'normal', 'low'] },
  formats: { type: 'string', description: `Comma-separated: ${transcriptFormats.join(', ')}. Default all.` },
  prompt: { type: 'string' },
  temperature: { type: 'number' },
  chunk_seconds: { type: 'number', description: 'Preferred chunk length for long recordings (30–3600 s). Default 180.' },
  notify_email: { type: 'string', description: 'E-mail the outcome here, with temporary download links (needs a mail server configured).' },
  webhook_url: { type: 'string', description: 'POST signed job events here (see "Webhooks" in docs/API.md).' },
  webhook_events: {
    anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
    description: 'Events for webhook_url: job.succeeded, job.failed, job.cancelled (default: those three), job.progress (opt-in).',
  },
  on_damage: {
    type: 'string',
    enum: [...onDamageChoices],
    description: 'A damaged file (decode errors, audio ending before its declared length): transcribe what can be read and list `warnings` (transcribe, the default), or fail the job with corrupt_media (reject).',
  },
  notes: {
    anyOf: [{ type: 'boolean' }, { type: 'string' }],
    description: `true, or the name of a notes template (${noteTemplates.join(', ')}; true is ${defaultNoteTemplate}). The notes are GET ?format=notes and ?format=notes.md.`,
  },
} as const;

export function transcriptionRoutes(deps: TranscriptionRoutesDeps): FastifyPluginAsync {
  const { engine, service } = deps;
  const now = () => engine.clock.now();
  const multipartSchema = { consumes: ['multipart/form-data'], tags } as const;

  return async (app) => {
    await app.register(multipart, { limits: { fileSize: deps.maxUploadBytes + 1, files: 1, fields: 50, fieldSize: 64 * 1024 } });
    await app.register(openAiRoutes({ engine, blobs: deps.blobs, service }));

    const create = (request: FastifyRequest) =>
      withMultipartUpload(
        request,
        service,
        (fields) => service.options(fields),
        ({ uploadId, fields }) => {
          const key = request.headers['idempotency-key'];
          return service.submitUpload(request.tenantId, uploadId, fields, typeof key === 'string' && key ? key : undefined);
        },
      );

    app.post(
      '/v1/transcriptions',
      {
        schema: {
          ...multipartSchema,
          summary: 'Upload a recording and start transcribing it',
          description: `multipart/form-data with the media in \`file\` and any of these fields: ${Object.keys(optionFields).join(', ')}. Answers 202 with the job; poll it or wait for the notification, then GET the result.`,
          response: errorResponses(400, 401, 409, 413, 422, 429),
        },
      },
      async (request, reply) => {
        const { job, created } = await create(request);
        void reply.code(created ? 202 : 200).header('location', `/v1/jobs/${job.id}`);
        if (!created) void reply.header('idempotent-replayed', 'true');
        return jobDetailJson(await engine.getJob(job.id, request.tenantId), now());
      },
    );

    app.get<{ Params: { id: string }; Querystring: { format: string } }>(
      '/v1/transcriptions/:id',
      {
        schema: {
          summary: 'A finished transcript',
          tags,
          params: idParams,
          description: 'format: a transcript (txt, json, srt, vtt), or the notes of a job that asked for them (notes: JSON, notes.md: Markdown).',
          querystring: { type: 'object', properties: { format: { type: 'string', enum: [...transcriptFormats, ...Object.keys(notesFormats)], default: 'json' } } },
          response: errorResponses(400, 401, 404, 409),
        },
      },
      async (request, reply) => {
        const { body, contentType } = await service.result(request.tenantId, request.params.id, request.query.format);
        return reply.type(contentType).send(body);
      },
    );

    app.get<{ Params: { id: string }; Querystring: { expires_in: number } }>(
      '/v1/transcriptions/:id/links',
      {
        schema: {
          summary: 'Temporary signed download links for each format',
          tags,
          params: idParams,
          querystring: { type: 'object', properties: { expires_in: { type: 'integer', minimum: 60, maximum: 7 * 86400, default: 3600 } } },
          response: errorResponses(401, 404, 409),
        },
      },
      async (request) => {
        const links = await service.links(request.tenantId, request.params.id, request.query.expires_in);
        return {
          links: Object.fromEntries(Object.entries(links).map(([f, l]) => [f, { url: l.url, expires_at: new Date(l.expiresAt).toISOString() }])),
        };
      },
    );

    app.post<{ Body: { filename?: string; content_type?: string; size_bytes?: number } }>(
      '/v1/uploads',
      {
        schema: {
          summary: 'Start a pre-signed upload',
          description: 'Answers with a URL to PUT the file to (straight to the object store in S3 mode), then POST /v1/uploads/{id}/complete.',
          tags,
          body: {
            type: 'object',
            additionalProperties: false,
            properties: {
              filename: { type: 'string', maxLength: 500 },
              content_type: { type: 'string', maxLength: 200 },
              size_bytes: { type: 'integer', minimum: 1 },
            },
          },
          response: errorResponses(400, 401, 413),
        },
      },
      async (request, reply) => {
        const b = request.body ?? {};
        const { uploadId, url } = await service.createUpload(request.tenantId, {
          ...(b.filename ? { filename: b.filename } : {}),
          ...(b.content_type ? { contentType: b.content_type } : {}),
          ...(b.size_bytes ? { sizeBytes: b.size_bytes } : {}),
        });
        void reply.code(201);
        return { upload_id: uploadId, upload_url: url.url, method: url.method, headers: url.headers, expires_at: new Date(url.expiresAt).toISOString() };
      },
    );

    app.post<{ Params: { id: string }; Body: RawOptions }>(
      '/v1/uploads/:id/complete',
      {
        schema: {
          summary: 'Finish a pre-signed upload and start transcribing it',
          tags,
          params: idParams,
          body: { type: 'object', additionalProperties: false, properties: optionFields },
          response: errorResponses(400, 401, 404, 409, 413, 422),
        },
      },
      async (request, reply) => {
        const key = request.headers['idempotency-key'];
        const { job, created } = await service.submitUpload(request.tenantId, request.params.id, request.body ?? {}, typeof key === 'string' && key ? key : undefined);
        void reply.code(created ? 202 : 200).header('location', `/v1/jobs/${job.id}`);
        return jobDetailJson(await engine.getJob(job.id, request.tenantId), now());
      },
    );

    // The original service's endpoints, kept as aliases.
    app.post('/upload-audio/', { schema: { ...multipartSchema, summary: 'Alias of POST /v1/transcriptions', response: errorResponses(400, 401, 413, 422) } }, async (request, reply) => {
      const { job } = await create(request);
      void reply.code(202);
      return { job_id: job.id, status: job.status };
    });

    app.get<{ Params: { job_id: string } }>('/status/:job_id', { schema: { summary: 'Alias: a job\'s status', tags } }, async (request) => {
      const job = await engine.getJob(request.params.job_id, request.tenantId);
      return { job_id: job.id, status: job.status, steps: job.steps, error: job.error };
    });

    app.get<{ Params: { job_id: string } }>('/result/:job_id', { schema: { summary: 'Alias: a finished job\'s transcript', tags } }, async (request) => {
      const job = await engine.getJob(request.params.job_id, request.tenantId);
      if (job.status !== 'succeeded') throw new EarshotError('conflict', 'the transcription is not finished yet', { details: { status: job.status } });
      const t = await readTranscript(deps.blobs, request.tenantId, job.id);
      return { job_id: job.id, status: job.status, language: t.language, transcription: t.text, segments: t.segments };
    });
  };
}
