/**
 * Batch transcription through the HTTP API, the way a client uses it: upload (multipart and
 * pre-signed), wait, fetch the transcript in every format; plus the failure paths. Run against the
 * embedded default and against PostgreSQL + S3.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeWav } from '../../src/core/wav.js';
import { SPEECH_DIR, hasSpeech } from '../support/speech.js';
import { assertWer, form, SENSE, type Earshot } from './transcription.harness.js';

/** pocketsphinx on this clip scores about 0.2–0.3; a broken pipeline scores 1. */
const MAX_WER = 0.45;
const FORMATS = ['txt', 'json', 'srt', 'vtt'] as const;

async function fetchAllFormats(e: Earshot, id: string) {
  const out: Record<string, string> = {};
  for (const f of FORMATS) {
    const r = await fetch(`${e.base}/v1/transcriptions/${id}?format=${f}`);
    assert.equal(r.status, 200, `format ${f}`);
    out[f] = await r.text();
  }
  return out;
}

function checkFormats(out: Record<string, string>) {
  assertWer(SENSE.reference, out.txt!, MAX_WER);
  const json = JSON.parse(out.json!) as { text: string; language: string; segments: { start: number; end: number; words?: unknown[] }[] };
  assert.equal(json.language, 'en');
  assert.equal(json.text.trim(), out.txt!.trim());
  assert.ok(json.segments.length > 0 && json.segments.every((s) => s.end > s.start && (s.words?.length ?? 0) > 0));
  assert.match(out.srt!, /^1\n00:00:0\d,\d{3} --> 00:00:\d{2},\d{3}\n\S/);
  assert.match(out.vtt!, /^WEBVTT\n\n00:00:0\d\.\d{3} --> 00:00:\d{2}\.\d{3}\n\S/);
}

