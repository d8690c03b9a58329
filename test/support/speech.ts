/**
 * The shared speech set (`../shared/speech` beside the repository, or EARSHOT_SPEECH_DIR): 16 kHz mono
 * clips as PCM, with their reference transcripts from manifest.tsv. Files are read in place.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ASR_SAMPLE_RATE } from '../../src/core/asr.js';
import { decodeWav } from '../../src/core/wav.js';

export const SPEECH_DIR = process.env.EARSHOT_SPEECH_DIR ?? resolve(import.meta.dirname, '../../../shared/speech');

/** The shared videos (`../shared/video` beside the repository, or EARSHOT_VIDEO_DIR). */
export const VIDEO_DIR = process.env.EARSHOT_VIDEO_DIR ?? resolve(import.meta.dirname, '../../../shared/video');

/** Whether the speech set is there (tests that need it skip otherwise). */
export const hasSpeech = existsSync(resolve(SPEECH_DIR, 'manifest.tsv'));

export interface Clip {
  /** Path inside the speech folder, as in the manifest. */
  file: string;
  language: string;
  reference: string;
  pcm: Int16Array;
  durationMs: number;
}

export interface ManifestEntry {
  file: string;
  language: string;
  reference: string;
}

/** The rows of a manifest of the speech folder (`manifest.tsv`, `manifest-long.tsv`, ...). */
export function readManifest(name = 'manifest.tsv'): ManifestEntry[] {
  return readFileSync(resolve(SPEECH_DIR, name), 'utf8')
    .split('\n')
    .slice(1)
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [file, language, reference] = line.split('\t');
      return { file: file!, language: language!, reference: reference! };
    });
}

/** The per-clip timings of a long recording (`long/concat-en-human.segments.tsv`), as transcript segments. */
export function readSegments(file: string): { startMs: number; endMs: number; text: string }[] {
  return readFileSync(resolve(SPEECH_DIR, file), 'utf8')
    .split('\n')
    .slice(1)
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [start, end, , text] = line.split('\t');
      return { startMs: Math.round(Number(start) * 1000), endMs: Math.round(Number(end) * 1000), text: text! };
    });
}

let manifest: Map<string, { language: string; reference: string }> | undefined;

/** A 16 kHz mono 16-bit WAV clip of the manifest, decoded. */
export function loadClip(file: string): Clip {
  manifest ??= new Map(readManifest().map(({ file: name, ...entry }) => [name, entry] as const));
  const entry = manifest.get(file);
  if (!entry) throw new Error(`${file} is not in manifest.tsv`);
  const { pcm, sampleRate } = decodeWav(readFileSync(resolve(SPEECH_DIR, file)));
  if (sampleRate !== ASR_SAMPLE_RATE) throw new Error(`${file} is ${sampleRate} Hz, not ${ASR_SAMPLE_RATE}`);
  return { file, ...entry, pcm, durationMs: (pcm.length * 1000) / ASR_SAMPLE_RATE };
}

/** `seconds` of digital silence. */
export function silence(seconds: number): Int16Array {
  return new Int16Array(Math.round(seconds * ASR_SAMPLE_RATE));
}

/** Clips one after another. */
export function concatPcm(...parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
