/**
 * Damaged and unusual media through the HTTP API on the embedded default (SQLite + disk), with the
 * real pocketsphinx engine: a damaged file is transcribed as far as it reads, and the job, the
 * transcript and the notifications say so; `on_damage=reject` fails it instead; valid files that look
 * odd are transcribed; a header that lies is refused. The files are made by test/support/damaged-media.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { verifyWebhookSignature } from '../../src/core/webhook-signature.js';
import { DAMAGED_SOURCES, makeDamagedCorpus, type DamagedCorpus } from '../support/damaged-media.js';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp-server.js';
import { hasSpeech } from '../support/speech.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';
import { form, startEarshot, testEngines, type Earshot } from './transcription.harness.js';

const dir = mkdtempSync(join(tmpdir(), 'earshot-damaged-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('damaged and unusual media over HTTP: embedded default', { skip: !hasSpeech && 'shared/speech is missing' }, () => {
  let e: Earshot;
  let corpus: DamagedCorpus;
  let smtp: TestSmtpServer;
  let hooks: WebhookReceiver;
  let secret: string;

  before(async () => {
    corpus = await makeDamagedCorpus(mkdtempSync(join(dir, 'corpus-')));
    smtp = await startSmtpServer();
    hooks = await startWebhookReceiver();
    e = await startEarshot(
      { 'data-dir': join(dir, 'data') },
      { EARSHOT_SMTP_URL: smtp.url, EARSHOT_SMTP_FROM: 'Earshot Test <earshot@example.test>', EARSHOT_WEBHOOK_ALLOWLIST: '127.0.0.1' },
      { engines: testEngines() },
    );
    secret = (await e.call('GET', '/v1/webhook')).body.secret;
  });
  after(async () => {
    await e?.close();
    await hooks?.close();
    await smtp?.close();
  });

  /** Uploads a corpus file for a pocketsphinx transcription and waits for the job to settle. */
  async function transcribe(file: string, fields: Record<string, string> = {}) {
    const created = await e.call('POST', '/v1/transcriptions', form({ name: basename(file), bytes: readFileSync(file) }, { language: 'en', engine: 'pocketsphinx', ...fields }));
    assert.equal(created.status, 202, JSON.stringify(created.body));
    return e.waitForJob(created.body.id);
  }

  const transcriptJson = async (id: string) => {
    const res = await e.call('GET', `/v1/transcriptions/${id}?format=json`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };
  const task = (job: any, key: string) => job.tasks.find((t: { key: string }) => t.key === key);

  it('transcribes what a damaged file holds, and the job, the transcript, the webhook and the e-mail carry its warnings', async () => {
    const job = await transcribe(corpus.damaged.zeroedMp4, { webhook_url: `${hooks.url}/damaged`, notify_email: 'ann@example.test' });
    assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
    const codes = job.warnings.map((w: { code: string }) => w.code).sort();
    assert.deepEqual(codes, ['decode_errors', 'truncated'], JSON.stringify(job.warnings));
    const errors = job.warnings.find((w: { code: string }) => w.code === 'decode_errors');
    assert.ok(Number.isInteger(errors.count) && errors.count > 0);
    const truncated = job.warnings.find((w: { code: string }) => w.code === 'truncated');
    assert.equal(truncated.declared_seconds, 11);
    assert.ok(truncated.decoded_seconds > 5 && truncated.decoded_seconds < 10.5, JSON.stringify(truncated));

    const transcript = await transcriptJson(job.id);
    assert.deepEqual(transcript.warnings, job.warnings);
    assert.ok(transcript.text.split(/\s+/).length >= 5, `what was readable is transcribed: "${transcript.text}"`);

    const [hook] = await hooks.waitForRequests(1, 30_000);
    assert.ok(verifyWebhookSignature(hook!.headers['earshot-signature'] as string, secret, hook!.body, { nowSeconds: Math.floor(Date.now() / 1000) }));
    const event = JSON.parse(hook!.body);
    assert.equal(event.type, 'job.succeeded');
    assert.deepEqual(event.data.job.warnings, job.warnings);

    const [mail] = await smtp.waitForMessages(1, 30_000);
    assert.match(mail!.text, /^Warnings:$/m);
    for (const w of job.warnings) assert.ok(mail!.text.includes(`${w.code}: ${w.message}`), mail!.text);
  });

  it('with on_damage=reject fails a damaged file with corrupt_media in one attempt', async () => {
    const job = await transcribe(corpus.damaged.zeroedMp4, { on_damage: 'reject' });
    assert.equal(job.status, 'failed');
    assert.equal(job.error.code, 'corrupt_media');
    assert.equal(job.error.details.reason, 'damaged');
    assert.equal(job.error.details.step, 'transcribe.prepare');
    assert.deepEqual(job.error.details.warnings.map((w: { code: string }) => w.code).sort(), ['decode_errors', 'truncated']);
    const prepare = task(job, 'prepare');
    assert.deepEqual({ attempts: prepare.attempts, state: prepare.state, retryable: prepare.errors[0].retryable }, { attempts: 1, state: 'dead', retryable: false });
    // A sound file is not damaged: reject changes nothing for it.
    const sound = await transcribe(corpus.unusual.wavpack, { on_damage: 'reject', formats: 'txt' });
    assert.equal(sound.status, 'succeeded', JSON.stringify(sound.error));
  });

  it('refuses an unknown on_damage at submission', async () => {
    const res = await e.call('POST', '/v1/transcriptions', form({ name: 'x.wav', bytes: readFileSync(corpus.unusual.wavpack) }, { on_damage: 'ignore' }));
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'bad_request');
  });

  it('a file from which nothing decodes still fails (corrupt_media, no_samples), once', async () => {
    const job = await transcribe(corpus.empty.framelessFlac);
    assert.equal(job.status, 'failed');
    assert.deepEqual([job.error.code, job.error.details.reason], ['corrupt_media', 'no_samples']);
    assert.equal(task(job, 'prepare').attempts, 1);
  });

  it('transcribes WavPack, Matroska with a longer subtitle stream, and Ogg behind junk whole, as their sources', async () => {
    const files = [corpus.unusual.wavpack, corpus.unusual.subtitledMkv, corpus.unusual.junkOgg, DAMAGED_SOURCES.jfkWav, DAMAGED_SOURCES.fleursOgg];
    const [wv, mkv, ogg, jfk, fleurs] = await Promise.all(files.map((f) => transcribe(f)));
    const text = async (job: any) => {
      assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
      assert.deepEqual(job.warnings, []);
      const transcript = await transcriptJson(job.id);
      assert.deepEqual(transcript.warnings, []);
      return { duration: transcript.duration, text: transcript.text };
    };
    // Lossless (WavPack, FLAC in Matroska) or the same pages (Ogg): the same samples, so the same words.
    const source = await text(jfk);
    assert.equal(source.duration, 11);
    assert.ok(source.text.split(/\s+/).length >= 5, source.text);
    assert.deepEqual(await text(wv), source);
    assert.deepEqual(await text(mkv), source, "the audio stream's 11 s, not the subtitle's 30");
    const fleursSource = await text(fleurs);
    assert.ok(fleursSource.duration > 10.5 && fleursSource.text.split(/\s+/).length >= 5, JSON.stringify(fleursSource));
    assert.deepEqual(await text(ogg), fleursSource);
  });

  it('gives a WAV header with no samples an empty transcript, as silence', async () => {
    const job = await transcribe(corpus.unusual.zeroSampleWav, { formats: 'txt,json' });
    assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
    assert.deepEqual(job.warnings, []);
    assert.equal(((await e.call('GET', `/v1/transcriptions/${job.id}?format=txt`)).body as string).trim(), '');
    const transcript = await transcriptJson(job.id);
    assert.deepEqual([transcript.text, transcript.duration, transcript.segments], ['', 0, []]);
  });

  it('refuses a WAV header that declares 2^31 Hz at probe (unsupported_media, sample_rate), without retrying', async () => {
    const job = await transcribe(corpus.lying.hugeRateWav);
    assert.equal(job.status, 'failed');
    assert.deepEqual([job.error.code, job.error.details.reason, job.error.details.step], ['unsupported_media', 'sample_rate', 'transcribe.probe']);
    assert.match(job.error.message, /sample rate/);
    assert.equal(task(job, 'probe').attempts, 1);
  });
});
