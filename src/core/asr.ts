/** What an ASR engine can do, as data; see ports/asr-engine.ts. */
export interface AsrCapabilities {
  /** ISO 639-1 codes the engine transcribes, or 'any' (multilingual models). */
  languages: readonly string[] | 'any';
  /** Whether it can detect the language itself (language 'auto'). */
  languageDetection: boolean;
  /** Whether segments carry word-level timings. */
  wordTimestamps: boolean;
  /** Whether it can take audio incrementally (real-time sessions). */
  streaming: boolean;
  /** Whether it can translate into English (/v1/audio/translations). */
  translation: boolean;
}

/** The sample rate every engine takes. */
export const ASR_SAMPLE_RATE = 16_000;

/** Whether an engine can take a language (or 'auto'). */
export function supportsLanguage(capabilities: AsrCapabilities, language: string): boolean {
  if (language === 'auto') return capabilities.languageDetection;
  return capabilities.languages === 'any' || capabilities.languages.includes(language);
}
