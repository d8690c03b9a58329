/**
 * A corpus of damaged and unusual media, made at test time from the shared recordings (nothing binary
 * is committed): cut, flipped, zeroed and duplicated bytes; valid files that look odd (a WAV with no
 * samples, WavPack, a Matroska file whose subtitle outlasts its audio, Ogg behind leading junk); and a
 * WAV header that lies about its sample rate. Every change is at a fixed place, so a failure repeats.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { wavHeader } from '../../src/core/wav.js';
import { SPEECH_DIR, VIDEO_DIR } from './speech.js';

const execFileP = promisify(execFile);

export const DAMAGED_SOURCES = {
  jfkWav: join(SPEECH_DIR, 'jfk/jfk.wav'),
  jfkMp3: join(SPEECH_DIR, 'jfk/jfk.mp3'),
  jfkMp4: join(VIDEO_DIR, 'speech_jfk_en_320x180.mp4'),
  bunnyMp4: join(VIDEO_DIR, 'big_buck_bunny_60s_640x360.mp4'),
  longFlac: join(SPEECH_DIR, 'long/concat-es-human.flac'),
  fleursWebm: join(VIDEO_DIR, 'speech_fleurs-es-000_320x180.webm'),
  fleursOgg: join(SPEECH_DIR, 'fleurs/en/fleurs-en-000.ogg'),
  goforwardWav: join(SPEECH_DIR, 'pocketsphinx/goforward.wav'),
} as const;

/** Damaged files: real audio decodes from each, with errors or short of the length it declares. */
export interface DamagedFiles {
  /** bbb's 60 s mp4 (index up front) cut to its first 300 kB: the index still declares 60 s. */
  cutMp4: string;
  /** jfk.mp3 cut to 20 kB: its Xing header still counts 11 s of frames. */
  cutMp3: string;
  /** The 131 s FLAC cut to 1 MB: STREAMINFO still counts every sample. */
  cutFlac: string;
  /** The 12.8 s webm cut to 200 kB: its DURATION tags still state the whole length. */
  cutWebm: string;
  /** jfk.wav cut to 3.1 s: its data chunk still declares 11 s. */
  cutWav: string;
  /** jfk.mp3 with every 7th of 14,000 bytes inverted from 30 % on: the mp3 decoder reports errors. */
  flippedMp3: string;
  /** The jfk mp4 with 40 kB zeroed at 40 %: AAC frames that do not decode. */
  zeroedMp4: string;
  /** The 131 s FLAC with 40 kB zeroed at 40 %: the frames there are dropped (about 3 s). */
  zeroedFlac: string;
  /** jfk.mp3 with 40 kB at 40 % written twice: the decoder trips at both seams. */
  duplicatedMp3: string;
}

/** Files that declare a length and hold no audio that decodes. */
export interface EmptyFiles {
  /** jfk's FLAC with every byte after its metadata zeroed: STREAMINFO declares 11 s. */
  framelessFlac: string;
}

/** Valid files that earlier versions refused. */
export interface UnusualFiles {
  /** A WAV header with a data size of 0 and nothing after it: an empty recording. */
  zeroSampleWav: string;
  /** jfk.wav encoded as WavPack (the .wv container). */
  wavpack: string;
  /** jfk.wav (11 s, FLAC) in Matroska with an SRT subtitle stream running to 30 s. */
  subtitledMkv: string;
  /** The fleurs Ogg (10.57 s) behind 3,000 bytes of junk. */
  junkOgg: string;
}

/** Files whose header states what the stream cannot be. */
export interface LyingFiles {
  /** goforward.wav with its header's sample rate set to 2^31 Hz. */
  hugeRateWav: string;
}

export interface DamagedCorpus {
  damaged: DamagedFiles;
  empty: EmptyFiles;
  unusual: UnusualFiles;
  lying: LyingFiles;
}

