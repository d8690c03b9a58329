/** The official `openai` client, pointed at Earshot, transcribes as it would against OpenAI. */
import assert from 'node:assert/strict';
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { SPEECH_DIR, hasSpeech } from '../support/speech.js';
import { assertWer, SENSE, startEarshot, testEngines, type Earshot } from './transcription.harness.js';

describe('OpenAI-compatible /v1/audio/transcriptions', { skip: !hasSpeech && 'shared/speech is missing' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'earshot-openai-'));
  let e: Earshot;
  let client: OpenAI;
  before(async () => {
    e = await startEarshot({ 'data-dir': dir }, {}, { engines: testEngines() });
    client = new OpenAI({ baseURL: `${e.base}/v1`, apiKey: 'not-needed-on-loopback', maxRetries: 0 });
  });
  after(async () => {
    await e?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const file = () => createReadStream(resolve(SPEECH_DIR, SENSE.file));

  it('answers json and text with the transcript', async () => {
    const json = await client.audio.transcriptions.create({ file: file(), model: 'whisper-1', language: 'en' });
    assertWer(SENSE.reference, json.text, 0.45);
    const text = await client.audio.transcriptions.create({ file: file(), model: 'whisper-1', response_format: 'text' });
    assertWer(SENSE.reference, String(text), 0.45);
  });

  it('answers verbose_json with segments and words, and srt and vtt', async () => {
    const verbose = await client.audio.transcriptions.create({
      file: file(),
      model: 'pocketsphinx',
      language: 'en',
      response_format: 'verbose_json',
      timestamp_granularities: ['word', 'segment'],
    });
    assert.equal(verbose.language, 'en');
    assert.ok(verbose.duration > 6 && verbose.duration < 8);
    assert.ok((verbose.segments?.length ?? 0) > 0);
    assert.ok((verbose.words?.length ?? 0) > 10 && verbose.words!.every((w) => w.end >= w.start));
    const srt = await client.audio.transcriptions.create({ file: file(), model: 'whisper-1', response_format: 'srt' });
    assert.match(String(srt), /^1\n00:00:00,\d{3} --> /);
    const vtt = await client.audio.transcriptions.create({ file: file(), model: 'whisper-1', response_format: 'vtt' });
    assert.match(String(vtt), /^WEBVTT\n/);
  });

  it('reports errors the way OpenAI clients expect: a status and a message', async () => {
    await assert.rejects(
      client.audio.translations.create({ file: file(), model: 'pocketsphinx' }),
      (err: unknown) => err instanceof OpenAI.APIError && err.status === 422 && /translate/.test(err.message),
    );
    await assert.rejects(
      client.audio.transcriptions.create({ file: file(), model: 'whisper-1', response_format: 'docx' as 'json' }),
      (err: unknown) => err instanceof OpenAI.APIError && err.status === 400,
    );
  });
});
