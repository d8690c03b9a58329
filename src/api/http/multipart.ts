import type { FastifyRequest } from 'fastify';
import { EarshotError } from '../../core/errors.js';
import type { RawOptions } from '../../pipelines/transcribe/options.js';
import type { TranscriptionService } from '../../pipelines/transcribe/service.js';

/** Reads a multipart body: the `file` part is streamed to storage, the other parts are options. */
export async function receiveMultipart(request: FastifyRequest, service: TranscriptionService): Promise<{ uploadId: string; fields: RawOptions }> {
  const fields: RawOptions = {};
  let uploadId: string | undefined;
  for await (const part of request.parts()) {
    if (part.type === 'file') {
      if (part.fieldname !== 'file' || uploadId) {
        part.file.resume();
        throw new EarshotError('bad_request', 'send exactly one file, in the field "file"');
      }
      // Options sent before the file are checked before its bytes are stored.
      if (Object.keys(fields).length > 0) service.options(fields);
      const stored = await service.storeUpload(request.tenantId, part.file, { filename: part.filename, contentType: part.mimetype });
      uploadId = stored.uploadId;
    } else {
      // A repeated field (timestamp_granularities[]) becomes a list.
      const prev = fields[part.fieldname];
      fields[part.fieldname] = prev === undefined ? part.value : [prev, part.value].flat();
    }
  }
  if (!uploadId) throw new EarshotError('bad_request', 'the file is missing: send it as multipart/form-data in the field "file"');
  return { uploadId, fields };
}
