/**
 * 16-bit PCM WAV: the one audio format Earshot writes (ffmpeg decodes everything else into it).
 * Pure functions over buffers; no I/O.
 */
import { EarshotError } from './errors.js';

export const WAV_HEADER_BYTES = 44;

export interface WavFormat {
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  /** Byte offset of the sample data. */
  dataOffset: number;
  /** Bytes of sample data. */
  dataBytes: number;
}

/** A canonical 44-byte header for mono or multi-channel 16-bit PCM. */
export function wavHeader(dataBytes: number, sampleRate: number, channels = 1): Buffer {
  const h = Buffer.alloc(WAV_HEADER_BYTES);
  const blockAlign = channels * 2;
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write('WAVE', 8, 'ascii');
  h.write('fmt ', 12, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * blockAlign, 28);
  h.writeUInt16LE(blockAlign, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(dataBytes, 40);
  return h;
}

/** A WAV file holding `pcm` (mono 16-bit). */
export function encodeWav(pcm: Int16Array, sampleRate: number): Buffer {
  const data = Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
  return Buffer.concat([wavHeader(data.length, sampleRate), data]);
}

/** Reads the format from the start of a WAV file (walks the chunks: ffmpeg adds LIST chunks). */
export function parseWavHeader(head: Buffer): WavFormat {
  if (head.length < 12 || head.toString('ascii', 0, 4) !== 'RIFF' || head.toString('ascii', 8, 12) !== 'WAVE') {
    throw new EarshotError('corrupt_media', 'not a WAV file');
  }
  let offset = 12;
  let fmt: Omit<WavFormat, 'dataOffset' | 'dataBytes'> | undefined;
  while (offset + 8 <= head.length) {
    const id = head.toString('ascii', offset, offset + 4);
    const size = head.readUInt32LE(offset + 4);
    if (id === 'fmt ') {
      fmt = { channels: head.readUInt16LE(offset + 10), sampleRate: head.readUInt32LE(offset + 12), bitsPerSample: head.readUInt16LE(offset + 22) };
    } else if (id === 'data') {
      if (!fmt) break;
      return { ...fmt, dataOffset: offset + 8, dataBytes: size };
    }
    offset += 8 + size + (size % 2);
  }
  throw new EarshotError('corrupt_media', 'WAV header incomplete');
}

/** Samples of a mono 16-bit WAV held in memory. */
export function decodeWav(file: Buffer): { pcm: Int16Array; sampleRate: number } {
  const f = parseWavHeader(file);
  if (f.bitsPerSample !== 16 || f.channels !== 1) throw new EarshotError('unsupported_media', 'expected mono 16-bit PCM');
  const end = Math.min(file.length, f.dataOffset + f.dataBytes);
  const bytes = file.subarray(f.dataOffset, end - ((end - f.dataOffset) % 2));
  const copy = new Int16Array(bytes.length / 2);
  Buffer.from(copy.buffer).set(bytes);
  return { pcm: copy, sampleRate: f.sampleRate };
}
