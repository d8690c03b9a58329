/**
 * Chunking must not cost accuracy: on the long English recording, transcribing in chunks cut at
 * silences scores within one point of word error rate of transcribing it whole with the same engine,
 * no cut splits a word, and no boundary loses or repeats words.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { normalizeWords, wordErrorRate } from '../../src/core/wer.js';
import { form, startEarshot, testEngines, type Earshot } from '../e2e/transcription.harness.js';
import { SPEECH_DIR, hasSpeech } from '../support/speech.js';

const FILE = 'long/concat-en-human.flac';

interface Clip {
  startMs: number;
  endMs: number;
  reference: string;
}

function clips(): Clip[] {
  return readFileSync(resolve(SPEECH_DIR, 'long/concat-en-human.segments.tsv'), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => {
      const [start, end, , reference] = line.split('\t');
      return { startMs: Number(start) * 1000, endMs: Number(end) * 1000, reference: reference! };
    });
}

interface Word {
  word: string;
  start: number;
  end: number;
}

describe('stitching long recordings', { skip: !hasSpeech && 'shared/speech is missing' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'earshot-stitch-'));
  let e: Earshot;
  before(async () => {
    e = await startEarshot({ 'data-dir': dir }, {}, { engines: testEngines() });
  });
  after(async () => {
    await e?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const transcribe = async (chunkSeconds: number) => {
    const created = await e.call('POST', '/v1/transcriptions', form(FILE, { language: 'en', engine: 'pocketsphinx', chunk_seconds: String(chunkSeconds), formats: 'txt,json' }));
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const job = await e.waitForJob(created.body.id, 900_000);
    assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
    const json = (await (await fetch(`${e.base}/v1/transcriptions/${created.body.id}?format=json`)).json()) as { text: string; segments: { words: Word[] }[] };
    const cuts = (job.tasks as { step: string; key: string }[]).filter((t) => t.step === 'transcribe.asr').length;
    return { text: json.text, words: json.segments.flatMap((s) => s.words), chunks: cuts, jobId: created.body.id as string };
  };

  it('keeps WER within one point of the whole-file transcript, cutting only in pauses, losing and repeating nothing', { timeout: 1_200_000 }, async () => {
    const reference = readFileSync(resolve(SPEECH_DIR, 'manifest-long.tsv'), 'utf8').split('\n')[1]!.split('\t')[2]!;
    const [whole, chunked] = await Promise.all([transcribe(3600), transcribe(60)]);
    assert.equal(whole.chunks, 1);
    assert.ok(chunked.chunks >= 4, `${chunked.chunks} chunks`);
    const werWhole = wordErrorRate(reference, whole.text).wer;
    const werChunked = wordErrorRate(reference, chunked.text).wer;
    assert.ok(Math.abs(werChunked - werWhole) <= 0.01, `chunked WER ${werChunked.toFixed(4)} vs whole ${werWhole.toFixed(4)}`);

    // Every cut is in a pause: no word of the whole-file transcript spans it.
    const detail = await e.app.engine.getJob(chunked.jobId);
    const cuts = detail.tasks
      .filter((t) => t.type === 'transcribe.asr')
      .map((t) => (t.input as { chunk: { keepFromMs: number } }).chunk.keepFromMs)
      .filter((ms) => ms > 0);
    assert.equal(cuts.length, chunked.chunks - 1);
    for (const cut of cuts) {
      const split = whole.words.find((w) => w.start * 1000 < cut - 50 && w.end * 1000 > cut + 50);
      assert.equal(split, undefined, `the cut at ${cut} ms splits "${split?.word}"`);
    }
    const all = clips();

    // Words come in time order, none twice, and the utterances on both sides of each cut have as many words as transcribing whole gives.
    for (let i = 1; i < chunked.words.length; i++) assert.ok(chunked.words[i]!.start >= chunked.words[i - 1]!.end - 0.001, `words overlap at ${chunked.words[i]!.start}s`);
    const count = (words: Word[], c: Clip) => words.filter((w) => (w.start + w.end) * 500 >= c.startMs && (w.start + w.end) * 500 < c.endMs).length;
    for (const cut of cuts) {
      const around = all.filter((c) => c.endMs > cut - 2000 && c.startMs < cut + 2000);
      assert.ok(around.length >= 1, `utterances around the cut at ${cut} ms`);
      for (const c of around) {
        const refWords = normalizeWords(c.reference).length;
        const [n, m] = [count(chunked.words, c), count(whole.words, c)];
        assert.ok(Math.abs(n - m) <= Math.max(2, refWords * 0.2), `utterance at ${c.startMs} ms: ${n} words chunked, ${m} whole, ${refWords} in the reference`);
      }
    }
  });
});
