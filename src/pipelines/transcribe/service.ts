/**
 * Transcriptions as clients see them: create from an upload stream or a pre-signed upload, read
 * results, issue download links. Shared by the HTTP API, the OpenAI-compatible routes and the CLI.
 */
import type { Readable } from 'node:stream';
import { supportsLanguage } from '../../core/asr.js';
import { EarshotError, permanent } from '../../core/errors.js';
import { isMediaType } from '../../core/media-type.js';
import { newId } from '../../core/ids.js';
import type { Json, JobRecord, Priority } from '../../core/job.js';
import type { Engine } from '../../engine/engine.js';
import type { AsrEngines } from '../../ports/asr-engine.js';
import type { BlobStore, SignedUrl } from '../../ports/blob-store.js';
import type { Store } from '../../ports/store.js';
import {
  parseTranscriptionOptions,
  parseUploadStagingKey,
  transcriptionInputJson,
  uploadBlobKey,
  uploadStagingKey,
  type RawOptions,
  type TranscriptionInput,
} from './options.js';
import { contentTypes, transcriptFormats, type TranscriptFormat } from './render.js';
import { describeTranscription } from './describe.js';
import { notesContentTypes, notesFormats, notesKey, resultKey, type NotesFormat } from './keys.js';
import { TRANSCRIPTION } from './transcribe.js';

export interface TranscriptionServiceOptions {
  engine: Engine;
  store: Store;
  blobs: BlobStore;
  engines: AsrEngines;
  maxUploadBytes: number;
  /** How long pre-signed upload URLs work. Default 3600 s. */
  uploadUrlSeconds?: number;
}

export interface FileMeta {
  filename?: string;
  contentType?: string;
  sizeBytes?: number;
}

export class TranscriptionService {
  constructor(private readonly o: TranscriptionServiceOptions) {}

  engineNames(): string[] {
    return this.o.engines.names();
  }

  /** Options checked against what the workers' engines can do: refused now rather than failed later. */
  options(raw: RawOptions) {
    const options = parseTranscriptionOptions(raw, { engine: this.o.engines.defaultEngine });
    const caps = this.o.engines.capabilities(options.engine);
    if (!caps) {
      throw new EarshotError('unsupported_engine', `no engine "${options.engine}"`, { details: { engines: this.o.engines.names() } });
    }
    // Asking an engine that knows one language to detect it is not an error: it is that language.
    if (options.language === 'auto' && !caps.languageDetection && caps.languages !== 'any' && caps.languages.length === 1) {
      options.language = caps.languages[0]!;
    }
    if (!supportsLanguage(caps, options.language)) {
      throw new EarshotError('unsupported_language', `the ${options.engine} engine does not transcribe "${options.language}"`, {
        details: { engine: options.engine, language: options.language, languages: caps.languages === 'any' ? 'any' : [...caps.languages] },
      });
    }
    if (options.translate && !caps.translation) throw new EarshotError('unsupported_language', `the ${options.engine} engine cannot translate`);
    return options;
  }

  /**
   * Streams a file into storage as a new upload; memory stays flat whatever its size. `field` names
   * where the content type came from, for the error that refuses one that is not a media type.
   */
  async storeUpload(tenantId: string, body: Readable, meta: FileMeta, field = 'content_type'): Promise<{ uploadId: string; sizeBytes: number }> {
    checkContentType(meta, field);
    const uploadId = newId('upl');
    const key = uploadBlobKey(tenantId, uploadId);
    const info = await this.o.blobs.put(key, body, { maxBytes: this.o.maxUploadBytes, ...(meta.contentType ? { contentType: meta.contentType } : {}) });
    try {
      await this.recordUpload(tenantId, uploadId, { ...meta, sizeBytes: info.sizeBytes }, this.o.engine.clock.now());
    } catch (err) {
      await this.o.blobs.delete(key);
      throw err;
    }
    return { uploadId, sizeBytes: info.sizeBytes };
  }

  /**
   * Removes an upload that did not become a job, its blobs and its row: what a refused request must
   * not leave behind. An upload a job uses stays.
   */
  async discardUpload(tenantId: string, uploadId: string): Promise<void> {
    const upload = await this.o.store.getUpload(uploadId, tenantId);
    if (!upload || upload.jobId) return;
    // The blobs first: should that fail, the row still leads to them.
    await Promise.all([this.o.blobs.delete(upload.blobKey), this.o.blobs.delete(uploadStagingKey(tenantId, uploadId))]);
    await this.o.store.deleteUpload(uploadId, tenantId);
  }

