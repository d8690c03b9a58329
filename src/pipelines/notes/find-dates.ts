/**
 * Dates said in a transcript, found by pattern in English and Spanish: ISO dates, a month with a day
 * or a year, weekdays, today / tomorrow / hoy / mañana, next week, and years such as 1811. A date is
 * resolved to ISO 8601 only when the words make it certain (a relative day needs the recording
 * date); otherwise it is kept as said, with `date: null`.
 */

export interface FoundDate {
  /** As said in the transcript. */
  text: string;
  date: string | null;
  /** Where it starts in the text. */
  index: number;
}

const MONTHS_EN = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];
const MONTHS_ES = ['enero', 'febrero', 'marzo', 'abril', 'mayo', 'junio', 'julio', 'agosto', 'septiembre', 'octubre', 'noviembre', 'diciembre'];
const month = (name: string) => {
  const n = name.toLowerCase();
  return (MONTHS_EN.indexOf(n) + 1 || MONTHS_ES.indexOf(n) + 1 || (n === 'setiembre' ? 9 : 0)) as number;
};

// JavaScript's \b knows only ASCII letters; these edges also work around "miércoles" and "mañana".
const L = '(?<![\\p{L}\\p{N}])';
const R = '(?![\\p{L}\\p{N}])';
const EN = MONTHS_EN.join('|');
const ES = [...MONTHS_ES, 'setiembre'].join('|');
const WEEKDAYS_EN = 'monday|tuesday|wednesday|thursday|friday|saturday|sunday';
const WEEKDAYS_ES = 'lunes|martes|mi[ée]rcoles|jueves|viernes|s[áa]bado|domingo';
const ORD = '(?:st|nd|rd|th)?';

type Resolve = (m: RegExpExecArray, recordedAt: Date | undefined) => string | null;

const pad = (n: number) => String(n).padStart(2, '0');
const ymd = (y: number, m: number, d: number): string | null => {
  const t = new Date(Date.UTC(y, m - 1, d));
  return t.getUTCMonth() === m - 1 && t.getUTCDate() === d ? `${y}-${pad(m)}-${pad(d)}` : null;
};
const dayMonth = (day: string | undefined, name: string | undefined, year: string | undefined, at: Date | undefined) => {
  const y = year ? Number(year) : at?.getUTCFullYear();
  return y === undefined ? null : ymd(y, month(name ?? ''), Number(day));
};
const shift = (days: number): Resolve => (_m, at) => (at ? new Date(at.getTime() + days * 86_400_000).toISOString().slice(0, 10) : null);
const never: Resolve = () => null;

/** Patterns in order of precedence: a longer match claims its words before a shorter one can. */
const patterns: [RegExp, Resolve][] = [
  [/(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)/g, (m) => ymd(Number(m[1]), Number(m[2]), Number(m[3]))],
  [new RegExp(`${L}(${EN})\\s+(\\d{1,2})${ORD}(?:,?\\s+(\\d{4}))?${R}`, 'giu'), (m, at) => dayMonth(m[2], m[1], m[3], at)],
  [new RegExp(`${L}(?:the\\s+)?(\\d{1,2})${ORD}\\s+(?:of\\s+)?(${EN})(?:,?\\s+(\\d{4}))?${R}`, 'giu'), (m, at) => dayMonth(m[1], m[2], m[3], at)],
  [new RegExp(`${L}(\\d{1,2})\\s+de\\s+(${ES})(?:\\s+(?:de|del)\\s+(\\d{4}))?${R}`, 'giu'), (m, at) => dayMonth(m[1], m[2], m[3], at)],
  [new RegExp(`${L}(${EN}|${ES})\\s+(?:of\\s+|de\\s+|del\\s+)?(\\d{4})${R}`, 'giu'), (m) => `${m[2]}-${pad(month(m[1]!))}`],
  [/(?<![\d/])\d{1,2}\/\d{1,2}\/\d{4}(?![\d/])/g, never], // 03/04/2024: day first or month first? Not certain.
  [new RegExp(`${L}(?:the\\s+day\\s+after\\s+tomorrow|pasado\\s+mañana)${R}`, 'giu'), shift(2)],
  [new RegExp(`${L}(?:the\\s+day\\s+before\\s+yesterday|anteayer|antier)${R}`, 'giu'), shift(-2)],
  [new RegExp(`${L}(?:today|tonight|esta\\s+noche)${R}`, 'giu'), shift(0)],
  // "hoy en día" is "nowadays", and "la mañana" / "esta mañana" is a morning, not tomorrow.
  [new RegExp(`${L}hoy${R}(?!\\s+en\\s+d[íi]a)`, 'giu'), shift(0)],
  [new RegExp(`${L}(?:tomorrow)${R}|(?<!${L}(?:la|esta|una|cada|media)\\s+)${L}mañana${R}`, 'giu'), shift(1)],
  [new RegExp(`${L}(?:yesterday|ayer)${R}`, 'giu'), shift(-1)],
  [new RegExp(`${L}(?:(?:next|last|this|on)\\s+)?(?:${WEEKDAYS_EN})${R}`, 'giu'), never],
  [new RegExp(`${L}(?:(?:el|este|próximo|pasado)\\s+)?(?:próximo\\s+)?(?:${WEEKDAYS_ES})(?:\\s+(?:que\\s+viene|pasado|próximo))?${R}`, 'giu'), never],
  [new RegExp(`${L}(?:next|last|this)\\s+(?:week|weekend|month|year)${R}`, 'giu'), never],
  [new RegExp(`${L}(?:(?:la|el)\\s+(?:próxima\\s+|próximo\\s+)?(?:semana|mes|año)\\s+(?:que\\s+viene|pasad[oa]|próxim[oa])|(?:la\\s+)?próxima\\s+semana|(?:el\\s+)?próximo\\s+(?:mes|año)|(?:este|el)\\s+fin\\s+de\\s+semana)${R}`, 'giu'), never],
  // A bare year; not a part of a time, a number with separators, or a count of something.
  [/(?<![\d:/.,-])(1[0-9]{3}|20[0-9]{2})(?![\d:/%]|[.,]\d|\s*(?:people|persons?|personas|dollars|euros|pesos|km|kilometers|meters|metros|miles|kg)\b)/g, (m) => m[1]!],
];

/** Every date in `text` once (by its words), in order. `recordedAt` (ISO 8601) resolves relative days. */
export function findDates(text: string, recordedAt?: string): FoundDate[] {
  const at = recordedAt && !Number.isNaN(Date.parse(recordedAt.slice(0, 10))) ? new Date(`${recordedAt.slice(0, 10)}T00:00:00Z`) : undefined;
  const taken: [number, number][] = [];
  const found: FoundDate[] = [];
  for (const [pattern, resolve] of patterns) {
    pattern.lastIndex = 0;
    for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
      const start = m.index;
      const end = start + m[0].length;
      if (taken.some(([s, e]) => start < e && end > s)) continue;
      taken.push([start, end]);
      found.push({ text: m[0], date: resolve(m, at), index: start });
    }
  }
  const seen = new Set<string>();
  return found
    .sort((a, b) => a.index - b.index)
    .filter((d) => {
      const key = d.text.toLowerCase().replace(/\s+/g, ' ');
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
}
