/**
 * Uploads under hostile and malformed requests, against the app as `earshot serve` builds it: every
 * refusal has the error shape and leaves nothing stored, malformed bodies are 400s, and a completed
 * upload can no longer change. Run on SQLite + disk and on PostgreSQL + S3.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { statusForCode } from '../../src/api/http/errors.js';
import { encodeWav } from '../../src/core/wav.js';
import { uploadBlobKey } from '../../src/pipelines/transcribe/options.js';
import { form, type Earshot } from '../e2e/transcription.harness.js';

export interface UploadsBackend {
  name: string;
  start(): Promise<Earshot>;
  /** Rows in the uploads table, read straight from the database. */
  uploadRows(): Promise<number>;
  /** The object store checks pre-signed URLs itself (S3): a late PUT cannot be answered by us. */
  objectStore: boolean;
}

const UPLOADS = 'tenants/local/uploads/';
const BOUNDARY = 'earshot-test-boundary';
/** The server under test takes uploads up to this size. */
export const MAX_UPLOAD_BYTES = 512 * 1024;

/** Silence: a job with it runs every step without needing an ASR engine (no speech, no chunk to hear). */
const silence = (seconds: number) => encodeWav(new Int16Array(16000 * seconds), 16000);

/** A multipart body by hand, for what FormData cannot send (truncated, malformed). */
function multipart(parts: ({ name: string; value: string } | { name: string; filename: string; type: string; bytes: Buffer })[], end = true): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    if ('value' in p) chunks.push(Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="${p.name}"\r\n\r\n${p.value}\r\n`));
    else {
      chunks.push(Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="${p.name}"; filename="${p.filename}"\r\nContent-Type: ${p.type}\r\n\r\n`));
      chunks.push(p.bytes, Buffer.from('\r\n'));
    }
  }
  if (end) chunks.push(Buffer.from(`--${BOUNDARY}--\r\n`));
  return Buffer.concat(chunks);
}

const wavPart = (bytes = silence(1)) => ({ name: 'file', filename: 'a.wav', type: 'audio/wav', bytes });

/** An error answer as the API documents it: the shape, a code, and the status of that code. */
function assertError(res: { status: number; body: any }, status: number, code: string): void {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.deepEqual(Object.keys(res.body ?? {}), ['error'], JSON.stringify(res.body));
  assert.deepEqual(Object.keys(res.body.error).sort(), ['code', 'details', 'message']);
  assert.equal(res.body.error.code, code);
  assert.equal(typeof res.body.error.message, 'string');
  assert.equal(statusForCode(code), status, `${code} is documented as ${status}`);
}

