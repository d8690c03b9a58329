import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { combineWer, normalizeText, normalizeWords, wordErrorRate } from './wer.js';

const counts = (reference: string, hypothesis: string) => {
  const { wer, substitutions, deletions, insertions, referenceWords, hypothesisWords } = wordErrorRate(reference, hypothesis);
  return { wer, s: substitutions, d: deletions, i: insertions, n: referenceWords, h: hypothesisWords };
};

describe('normalizeWords', () => {
  it('lower-cases, drops punctuation and collapses whitespace', () => {
    assert.equal(normalizeText('  And so, my fellow Americans:\n\task NOT!  '), 'and so my fellow americans ask not');
  });

  it('keeps Spanish accents, ñ and ü, and drops inverted marks', () => {
    assert.equal(normalizeText('¿Qué hora es? ¡Mañana, pingüino!'), 'qué hora es mañana pingüino');
  });

  it('makes composed and decomposed accents, full-width letters and ligatures equal (NFKC)', () => {
    assert.equal(normalizeText('cancio\u0301n'), 'canción');
    assert.equal(normalizeText('Ｈｅｌｌｏ ﬁne'), 'hello fine');
  });

  it('keeps apostrophes inside words only, and treats a typographic one as plain', () => {
    assert.deepEqual(normalizeWords("Don't 'tis the dogs' l\u2019eau"), ["don't", 'tis', 'the', 'dogs', "l'eau"]);
  });

  it('splits on hyphens, dashes and other symbols', () => {
    assert.deepEqual(normalizeWords('lower-case ne-plus-ultra—and/or i.e.'), ['lower', 'case', 'ne', 'plus', 'ultra', 'and', 'or', 'i', 'e']);
  });

  it('does not convert numbers', () => {
    assert.deepEqual(normalizeWords('Fourteen 55, 1,000 and 3.5'), ['fourteen', '55', '1', '000', 'and', '3', '5']);
  });

  it('gives no words for empty, blank or punctuation-only text', () => {
    assert.deepEqual(normalizeWords(''), []);
    assert.deepEqual(normalizeWords(' \n\t '), []);
    assert.deepEqual(normalizeWords('... -- ¿? !'), []);
  });
});

describe('wordErrorRate', () => {
  it('is 0 for the same words, whatever the case and punctuation', () => {
    assert.deepEqual(counts('Ask not what your country can do for you.', 'ask not, what your country can do for you'), { wer: 0, s: 0, d: 0, i: 0, n: 9, h: 9 });
  });

  it('counts one substitution', () => {
    // the cat sat / the cat sit: 1 S over 3 words.
    assert.deepEqual(counts('the cat sat', 'the cat sit'), { wer: 1 / 3, s: 1, d: 0, i: 0, n: 3, h: 3 });
  });

  it('counts deletions and insertions', () => {
    // a b c d / a c d e: delete b, insert e.
    assert.deepEqual(counts('a b c d', 'a c d e'), { wer: 2 / 4, s: 0, d: 1, i: 1, n: 4, h: 4 });
    // go forward ten meters / go go forward ten meters please: 2 I.
    assert.deepEqual(counts('go forward ten meters', 'go go forward ten meters please'), { wer: 2 / 4, s: 0, d: 0, i: 2, n: 4, h: 6 });
  });

  it('can exceed 1 when the hypothesis is much longer than the reference', () => {
    // yes / no no no: 1 S + 2 I over 1 word.
    assert.deepEqual(counts('yes', 'no no no'), { wer: 3, s: 1, d: 0, i: 2, n: 1, h: 3 });
  });

  it('breaks ties towards substitutions', () => {
    // a b / b c: 2 S, or delete a, keep b, insert c; both cost 2, and the counts say 2 S.
    assert.deepEqual(counts('a b', 'b c'), { wer: 1, s: 2, d: 0, i: 0, n: 2, h: 2 });
  });

  it('tells Spanish words apart by their accents', () => {
    // "el" (the) and "él" (he), "si" and "sí": 2 S over 5 words; "canción" matches its decomposed form.
    assert.deepEqual(counts('Él dijo que sí, canción', 'el dijo que si cancio\u0301n'), { wer: 2 / 5, s: 2, d: 0, i: 0, n: 5, h: 5 });
    assert.deepEqual(counts('¿Qué hora es?', 'que hora es'), { wer: 1 / 3, s: 1, d: 0, i: 0, n: 3, h: 3 });
  });

  it('handles empty texts', () => {
    assert.deepEqual(counts('', ''), { wer: 0, s: 0, d: 0, i: 0, n: 0, h: 0 });
    assert.deepEqual(counts('hello world', ''), { wer: 1, s: 0, d: 2, i: 0, n: 2, h: 0 });
    assert.deepEqual(counts('', 'hello world'), { wer: 1, s: 0, d: 0, i: 2, n: 0, h: 2 });
    assert.deepEqual(counts('...', '¿?'), { wer: 0, s: 0, d: 0, i: 0, n: 0, h: 0 });
  });

  it('matches a hand-computed alignment of a real hypothesis', () => {
    // ref: he was not an ill disposed young man (8)
    // hyp: he was not an illness those young man (8): ill→illness, disposed→those = 2 S.
    assert.deepEqual(counts('he was not an ill disposed young man', 'he was not an illness those young man'), { wer: 2 / 8, s: 2, d: 0, i: 0, n: 8, h: 8 });
  });

  it('stays linear in memory on long inputs', () => {
    const words = Array.from({ length: 3000 }, (_, k) => `w${k % 97}`);
    const hyp = [...words];
    hyp.splice(100, 1);
    hyp[2000] = 'other';
    const r = wordErrorRate(words.join(' '), hyp.join(' '));
    assert.equal(r.substitutions + r.deletions + r.insertions, 2);
    assert.equal(r.referenceWords, 3000);
  });
});

describe('combineWer', () => {
  it('sums counts instead of averaging rates', () => {
    const total = combineWer([wordErrorRate('a b c d', 'a b c x'), wordErrorRate('e', '')]);
    // (1 S + 1 D) / 5 words, not the mean of 0.25 and 1.
    assert.deepEqual(total, { wer: 2 / 5, substitutions: 1, deletions: 1, insertions: 0, referenceWords: 5, hypothesisWords: 4 });
  });

  it('is 0 for no results', () => {
    assert.equal(combineWer([]).wer, 0);
  });
});
