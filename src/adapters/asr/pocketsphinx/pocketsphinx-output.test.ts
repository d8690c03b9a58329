import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePocketsphinxOutput } from './pocketsphinx-output.js';

// Real output of `pocketsphinx_continuous -time yes` (Debian 0.8+5prealpha): an utterance without
// words (empty hypothesis line), then two with fillers, silences and alternate pronunciations.
const OUTPUT = [
  '',
  '<s> 0.000 0.600 1.000000',
  '</s> 0.610 0.940 1.000000',
  'he was not an illness',
  '<s> 1.000 1.060 0.999500',
  '<sil> 1.070 1.200 0.694306',
  'he 1.210 1.320 0.998701',
  'was(2) 1.330 1.540 0.999800',
  'not 1.550 1.970 0.998701',
  '[SPEECH] 1.980 2.100 0.535598',
  'an(2) 2.110 2.290 0.472940',
  "illness 2.300 2.680 1.000300",
  '</s> 2.690 2.970 1.000000',
  "i'm self",
  '<s> 3.000 3.190 0.999600',
  "i'm(2) 3.200 3.410 0.044750",
  '[NOISE] 3.420 3.500 0.100000',
  'self 3.510 3.990 0.064447',
  '</s> 4.000 4.270 1.000000',
  '',
].join('\n');

describe('pocketsphinx output', () => {
  it('makes one segment per utterance with words, without fillers or pronunciation marks', () => {
    const segments = parsePocketsphinxOutput(OUTPUT, 5000);
    assert.deepEqual(
      segments.map((s) => [s.startMs, s.endMs, s.text]),
      [
        [1210, 2690, 'he was not an illness'],
        [3200, 4000, "i'm self"],
      ],
    );
  });

  it('times a word from its first frame to the end of its last (printed end + 10 ms), confidence in 0..1', () => {
    const [first] = parsePocketsphinxOutput(OUTPUT, 5000);
    assert.deepEqual(first!.words![0], { text: 'he', startMs: 1210, endMs: 1330, confidence: 0.998701 });
    assert.deepEqual(first!.words!.at(-1), { text: 'illness', startMs: 2300, endMs: 2690, confidence: 1 });
  });

  it('clamps times to the audio', () => {
    const segments = parsePocketsphinxOutput('hello\n<s> 0.000 0.100 1.0\nhello 0.110 0.995 0.9\n</s> 0.996 0.999 1.0\n', 1000);
    assert.deepEqual(segments[0]!.words, [{ text: 'hello', startMs: 110, endMs: 1000, confidence: 0.9 }]);
  });

  it('gives nothing for no output, and copes with CRLF and a missing hypothesis line', () => {
    assert.deepEqual(parsePocketsphinxOutput('', 1000), []);
    const segments = parsePocketsphinxOutput('<s> 0.000 0.100 1.0\r\ngo 0.110 0.300 nan\r\n</s> 0.310 0.400 1.0\r\n', 1000);
    assert.deepEqual(segments, [{ startMs: 110, endMs: 310, text: 'go', words: [{ text: 'go', startMs: 110, endMs: 310 }] }]);
  });
});
