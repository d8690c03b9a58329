/**
 * The AsrEngine contract: one suite that every engine must pass (mock, pocketsphinx, whisper,
 * openai), through the port only, on real English speech from the shared speech set. What differs
 * between engines (whether the words are real, how good they are) is an expectation of the harness;
 * everything else is the same for all.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { supportsLanguage } from '../../src/core/asr.js';
import { EarshotError } from '../../src/core/errors.js';
import { combineWer, normalizeText, normalizeWords, wordErrorRate } from '../../src/core/wer.js';
import type { AsrEngine, AsrResult } from '../../src/ports/asr-engine.js';
import { concatPcm, hasSpeech, loadClip, silence, type Clip } from '../support/speech.js';

export interface AsrEngineExpectations {
  /** Whether speech gives words at all (false for the weightless whisper test models). */
  producesWords: boolean;
  /** Where the words are real (not the mock's): the highest WER over the English clips together. */
  maxWer?: number;
  /** Whether silence must give no words (an engine that invents words on silence fails). */
  silenceIsEmpty: boolean;
  /** A language the engine lacks, which it must reject with `unsupported_language`. */
  unsupportedLanguage?: string;
}

export interface AsrEngineHarness {
  name: string;
  /** A new engine; the suite closes it. */
  create(): Promise<AsrEngine>;
  expect: AsrEngineExpectations;
  /** A reason to skip the suite (a missing binary, model or server), or false. */
  skip?: string | false;
}

/** English 16 kHz clips of the manifest, 2.8 to 11 s. */
export const ENGLISH_CLIPS = ['jfk/jfk.wav', 'pocketsphinx/sense_and_sensibility_01_austen_64kb-0880.wav', 'pocketsphinx/goforward.wav'];
/** An abort must end a call this soon (the call itself would take far longer). */
const ABORT_SETTLE_MS = 300;
const ABORT_AFTER_MS = 100;

const rejectsWith = (code: string, retryable: boolean) => (err: unknown) => {
  assert.ok(err instanceof EarshotError, `expected an EarshotError, got ${String(err)}`);
  assert.equal(err.code, code);
  assert.equal(err.retryable, retryable);
  return true;
};

/** Elapsed ms from `since` until `promise` settles. */
async function settleTime(promise: Promise<unknown>, since: number): Promise<number> {
  await promise.then(
    () => {},
    () => {},
  );
  return performance.now() - since;
}

