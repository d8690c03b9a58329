import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isMediaType, MAX_MEDIA_TYPE_LENGTH } from './media-type.js';

describe('isMediaType', () => {
  it('accepts types with token and quoted parameters', () => {
    for (const t of ['audio/wav', 'application/octet-stream', 'audio/ogg; codecs="opus"', 'text/plain;charset=utf-8', 'video/vnd.dlna.mpeg-tts', 'a/b; x="q\\"uote"', 'audio/mp4 ; a=1 ;b=2']) {
      assert.ok(isMediaType(t), t);
    }
  });

  it('refuses line breaks, control characters, non-ASCII and broken syntax', () => {
    for (const t of ['text/plain\r\nx-injected: 1', 'audio/wav\n', 'audio/wav\0', 'audio/wäv', 'not a type', 'audio/', '/wav', 'audio', 'audio/wav;', 'audio/wav; charset', 'audio/wav;;x=1', 'a/b; x="unterminated', 'a/b; x="\r\n"', 'a/b c', '']) {
      assert.ok(!isMediaType(t), JSON.stringify(t));
    }
    assert.ok(!isMediaType(`audio/${'x'.repeat(MAX_MEDIA_TYPE_LENGTH)}`));
  });
});
