/**
 * What a whisper.cpp ggml model can do, read from its header (the first 48 bytes) without loading it:
 * the submission checks need the capabilities before any worker has the model in memory, and a bad
 * path fails here with a clear error instead of the addon's "Failed to initialize whisper context".
 */
import { closeSync, openSync, readSync } from 'node:fs';
import type { AsrCapabilities } from '../../../core/asr.js';
import { EarshotError } from '../../../core/errors.js';
import { WHISPER_LANGUAGE_CODES } from '../whisper-languages.js';

/** "ggml" as a little-endian uint32: the first four bytes of every whisper.cpp model file. */
const GGML_MAGIC = 0x67676d6c;
/** whisper.cpp: a vocabulary this large holds the language tokens (`is_multilingual`). */
const MULTILINGUAL_VOCAB = 51865;
const HEADER_BYTES = 48;

export interface WhisperModelInfo {
  path: string;
  multilingual: boolean;
  /** The languages the model knows, in whisper's order (['en'] for `.en` models). */
  languages: readonly string[];
  nVocab: number;
}

/** Reads the model header; `model_not_found` when the file is missing, `invalid_config` when it is not a whisper model. */
export function readWhisperModelInfo(path: string): WhisperModelInfo {
  const header = Buffer.alloc(HEADER_BYTES);
  let read = 0;
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    read = readSync(fd, header, 0, HEADER_BYTES, 0);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new EarshotError('model_not_found', `no whisper model file at ${path}; download one with "earshot models pull NAME"`, { details: { path } });
    }
    throw new EarshotError('invalid_config', `cannot read the whisper model ${path}: ${code ?? (err as Error).message}`, { cause: err, details: { path } });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  if (read < HEADER_BYTES || header.readUInt32LE(0) !== GGML_MAGIC) {
    throw new EarshotError('invalid_config', `${path} is not a whisper.cpp ggml model (bad header)`, { details: { path } });
  }
  // int32 hparams follow the magic, n_vocab first.
  const nVocab = header.readInt32LE(4);
  const multilingual = nVocab >= MULTILINGUAL_VOCAB;
  // whisper.cpp's num_languages(): large-v3 adds one token (`yue`) to the 99 of earlier models.
  const languageCount = multilingual ? nVocab - 51765 - 1 : 1;
  return { path, multilingual, languages: WHISPER_LANGUAGE_CODES.slice(0, languageCount), nVocab };
}

/** The engine's capabilities for a model: multilingual models detect languages and translate. */
export function whisperCapabilities(info: WhisperModelInfo): AsrCapabilities {
  return {
    languages: info.multilingual ? 'any' : ['en'],
    languageDetection: info.multilingual,
    // The addon returns segment times only (no tokens), so no word timings.
    wordTimestamps: false,
    streaming: false,
    translation: info.multilingual,
  };
}