export function asrEngineContract(h: AsrEngineHarness): void {
  const skip = h.skip || (!hasSpeech && 'the shared speech set is missing');
  describe(`AsrEngine contract: ${h.name}`, { skip }, () => {
    let engine: AsrEngine;
    let clips: Clip[];
    const results = new Map<string, AsrResult>();
    /** Each clip is transcribed once and shared by the tests that look at the result. */
    const transcribeClip = async (clip: Clip) => {
      const known = results.get(clip.file);
      if (known) return known;
      const result = await engine.transcribe({ pcm: clip.pcm, language: 'en' });
      results.set(clip.file, result);
      return result;
    };

    before(async () => {
      engine = await h.create();
      clips = ENGLISH_CLIPS.map(loadClip);
    });
    after(async () => {
      await engine?.close();
    });

    it('says it takes English', () => {
      assert.ok(supportsLanguage(engine.capabilities, 'en'));
      assert.ok(engine.name.length > 0 && engine.model.length > 0);
    });

    it('transcribes English speech', async (t) => {
      const wers = [];
      for (const clip of clips) {
        const started = performance.now();
        const result = await transcribeClip(clip);
        assert.equal(result.language, 'en');
        const wer = wordErrorRate(clip.reference, result.text);
        wers.push(wer);
        t.diagnostic(`${clip.file}: WER ${wer.wer.toFixed(3)} in ${Math.round(performance.now() - started)} ms: ${normalizeText(result.text)}`);
        if (h.expect.producesWords) assert.ok(wer.hypothesisWords > 0, `${clip.file} gave no words`);
      }
      const total = combineWer(wers);
      t.diagnostic(`WER over ${clips.length} clips: ${total.wer.toFixed(3)} (${total.referenceWords} reference words)`);
      if (h.expect.maxWer !== undefined) assert.ok(total.wer <= h.expect.maxWer, `WER ${total.wer.toFixed(3)} is above ${h.expect.maxWer}`);
    });

    it('gives segments and words in order, not overlapping, within the audio', async () => {
      for (const clip of clips) {
        const result = await transcribeClip(clip);
        assert.equal(normalizeText(result.segments.map((s) => s.text).join(' ')), normalizeText(result.text), 'text is the segments joined');
        let lastEndMs = 0;
        for (const s of result.segments) {
          assert.ok(s.startMs >= lastEndMs && s.startMs <= s.endMs && s.endMs <= clip.durationMs, `${clip.file}: segment ${s.startMs}-${s.endMs} after ${lastEndMs}`);
          lastEndMs = s.endMs;
          const wantWords = engine.capabilities.wordTimestamps && h.expect.producesWords && normalizeWords(s.text).length > 0;
          if (!wantWords) continue;
          assert.ok(s.words && s.words.length > 0, `${clip.file}: a segment without words`);
          assert.equal(normalizeText(s.words.map((w) => w.text).join(' ')), normalizeText(s.text), 'segment text is its words joined');
          let wordEndMs = s.startMs;
          for (const w of s.words) {
            assert.ok(w.startMs >= wordEndMs && w.startMs < w.endMs && w.endMs <= s.endMs, `${clip.file}: word ${w.startMs}-${w.endMs} after ${wordEndMs}`);
            assert.ok(w.confidence === undefined || (w.confidence >= 0 && w.confidence <= 1));
            wordEndMs = w.endMs;
          }
        }
      }
    });

    it('gives no words for silence or for no audio', { skip: !h.expect.silenceIsEmpty && 'this engine may put words on silence' }, async () => {
      for (const pcm of [silence(3), new Int16Array(0)]) {
        const result = await engine.transcribe({ pcm, language: 'en' });
        assert.deepEqual(normalizeWords(result.text), [], `invented "${result.text}"`);
        assert.ok(result.segments.every((s) => normalizeWords(s.text).length === 0));
      }
    });

    it('rejects a language it lacks with unsupported_language, not retryable', { skip: !h.expect.unsupportedLanguage && 'no unsupported language given' }, async () => {
      const language = h.expect.unsupportedLanguage!;
      assert.equal(supportsLanguage(engine.capabilities, language), false);
      await assert.rejects(engine.transcribe({ pcm: clips[2]!.pcm, language }), rejectsWith('unsupported_language', false));
    });

    it("detects the language with 'auto' if it says it can, and rejects 'auto' otherwise", async () => {
      const request = { pcm: clips[2]!.pcm, language: 'auto' };
      if (!engine.capabilities.languageDetection) return assert.rejects(engine.transcribe(request), rejectsWith('unsupported_language', false));
      assert.equal((await engine.transcribe(request)).language, 'en');
    });

    it('stops a call early when its signal aborts, with an AbortError, and stays usable', async () => {
      const controller = new AbortController();
      const long = concatPcm(clips[0]!.pcm, clips[0]!.pcm, clips[0]!.pcm);
      const call = engine.transcribe({ pcm: long, language: 'en', signal: controller.signal });
      await new Promise((resolve) => setTimeout(resolve, ABORT_AFTER_MS));
      const abortedAt = performance.now();
      controller.abort('cancelled'); // the worker aborts with a string reason
      const settledMs = await settleTime(assert.rejects(call, { name: 'AbortError' }), abortedAt);
      assert.ok(settledMs < ABORT_SETTLE_MS, `settled ${Math.round(settledMs)} ms after the abort`);
      await assert.rejects(engine.transcribe({ pcm: clips[2]!.pcm, language: 'en', signal: controller.signal }), { name: 'AbortError' });

      const again = await engine.transcribe({ pcm: clips[2]!.pcm, language: 'en' });
      if (h.expect.producesWords) assert.ok(normalizeWords(again.text).length > 0, 'no words after an abort');
      if (h.expect.maxWer !== undefined) assert.ok(wordErrorRate(clips[2]!.reference, again.text).wer <= h.expect.maxWer);
    });

    it('takes calls at once and in sequence', async () => {
      const pair = [clips[1]!, clips[2]!];
      const together = await Promise.all(pair.map((c) => engine.transcribe({ pcm: c.pcm, language: 'en' })));
      const again = await engine.transcribe({ pcm: pair[0]!.pcm, language: 'en' });
      assert.ok(together.every((r) => r.language === 'en') && again.language === 'en');
      const wer = combineWer([...together.map((r, i) => wordErrorRate(pair[i]!.reference, r.text)), wordErrorRate(pair[0]!.reference, again.text)]);
      if (h.expect.producesWords) assert.ok(wer.hypothesisWords > 0, 'no words');
      if (h.expect.maxWer !== undefined) assert.ok(wer.wer <= h.expect.maxWer, `WER ${wer.wer.toFixed(3)}`);
    });

    it('close() ends calls in flight, then refuses calls with asr_failed; closing twice is fine', async () => {
      const own = await h.create();
      const long = concatPcm(clips[0]!.pcm, clips[0]!.pcm, clips[0]!.pcm);
      const call = own.transcribe({ pcm: long, language: 'en' });
      await new Promise((resolve) => setTimeout(resolve, ABORT_AFTER_MS));
      const closedAt = performance.now();
      await own.close();
      const settledMs = await settleTime(assert.rejects(call, rejectsWith('asr_failed', true)), closedAt);
      assert.ok(settledMs < ABORT_SETTLE_MS, `settled ${Math.round(settledMs)} ms after close()`);
      await assert.rejects(own.transcribe({ pcm: clips[2]!.pcm, language: 'en' }), (err: unknown) => err instanceof EarshotError && err.code === 'asr_failed');
      await own.close();
    });
  });
}
