/**
 * Multipart uploads: the `file` part is streamed to storage as a new upload, the other parts are
 * options. A request refused at any point after its file was stored leaves nothing behind.
 */
import type { MultipartFile, Multipart } from '@fastify/multipart';
import type { FastifyRequest } from 'fastify';
import { EarshotError } from '../../core/errors.js';
import type { RawOptions } from '../../pipelines/transcribe/options.js';
import type { TranscriptionService } from '../../pipelines/transcribe/service.js';

export interface ReceivedUpload {
  uploadId: string;
  fields: RawOptions;
}

/**
 * Receives a multipart body and runs `use` with it. `check` sees the options sent before the file, so
 * that they are refused before its bytes are stored. Whatever refuses the request once the file is
 * stored (a second file, a truncated body, options that `check` or `use` refuses) removes the upload,
 * blob and row; an upload that `use` turned into a job stays.
 */
export async function withMultipartUpload<T>(
  request: FastifyRequest,
  service: TranscriptionService,
  check: (fields: RawOptions) => void,
  use: (upload: ReceivedUpload) => Promise<T>,
): Promise<T> {
  let uploadId: string | undefined;
  try {
    const fields: RawOptions = {};
    for await (const part of partsOf(request)) {
      if (part.type === 'file') {
        if (part.fieldname !== 'file' || uploadId) {
          part.file.resume();
          throw new EarshotError('bad_request', 'send exactly one file, in the field "file"');
        }
        if (Object.keys(fields).length > 0) check(fields);
        uploadId = (await storeFile(request, service, part)).uploadId;
      } else {
        // A repeated field (timestamp_granularities[]) becomes a list.
        const prev = fields[part.fieldname];
        fields[part.fieldname] = prev === undefined ? part.value : [prev, part.value].flat();
      }
    }
    if (!uploadId) throw new EarshotError('bad_request', 'the file is missing: send it as multipart/form-data in the field "file"');
    return await use({ uploadId, fields });
  } catch (err) {
    if (uploadId) {
      await service.discardUpload(request.tenantId, uploadId).catch((cleanupErr: unknown) => {
        request.log.error({ err: cleanupErr, upload_id: uploadId }, 'a refused upload could not be removed');
      });
    }
    throw err;
  }
}

/** The request's parts; a body the parser cannot read (no boundary, cut short) is a `bad_request`. */
async function* partsOf(request: FastifyRequest): AsyncGenerator<Multipart> {
  const parts = request.parts()[Symbol.asyncIterator]();
  try {
    for (;;) {
      let next: IteratorResult<Multipart>;
      try {
        next = await parts.next();
      } catch (err) {
        throw malformed(err);
      }
      if (next.done) return;
      yield next.value;
    }
  } finally {
    await parts.return?.(undefined);
  }
}

async function storeFile(request: FastifyRequest, service: TranscriptionService, part: MultipartFile) {
  try {
    return await service.storeUpload(request.tenantId, part.file, { filename: part.filename, contentType: part.mimetype }, 'file');
  } catch (err) {
    // The body broke off inside the file, rather than the store failing.
    if (!(err instanceof EarshotError) && part.file.errored) throw malformed(part.file.errored);
    throw err;
  }
}

/** The parser's own errors: Fastify's keep their codes (mapped in errors.ts), busboy's plain ones are the client's. */
function malformed(err: unknown): unknown {
  if (err instanceof EarshotError || hasFastifyCode(err)) return err;
  const reason = err instanceof Error ? err.message : String(err);
  return new EarshotError('bad_request', 'the multipart body is malformed', { details: { reason }, cause: err });
}

function hasFastifyCode(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('FST_');
}
