import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planChunks } from './chunk-plan.js';
import { renderTranscript } from './render.js';
import { stitch } from './stitch.js';
import type { AsrResult } from '../../ports/asr-engine.js';

const region = (s: number, e: number) => ({ startMs: s * 1000, endMs: e * 1000 });

describe('chunk plan', () => {
  it('keeps a short file whole', () => {
    const chunks = planChunks(60_000, [region(1, 59)]);
    assert.deepEqual(chunks.map((c) => [c.startMs, c.endMs, c.keepFromMs, c.keepUntilMs]), [[0, 60_000, 0, 60_000]]);
  });

  it('cuts a long file in the middle of silences near the target, covering the timeline exactly once', () => {
    // Speech in 10 s blocks with 1 s pauses, one hour long.
    const speech = Array.from({ length: 330 }, (_, i) => region(i * 11, i * 11 + 10));
    const duration = 3_600_000;
    const chunks = planChunks(duration, speech, { targetMs: 180_000 });
    assert.ok(chunks.length >= 18 && chunks.length <= 22, `${chunks.length} chunks`);
    assert.equal(chunks[0]!.keepFromMs, 0);
    assert.equal(chunks.at(-1)!.keepUntilMs, duration);
    for (let i = 1; i < chunks.length; i++) {
      assert.equal(chunks[i]!.keepFromMs, chunks[i - 1]!.keepUntilMs);
      // Cut inside a pause: no speech region crosses it.
      const cut = chunks[i]!.keepFromMs;
      assert.ok(!speech.some((r) => r.startMs < cut && r.endMs > cut), `cut at ${cut} splits speech`);
      // Each chunk also hears some context before its cut, whose words belong to the previous chunk.
      assert.equal(chunks[i]!.startMs, cut - 3000);
    }
    for (const c of chunks.slice(0, -1)) assert.ok(c.endMs - c.startMs <= 270_000);
  });

  it('forces a cut with overlap through speech that never pauses', () => {
    const chunks = planChunks(600_000, [region(0, 600)], { targetMs: 180_000, overlapMs: 2000, contextMs: 3000 });
    assert.ok(chunks.length >= 3);
    assert.equal(chunks[1]!.startMs, chunks[0]!.keepUntilMs - 1000);
    assert.equal(chunks[0]!.endMs, chunks[0]!.keepUntilMs + 1000);
  });

  it('marks chunks without speech', () => {
    const chunks = planChunks(900_000, [region(10, 20)], { targetMs: 180_000 });
    assert.equal(chunks[0]!.hasSpeech, true);
    assert.ok(chunks.slice(1).every((c) => !c.hasSpeech));
  });
});

describe('stitch', () => {
  const words = (list: [string, number, number][]) => list.map(([text, s, e]) => ({ text, startMs: s, endMs: e }));
  const result = (w: ReturnType<typeof words>): AsrResult => ({
    text: w.map((x) => x.text).join(' '),
    language: 'en',
    segments: [{ startMs: w[0]!.startMs, endMs: w.at(-1)!.endMs, text: w.map((x) => x.text).join(' '), words: w }],
  });

  it('offsets timestamps and keeps each overlapped word once', () => {
    // Forced cut at 10 s with 2 s of overlap: chunk 0 hears 0–11 s, chunk 1 hears 9–20 s.
    const a = { index: 0, startMs: 0, endMs: 11_000, keepFromMs: 0, keepUntilMs: 10_000, hasSpeech: true };
    const b = { index: 1, startMs: 9_000, endMs: 20_000, keepFromMs: 10_000, keepUntilMs: 20_000, hasSpeech: true };
    const t = stitch(
      [
        { chunk: b, result: result(words([['over', 500, 900], ['the', 1200, 1400], ['lazy', 1500, 1900], ['dog', 2000, 2400]])) },
        { chunk: a, result: result(words([['the', 8000, 8300], ['fox', 8400, 8900], ['jumps', 9200, 9700], ['over', 9500, 9900]])) },
      ],
      { durationMs: 20_000, engine: 'test', model: 'm', language: 'en' },
    );
    assert.equal(t.text, 'the fox jumps over the lazy dog');
    assert.deepEqual(t.segments[1]!.words!.map((w) => w.startMs), [10_200, 10_500, 11_000]);
  });
});

describe('render', () => {
  const t = {
    text: 'Hello there. General Kenobi.',
    language: 'en',
    durationMs: 5000,
    engine: 'test',
    model: 'm',
    segments: [
      { id: 0, startMs: 0, endMs: 1500, text: 'Hello there.' },
      { id: 1, startMs: 3_661_250, endMs: 3_662_000, text: 'General Kenobi.' },
    ],
  };

  it('writes SRT and WebVTT cues with their timestamps', () => {
    assert.equal(
      renderTranscript(t, 'srt'),
      '1\n00:00:00,000 --> 00:00:01,500\nHello there.\n\n2\n01:01:01,250 --> 01:01:02,000\nGeneral Kenobi.\n',
    );
    assert.equal(renderTranscript(t, 'vtt'), 'WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nHello there.\n\n01:01:01.250 --> 01:01:02.000\nGeneral Kenobi.\n');
    assert.equal(renderTranscript(t, 'txt'), 'Hello there. General Kenobi.\n');
    const json = JSON.parse(renderTranscript(t, 'json')) as { duration: number; segments: { start: number }[] };
    assert.equal(json.duration, 5);
    assert.equal(json.segments[1]!.start, 3661.25);
  });

  it('splits long segments into readable cues on two lines at most', () => {
    const words = Array.from({ length: 40 }, (_, i) => ({ text: `word${i}`, startMs: i * 400, endMs: i * 400 + 300 }));
    const long = { ...t, segments: [{ id: 0, startMs: 0, endMs: 16_000, text: words.map((w) => w.text).join(' '), words }] };
    const srt = renderTranscript(long, 'srt');
    const blocks = srt.trim().split('\n\n');
    assert.ok(blocks.length >= 3);
    for (const b of blocks) {
      const lines = b.split('\n').slice(2);
      assert.ok(lines.length <= 2 && lines.every((l) => l.length <= 42), b);
    }
    assert.equal(blocks.flatMap((b) => b.split('\n').slice(2).join(' ').split(' ')).length, 40);
  });
});
