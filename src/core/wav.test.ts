import assert from 'node:assert/strict';
import { it } from 'node:test';
import { decodeWav, encodeWav, parseWavHeader } from './wav.js';

it('round-trips mono 16-bit PCM through a WAV file', () => {
  const pcm = Int16Array.from([0, 1, -1, 32767, -32768, 1234]);
  const file = encodeWav(pcm, 16000);
  assert.equal(file.length, 44 + 12);
  const f = parseWavHeader(file);
  assert.deepEqual([f.sampleRate, f.channels, f.bitsPerSample, f.dataOffset, f.dataBytes], [16000, 1, 16, 44, 12]);
  assert.deepEqual([...decodeWav(file).pcm], [...pcm]);
  assert.throws(() => parseWavHeader(Buffer.from('not a wav file at all, no')), { code: 'corrupt_media' });
});
