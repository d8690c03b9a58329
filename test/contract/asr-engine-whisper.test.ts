/**
 * The AsrEngine contract against the whisper engine, on whisper.cpp's weightless English-only test
 * model (it loads, runs the real computation and transcribes everything to ""), so what is checked
 * is the wiring: languages, silence, abort, concurrency and close. Each call takes 15-50 s on two
 * cores: this file is slow.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { createWhisperEngine } from '../../src/adapters/asr/whisper/whisper-engine.js';
import { whisperPackageName } from '../../src/adapters/asr/whisper/whisper-native.js';
import { asrEngineContract } from './asr-engine.case.js';

const MODEL = resolve(import.meta.dirname, '../../../shared/models/whisper-cpp-test-stubs/for-tests-ggml-tiny.en.bin');
const addon = whisperPackageName('off');
const hasAddon = (() => {
  try {
    createRequire(import.meta.url).resolve(addon);
    return true;
  } catch {
    return false;
  }
})();

asrEngineContract({
  name: 'whisper (test model)',
  create: async () => createWhisperEngine({ modelPath: MODEL, threads: 2 }),
  // The multilingual test model would detect a made-up language for 'auto'; the English one refuses it.
  expect: { producesWords: false, silenceIsEmpty: true, unsupportedLanguage: 'es' },
  skip: (!existsSync(MODEL) && 'the whisper test model is missing') || (!hasAddon && `${addon} is not installed`),
});