  /**
   * Checks a write to a blob key through a pre-signed URL: a completed upload is immutable (`conflict`),
   * a removed one is gone (`not_found`). Keys that are no upload's pass.
   */
  async checkUploadWrite(key: string): Promise<void> {
    const ref = parseUploadStagingKey(key);
    if (!ref) return;
    const upload = await this.o.store.getUpload(ref.uploadId, ref.tenantId);
    if (!upload) throw new EarshotError('not_found', 'no such upload', { details: { upload_id: ref.uploadId } });
    if (upload.jobId) {
      throw new EarshotError('conflict', 'the upload was completed and can no longer change; start a new upload', {
        details: { upload_id: ref.uploadId, job_id: upload.jobId },
      });
    }
  }

  private recordUpload(tenantId: string, uploadId: string, meta: FileMeta, expiresAt: number): Promise<void> {
    return this.o.store.createUpload({
      id: uploadId,
      tenantId,
      blobKey: uploadBlobKey(tenantId, uploadId),
      filename: meta.filename ?? null,
      contentType: meta.contentType ?? null,
      sizeBytes: meta.sizeBytes ?? null,
      jobId: null,
      createdAt: this.o.engine.clock.now(),
      expiresAt,
    });
  }

  /** A pre-signed upload: the client PUTs the bytes to `url`, then calls completeUpload. */
  async createUpload(tenantId: string, meta: FileMeta): Promise<{ uploadId: string; url: SignedUrl }> {
    checkContentType(meta, 'content_type');
    if (meta.sizeBytes !== undefined && meta.sizeBytes > this.o.maxUploadBytes) {
      throw new EarshotError('payload_too_large', `the file is larger than ${this.o.maxUploadBytes} bytes`, { details: { max_bytes: this.o.maxUploadBytes } });
    }
    const uploadId = newId('upl');
    // Signed for the staging key only: what a job reads, completion copies elsewhere.
    const key = uploadStagingKey(tenantId, uploadId);
    const expiresInSeconds = this.o.uploadUrlSeconds ?? 3600;
    const url = await this.o.blobs.signUpload(key, { expiresInSeconds, ...(meta.contentType ? { contentType: meta.contentType } : {}) });
    await this.recordUpload(tenantId, uploadId, meta, url.expiresAt);
    return { uploadId, url };
  }

  /**
   * Turns an upload into a job. Bad options, an empty file or a refused job remove the upload; completing twice
   * (or replaying an idempotency key) returns the job the first call made. A pre-signed upload's bytes
   * are copied from where its URL put them to the key the job reads, which no URL can write.
   */
  async submitUpload(tenantId: string, uploadId: string, raw: RawOptions, idempotencyKey?: string): Promise<{ job: JobRecord; created: boolean }> {
    const upload = await this.o.store.getUpload(uploadId, tenantId);
    if (!upload) throw new EarshotError('not_found', 'no such upload', { details: { upload_id: uploadId } });
    const staged = uploadStagingKey(tenantId, uploadId);
    let info = await this.o.blobs.stat(upload.blobKey);
    const stagedInfo = info || upload.jobId ? undefined : await this.o.blobs.stat(staged);
    if (!info && !stagedInfo) {
      if (upload.jobId) return { job: await this.o.engine.getJob(upload.jobId, tenantId), created: false };
      throw new EarshotError('conflict', 'nothing was uploaded yet: PUT the file to upload_url first', { details: { upload_id: uploadId } });
    }
    let options;
    try {
      options = this.options(raw);
      const sizeBytes = (info ?? stagedInfo)!.sizeBytes;
      if (sizeBytes === 0) throw permanent('bad_request', 'the file is empty');
      if (sizeBytes > this.o.maxUploadBytes) {
        throw new EarshotError('payload_too_large', `the file is larger than ${this.o.maxUploadBytes} bytes`, { details: { max_bytes: this.o.maxUploadBytes } });
      }
      if (!info) {
        info = await this.o.blobs.copy(staged, upload.blobKey);
        await this.o.blobs.delete(staged);
      }
    } catch (err) {
      if (err instanceof EarshotError && !err.retryable) await this.discardUpload(tenantId, uploadId);
      throw err;
    }
    const { priority, ...rest } = options;
    const meta: FileMeta = { sizeBytes: info.sizeBytes, ...(upload.filename ? { filename: upload.filename } : {}), ...(upload.contentType ? { contentType: upload.contentType } : {}) };
    let result;
    try {
      result = await this.submit(tenantId, { ...rest, source: { uploadId, ...meta } }, priority, idempotencyKey ?? `upload:${uploadId}`);
    } catch (err) {
      // Refused at submission (a notification target, for one): the upload goes, as with bad options.
      if (err instanceof EarshotError && !err.retryable) await this.discardUpload(tenantId, uploadId);
      throw err;
    }
    if (result.created) await this.o.store.completeUpload(uploadId, result.job.id);
    // A replay: the first request's upload is the one in use, this one goes entirely.
    else if (!upload.jobId) await this.discardUpload(tenantId, uploadId);
    return result;
  }