/** Writes the corpus into `dir` (ffmpeg makes the WavPack and Matroska files). */
export async function makeDamagedCorpus(dir: string): Promise<DamagedCorpus> {
  const S = DAMAGED_SOURCES;
  const out = (name: string) => join(dir, name);
  const write = async (name: string, bytes: Buffer) => (await writeFile(out(name), bytes), out(name));

  const mp3 = await readFile(S.jfkMp3);
  const flac = await readFile(S.longFlac);
  const damaged: DamagedFiles = {
    cutMp4: await write('cut.mp4', (await readFile(S.bunnyMp4)).subarray(0, 300_000)),
    cutMp3: await write('cut.mp3', mp3.subarray(0, 20_000)),
    cutFlac: await write('cut.flac', flac.subarray(0, 1_000_000)),
    cutWebm: await write('cut.webm', (await readFile(S.fleursWebm)).subarray(0, 200_000)),
    cutWav: await write('cut.wav', (await readFile(S.jfkWav)).subarray(0, 100_044)),
    flippedMp3: await write('flipped.mp3', flipBytes(mp3, Math.floor(mp3.length * 0.3), 2000, 7)),
    zeroedMp4: await write('zeroed.mp4', zeroBytes(await readFile(S.jfkMp4), 0.4, 40_000)),
    zeroedFlac: await write('zeroed.flac', zeroBytes(flac, 0.4, 40_000)),
    duplicatedMp3: await write('duplicated.mp3', duplicateBytes(mp3, 0.4, 40_000)),
  };

  const srt = await write('thirty-seconds.srt', Buffer.from('1\n00:00:00,000 --> 00:00:30,000\nA caption that outlasts the audio\n\n'));
  const ffmpeg = (args: string[]) => execFileP('ffmpeg', ['-nostdin', '-v', 'error', '-y', ...args]);
  await ffmpeg(['-i', S.jfkWav, '-c:a', 'wavpack', out('jfk.wv')]);
  await ffmpeg(['-i', S.jfkWav, '-i', srt, '-map', '0:a', '-map', '1:s', '-c:a', 'flac', '-c:s', 'srt', out('subtitled.mkv')]);
  await ffmpeg(['-i', S.jfkWav, '-c:a', 'flac', out('jfk.flac')]);
  const jfkFlac = await readFile(out('jfk.flac'));
  const empty: EmptyFiles = { framelessFlac: await write('frameless.flac', jfkFlac.fill(0, flacFramesOffset(jfkFlac))) };
  const unusual: UnusualFiles = {
    zeroSampleWav: await write('zero-samples.wav', wavHeader(0, 16_000)),
    wavpack: out('jfk.wv'),
    subtitledMkv: out('subtitled.mkv'),
    junkOgg: await write('junk.ogg', Buffer.concat([seededBytes(3000), await readFile(S.fleursOgg)])),
  };

  const lie = await readFile(S.goforwardWav);
  const fmt = lie.indexOf('fmt ');
  lie.writeUInt32LE(2 ** 31, fmt + 12); // sample rate
  lie.writeUInt32LE((2 ** 31 * 2) % 2 ** 32, fmt + 16); // byte rate, as a consistent liar writes it
  const lying: LyingFiles = { hugeRateWav: await write('huge-rate.wav', lie) };

  return { damaged, empty, unusual, lying };
}

/** Where a FLAC file's first audio frame starts: after the metadata block marked last. */
function flacFramesOffset(bytes: Buffer): number {
  let at = 4; // "fLaC"
  for (;;) {
    const last = (bytes[at]! & 0x80) !== 0;
    at += 4 + bytes.readUIntBE(at + 1, 3);
    if (last) return at;
  }
}

/** A copy with every `step`th of `count` bytes from `from` inverted. */
export function flipBytes(bytes: Buffer, from: number, count: number, step: number): Buffer {
  const copy = Buffer.from(bytes);
  for (let i = 0; i < count; i++) copy[from + i * step] = copy[from + i * step]! ^ 0xff;
  return copy;
}

/** A copy with `n` bytes zeroed from `fraction` of the way in. */
export function zeroBytes(bytes: Buffer, fraction: number, n: number): Buffer {
  const copy = Buffer.from(bytes);
  copy.fill(0, Math.floor(bytes.length * fraction), Math.floor(bytes.length * fraction) + n);
  return copy;
}

/** A copy with the `n` bytes from `fraction` of the way in written twice. */
export function duplicateBytes(bytes: Buffer, fraction: number, n: number): Buffer {
  const at = Math.floor(bytes.length * fraction);
  return Buffer.concat([bytes.subarray(0, at + n), bytes.subarray(at, at + n), bytes.subarray(at + n)]);
}

/** The same pseudo-random bytes every run (xorshift32). */
export function seededBytes(n: number, seed = 0x9e3779b9): Buffer {
  const out = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
