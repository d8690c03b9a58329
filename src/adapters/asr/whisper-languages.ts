/**
 * Whisper's languages: ISO 639-1 code (or whisper's own, `haw`, `jw`, `yue`) and the English name that
 * OpenAI's API answers with (`"language": "english"`). The order is whisper's token order, which
 * matters: a model knows the first `n` of them (99 before large-v3, 100 from it, with `yue`).
 */
const TABLE =
  'en english|zh chinese|de german|es spanish|ru russian|ko korean|fr french|ja japanese|pt portuguese|tr turkish|' +
  'pl polish|ca catalan|nl dutch|ar arabic|sv swedish|it italian|id indonesian|hi hindi|fi finnish|vi vietnamese|' +
  'he hebrew|uk ukrainian|el greek|ms malay|cs czech|ro romanian|da danish|hu hungarian|ta tamil|no norwegian|' +
  'th thai|ur urdu|hr croatian|bg bulgarian|lt lithuanian|la latin|mi maori|ml malayalam|cy welsh|sk slovak|' +
  'te telugu|fa persian|lv latvian|bn bengali|sr serbian|az azerbaijani|sl slovenian|kn kannada|et estonian|mk macedonian|' +
  'br breton|eu basque|is icelandic|hy armenian|ne nepali|mn mongolian|bs bosnian|kk kazakh|sq albanian|sw swahili|' +
  'gl galician|mr marathi|pa punjabi|si sinhala|km khmer|sn shona|yo yoruba|so somali|af afrikaans|oc occitan|' +
  'ka georgian|be belarusian|tg tajik|sd sindhi|gu gujarati|am amharic|yi yiddish|lo lao|uz uzbek|fo faroese|' +
  'ht haitian creole|ps pashto|tk turkmen|nn nynorsk|mt maltese|sa sanskrit|lb luxembourgish|my myanmar|bo tibetan|tl tagalog|' +
  'mg malagasy|as assamese|tt tatar|haw hawaiian|ln lingala|ha hausa|ba bashkir|jw javanese|su sundanese|yue cantonese';

/** Codes in whisper's token order. */
export const WHISPER_LANGUAGE_CODES: readonly string[] = TABLE.split('|').map((entry) => entry.split(' ')[0]!);

const byName = new Map(TABLE.split('|').map((entry) => [entry.slice(entry.indexOf(' ') + 1), entry.split(' ')[0]!] as const));
const codes = new Set(WHISPER_LANGUAGE_CODES);

/** The code for a language as servers report it ("en", "English", "haitian creole"), or undefined. */
export function whisperLanguageCode(nameOrCode: string): string | undefined {
  const key = nameOrCode.trim().toLowerCase();
  return codes.has(key) ? key : byName.get(key);
}