  private submit(tenantId: string, input: TranscriptionInput, priority: Priority, idempotencyKey?: string) {
    // The same request is the same options for a file of the same name, type and size. The upload id is
    // new with every request, so it does not count; the bytes are not hashed, so a different file of the
    // same name, type and size under the same key replays the first job.
    const { source, ...options } = input;
    const { uploadId: _fresh, ...file } = source;
    return this.o.engine.submit({
      tenantId,
      kind: TRANSCRIPTION,
      input: transcriptionInputJson(input),
      priority,
      ...(idempotencyKey ? { idempotencyKey, fingerprint: JSON.parse(JSON.stringify({ options, priority, file })) as Json } : {}),
    });
  }

  /** A finished transcription in one format (or its notes); `conflict` until the job has succeeded. */
  async result(tenantId: string, jobId: string, format: string): Promise<{ body: Readable; contentType: string; job: JobRecord }> {
    const isNotes = Object.hasOwn(notesFormats, format);
    const f = isNotes ? undefined : this.format(format);
    const job = await this.o.engine.getJob(jobId, tenantId);
    if (job.kind !== TRANSCRIPTION) throw new EarshotError('not_found', 'no such transcription', { details: { job_id: jobId } });
    if (job.status !== 'succeeded') {
      throw new EarshotError('conflict', job.status === 'failed' ? 'the transcription failed' : 'the transcription is not finished yet', {
        details: { status: job.status, ...(job.error ? { error: job.error } : {}) },
      });
    }
    const input = job.input as unknown as TranscriptionInput;
    if (!f) {
      if (!input.notes) throw new EarshotError('not_found', 'this job was not asked for notes (notes=true)', { details: { formats: input.formats } });
      const n = format as NotesFormat;
      return { body: await this.o.blobs.get(notesKey(tenantId, jobId, n)), contentType: notesContentTypes[n], job };
    }
    if (!input.formats.includes(f)) throw new EarshotError('not_found', `this job was not asked for ${f}`, { details: { formats: input.formats } });
    return { body: await this.o.blobs.get(resultKey(tenantId, jobId, f)), contentType: contentTypes[f], job };
  }

  /** Temporary signed download links, one per result the job produced. */
  async links(tenantId: string, jobId: string, expiresInSeconds: number): Promise<Record<string, SignedUrl>> {
    const job = await this.o.engine.getJob(jobId, tenantId);
    if (job.kind !== TRANSCRIPTION || job.status !== 'succeeded') throw new EarshotError('conflict', 'the transcription is not finished', { details: { status: job.status } });
    const links: Record<string, SignedUrl> = {};
    for (const r of describeTranscription(job).results) {
      links[r.name] = await this.o.blobs.signDownload(r.key, { expiresInSeconds, downloadName: r.downloadName });
    }
    return links;
  }

  private format(format: string): TranscriptFormat {
    if (!(transcriptFormats as readonly string[]).includes(format)) {
      throw new EarshotError('bad_request', `format must be one of ${[...transcriptFormats, ...Object.keys(notesFormats)].join(', ')}`, { details: { format } });
    }
    return format as TranscriptFormat;
  }
}

/** The one check of a client's content type (a JSON field or a multipart part's header): a media type, or refused. */
function checkContentType(meta: FileMeta, field: string): void {
  if (meta.contentType !== undefined && !isMediaType(meta.contentType)) {
    const shown = JSON.stringify(meta.contentType.slice(0, 100));
    throw permanent('bad_request', `${field}: the content type ${shown} is not a media type (type/subtype, then any ; name=value)`, { field });
  }
}