export function uploadCases(backend: UploadsBackend): void {
  describe(`HTTP API uploads, hostile and malformed requests: ${backend.name}`, () => {
    let e: Earshot;
    before(async () => {
      e = await backend.start();
    });
    after(() => e?.close());

    const raw = async (path: string, body: Buffer | string, contentType = `multipart/form-data; boundary=${BOUNDARY}`) => {
      const res = await fetch(`${e.base}${path}`, { method: 'POST', headers: { 'content-type': contentType }, body });
      const text = await res.text();
      return { status: res.status, body: (res.headers.get('content-type') ?? '').includes('json') && text ? JSON.parse(text) : text };
    };
    const stored = async () => ({ blobs: (await e.app.blobs.list(UPLOADS)).map((b) => b.key), rows: await backend.uploadRows() });
    /** Runs `refuse` and checks that it stored nothing and that the server still answers. */
    const leavesNothing = async (refuse: () => Promise<void>) => {
      const before = await stored();
      await refuse();
      assert.deepEqual(await stored(), before, 'a refused request leaves no blob and no upload row');
      assert.equal((await e.call('GET', '/v1/health')).status, 200);
    };

    it('refuses a second file with 413 and keeps neither', () =>
      leavesNothing(async () => {
        assertError(await raw('/v1/transcriptions', multipart([wavPart(), { ...wavPart(), name: 'other' }])), 413, 'payload_too_large');
      }));

    it('refuses a file over the size limit with 413 and keeps nothing', () =>
      leavesNothing(async () => {
        assertError(await e.call('POST', '/v1/transcriptions', form({ name: 'big.wav', bytes: Buffer.alloc(MAX_UPLOAD_BYTES + 1000), type: 'audio/wav' })), 413, 'payload_too_large');
      }));

    it('refuses options sent after the file, and keeps the file no longer', () =>
      leavesNothing(async () => {
        assertError(await raw('/v1/transcriptions', multipart([wavPart(), { name: 'formats', value: 'docx' }])), 400, 'bad_request');
        assertError(await raw('/v1/audio/transcriptions', multipart([wavPart(), { name: 'response_format', value: 'docx' }])), 400, 'bad_request');
      }));

    it('answers a truncated multipart body with 400, wherever it stops, and keeps nothing', () =>
      leavesNothing(async () => {
        // Cut off after the file, in the next part's headers: the file was already stored.
        const afterFile = Buffer.concat([multipart([wavPart()], false), Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-da`)]);
        assertError(await raw('/v1/transcriptions', afterFile), 400, 'bad_request');
        // Cut off inside the file.
        assertError(await raw('/v1/transcriptions', multipart([wavPart()], false).subarray(0, 400)), 400, 'bad_request');
      }));

    it('answers a multipart body without a boundary, or a body that is not multipart, in the error shape', async () => {
      assertError(await raw('/v1/transcriptions', 'not really a form', 'multipart/form-data'), 400, 'bad_request');
      assertError(await raw('/v1/transcriptions', '{}', 'application/json'), 415, 'unsupported_media_type');
      assertError(await raw('/v1/audio/transcriptions', 'x=1', 'application/x-www-form-urlencoded'), 415, 'unsupported_media_type');
      assert.equal((await e.call('GET', '/v1/health')).status, 200);
    });

    it('refuses unknown transcription options by name, before or after the file', () =>
      leavesNothing(async () => {
        const before = await raw('/v1/transcriptions', multipart([{ name: 'langauge', value: 'en' }, wavPart()]));
        assertError(before, 400, 'bad_request');
        assert.match(before.body.error.message, /langauge/);
        assert.deepEqual(before.body.error.details.unknown, ['langauge']);
        const afterFile = await raw('/v1/transcriptions', multipart([wavPart(), { name: 'chunk_secs', value: '60' }]));
        assertError(afterFile, 400, 'bad_request');
        assert.deepEqual(afterFile.body.error.details.unknown, ['chunk_secs']);
      }));

    it('refuses unknown keys of the pre-signed upload routes by name', async () => {
      const upload = await e.call('POST', '/v1/uploads', { filename: 'a.wav', contnet_type: 'audio/wav' });
      assertError(upload, 400, 'bad_request');
      assert.match(upload.body.error.message, /contnet_type/);
      const created = await e.call('POST', '/v1/uploads', { content_type: 'audio/wav' });
      assert.equal(created.status, 201);
      const complete = await e.call('POST', `/v1/uploads/${created.body.upload_id}/complete`, { langauge: 'en' });
      assertError(complete, 400, 'bad_request');
      assert.match(complete.body.error.message, /langauge/);
    });

    it('keeps accepting the fields of the OpenAI API on the OpenAI-compatible route', async () => {
      const fields = { model: 'whisper-1', language: 'en', prompt: 'hello', response_format: 'verbose_json', temperature: '0', 'timestamp_granularities[]': 'word', stream: 'false' };
      const res = await e.call('POST', '/v1/audio/transcriptions', form({ name: 'quiet.wav', bytes: silence(2), type: 'audio/wav' }, fields));
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.text, '');
      assert.deepEqual(res.body.words, []);
    });

    it('refuses a content type that is not a media type, such as one with a line break', async () => {
      for (const contentType of ['text/plain\r\nx-injected: 1', 'audio/wav\n', 'not a type', 'audio/', 'audio/wav; charset']) {
        const res = await e.call('POST', '/v1/uploads', { content_type: contentType });
        assertError(res, 400, 'bad_request');
        assert.equal(res.body.error.details.field, 'content_type');
      }
      await leavesNothing(async () => {
        assertError(await raw('/v1/transcriptions', multipart([{ ...wavPart(), type: 'audio/<wav>' }])), 400, 'bad_request');
      });
      const ok = await e.call('POST', '/v1/uploads', { content_type: 'audio/ogg; codecs="opus"' });
      assert.equal(ok.status, 201, JSON.stringify(ok.body));
    });

    it('makes a completed upload immutable: a later PUT replaces nothing the job reads', async () => {
      const original = silence(4);
      const upload = await e.call('POST', '/v1/uploads', { filename: 'quiet.wav', content_type: 'audio/wav' });
      assert.equal(upload.status, 201, JSON.stringify(upload.body));
      const put = (bytes: Buffer) => fetch(upload.body.upload_url, { method: 'PUT', headers: upload.body.headers, body: bytes });
      const first = await put(original);
      assert.ok(first.ok, `PUT answered ${first.status}`);
      await first.arrayBuffer();
      const done = await e.call('POST', `/v1/uploads/${upload.body.upload_id}/complete`, { language: 'en', formats: 'json' });
      assert.equal(done.status, 202, JSON.stringify(done.body));
      const job = await e.waitForJob(done.body.id);
      assert.equal(job.status, 'succeeded', JSON.stringify(job.error));

      const late = await put(silence(8));
      const text = await late.text();
      // Our own signed URLs refuse it; S3 checks its URLs itself and may take the bytes, which nothing reads.
      if (!backend.objectStore) assertError({ status: late.status, body: JSON.parse(text) }, 409, 'conflict');
      const source = await e.app.blobs.get(uploadBlobKey('local', upload.body.upload_id));
      assert.ok(Buffer.concat(await source.toArray()).equals(original), 'the stored source is the one the job ran on');

      // Running the job again reads the same four seconds, not the eight sent later.
      const retried = await e.call('POST', `/v1/jobs/${done.body.id}/retry`, { from_step: 'transcribe.probe' });
      assert.equal(retried.status, 202, JSON.stringify(retried.body));
      assert.equal((await e.waitForJob(done.body.id)).status, 'succeeded');
      const transcript = await e.call('GET', `/v1/transcriptions/${done.body.id}?format=json`);
      assert.equal(transcript.body.duration, 4);
    });
  });
}