export function transcriptionCases(name: string, start: () => Promise<Earshot>): void {
  describe(`batch transcription over HTTP: ${name}`, { skip: !hasSpeech && 'shared/speech is missing' }, () => {
    let e: Earshot;
    before(async () => {
      e = await start();
    });
    after(() => e?.close());

    it('uploads multipart, transcribes with pocketsphinx, and serves txt, json, srt and vtt', async () => {
      const created = await e.call('POST', '/v1/transcriptions', form(SENSE.file, { language: 'en', engine: 'pocketsphinx' }));
      assert.equal(created.status, 202, JSON.stringify(created.body));
      assert.equal(created.body.kind, 'transcription');
      const job = await e.waitForJob(created.body.id);
      assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
      const steps = Object.fromEntries(job.steps.map((s: { step: string; done: number; total: number }) => [s.step, `${s.done}/${s.total}`]));
      assert.deepEqual(steps, { 'transcribe.probe': '1/1', 'transcribe.prepare': '1/1', 'transcribe.merge': '1/1', 'transcribe.render': '1/1', 'transcribe.asr': '1/1' });
      checkFormats(await fetchAllFormats(e, created.body.id));
    });

    it('takes a pre-signed upload: PUT straight to storage, then complete into a job', async () => {
      const bytes = readFileSync(resolve(SPEECH_DIR, SENSE.file));
      const upload = await e.call('POST', '/v1/uploads', { filename: 'sense.wav', content_type: 'audio/wav', size_bytes: bytes.length });
      assert.equal(upload.status, 201, JSON.stringify(upload.body));
      const put = await fetch(upload.body.upload_url, { method: 'PUT', headers: upload.body.headers, body: bytes });
      assert.ok(put.status >= 200 && put.status < 300, `PUT answered ${put.status}`);
      const done = await e.call('POST', `/v1/uploads/${upload.body.upload_id}/complete`, { language: 'en', formats: 'txt,json,srt,vtt' });
      assert.equal(done.status, 202, JSON.stringify(done.body));
      // Completing again is harmless: the same job.
      const again = await e.call('POST', `/v1/uploads/${upload.body.upload_id}/complete`, { language: 'en' });
      assert.equal(again.body.id, done.body.id);
      const job = await e.waitForJob(done.body.id);
      assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
      checkFormats(await fetchAllFormats(e, done.body.id));
      const links = await e.call('GET', `/v1/transcriptions/${done.body.id}/links`);
      assert.equal(links.status, 200);
      const txt = await fetch(links.body.links.txt.url);
      assert.equal(txt.status, 200);
      assertWer(SENSE.reference, await txt.text(), MAX_WER);
    });

    it('refuses a tampered pre-signed upload URL', async (t) => {
      const upload = await e.call('POST', '/v1/uploads', { filename: 'x.wav', content_type: 'audio/wav' });
      const url = new URL(upload.body.upload_url);
      const sig = url.searchParams.get('sig');
      // S3 checks its own signatures; s3rver, the test's S3 server, does not, so only ours are tested here.
      if (!sig) return t.skip('the object store verifies its own pre-signed URLs');
      url.searchParams.set('sig', sig.replace(/.$/, (c) => (c === '0' ? '1' : '0')));
      const put = await fetch(url, { method: 'PUT', headers: upload.body.headers, body: Buffer.from('RIFF') });
      assert.ok(put.status === 403 || put.status === 401, `tampered PUT answered ${put.status}`);
    });

    it("answers the original service's aliases", async () => {
      const created = await e.call('POST', '/upload-audio/', form('pocketsphinx/goforward.wav', { language: 'en' }));
      assert.equal(created.status, 202);
      const id = created.body.job_id as string;
      await e.waitForJob(id);
      const status = await e.call('GET', `/status/${id}`);
      assert.equal(status.body.status, 'succeeded');
      const result = await e.call('GET', `/result/${id}`);
      assertWer('go forward ten meters', result.body.transcription, 0.5);
    });

    it('fails a text file named .mp3 at probe with unsupported_media, without retrying', async () => {
      const created = await e.call('POST', '/v1/transcriptions', form({ name: 'notes.mp3', bytes: Buffer.from('this is not audio\n'.repeat(200)), type: 'audio/mpeg' }, { language: 'en' }));
      const job = await e.waitForJob(created.body.id);
      assert.equal(job.status, 'failed');
      assert.equal(job.error.code, 'unsupported_media');
      assert.equal(job.error.details.step, 'transcribe.probe');
      assert.equal(job.tasks.find((t: { key: string }) => t.key === 'probe').attempts, 1);
      const early = await e.call('GET', `/v1/transcriptions/${created.body.id}?format=txt`);
      assert.equal(early.status, 409);
    });

    it('refuses to read what a crafted playlist points at', async () => {
      const playlist = `#EXTM3U\n#EXTINF:10,\nfile://${resolve(SPEECH_DIR, SENSE.file)}\n#EXTINF:10,\nhttp://127.0.0.1:9/secret.wav\n#EXT-X-ENDLIST\n`;
      const created = await e.call('POST', '/v1/transcriptions', form({ name: 'list.mp3', bytes: Buffer.from(playlist) }, { language: 'en' }));
      const job = await e.waitForJob(created.body.id);
      assert.equal(job.status, 'failed');
      assert.equal(job.error.code, 'unsupported_media');
    });

    it('gives a silent recording an empty transcript', async () => {
      const wav = encodeWav(new Int16Array(16000 * 4), 16000);
      const created = await e.call('POST', '/v1/transcriptions', form({ name: 'silence.wav', bytes: wav, type: 'audio/wav' }, { language: 'en', formats: 'txt,json' }));
      const job = await e.waitForJob(created.body.id);
      assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
      const txt = await fetch(`${e.base}/v1/transcriptions/${created.body.id}?format=txt`);
      assert.equal((await txt.text()).trim(), '');
      assert.equal((await fetch(`${e.base}/v1/transcriptions/${created.body.id}?format=srt`)).status, 404);
    });

    it('refuses at submission a language the engine lacks, and bad options', async () => {
      const es = await e.call('POST', '/v1/transcriptions', form('pocketsphinx/goforward.wav', { language: 'es', engine: 'pocketsphinx' }));
      assert.equal(es.status, 422);
      assert.equal(es.body.error.code, 'unsupported_language');
      const bad = await e.call('POST', '/v1/transcriptions', form('pocketsphinx/goforward.wav', { formats: 'docx' }));
      assert.equal(bad.status, 400);
      const none = await e.call('POST', '/v1/transcriptions', (() => { const f = new FormData(); f.append('language', 'en'); return f; })());
      assert.equal(none.status, 400);
    });

    it('retries a failing engine with backoff, then fails the job with asr_failed after 3 attempts', async () => {
      const created = await e.call('POST', '/v1/transcriptions', form('pocketsphinx/goforward.wav', { language: 'en', engine: 'mock' }));
      assert.equal(created.status, 202, JSON.stringify(created.body));
      const job = await e.waitForJob(created.body.id, 60_000);
      assert.equal(job.status, 'failed');
      assert.equal(job.error.code, 'asr_failed');
      const asr = job.tasks.find((t: { step: string }) => t.step === 'transcribe.asr');
      assert.equal(asr.attempts, 3);
      assert.equal(asr.state, 'dead');
      const at = asr.errors.map((x: { at: string }) => Date.parse(x.at));
      // Backoff: 2 s then 4 s, less up to half for jitter.
      assert.ok(at[1] - at[0] >= 1000 && at[2] - at[1] >= 2000, `gaps ${at[1] - at[0]} ms, ${at[2] - at[1]} ms`);
      const dead = await e.call('GET', '/v1/dead-letter');
      assert.ok(dead.body.data.some((d: { id: string }) => d.id === asr.id));
    });
  });
}
