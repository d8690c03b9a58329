/**
 * Word error rate: how far a transcript is from a reference, in word edits (substitutions,
 * deletions, insertions) per reference word. Tests and benchmarks compare transcripts this way
 * rather than as exact strings.
 */

export interface WerResult {
  /** (substitutions + deletions + insertions) / referenceWords; see wordErrorRate for an empty reference. */
  wer: number;
  substitutions: number;
  deletions: number;
  insertions: number;
  referenceWords: number;
  hypothesisWords: number;
}

/**
 * The words of a transcript, as WER counts them:
 * - Unicode NFKC (full-width forms, ligatures and composed/decomposed accents compare equal), then
 *   lower case;
 * - letters keep their accents (`canción` is not `cancion`), and `ñ`, `ü` and combining marks stay;
 * - an apostrophe (’ or ') stays only between two letters or digits (`don't`, `l'eau`); leading and
 *   trailing ones go (`'tis` → `tis`, `dogs'` → `dogs`);
 * - hyphens and dashes split words (`lower-case` → `lower case`), and every other punctuation mark or
 *   symbol is a word break too (`¿qué?` → `qué`, `and/or` → `and or`, `i.e.` → `i e`);
 * - numbers are NOT spelled out or otherwise converted: `15` and `fifteen` are different words.
 */
export function normalizeWords(text: string): string[] {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[\u2019\u2018\u02bc]/g, "'")
    .replace(/(?<![\p{L}\p{N}])'|'(?![\p{L}\p{N}])/gu, ' ')
    .replace(/[^\p{L}\p{M}\p{N}']+/gu, ' ')
    .split(' ')
    .filter((w) => w.length > 0);
}

/** The normalised text of a transcript: normalizeWords joined by single spaces. */
export function normalizeText(text: string): string {
  return normalizeWords(text).join(' ');
}

/**
 * Word error rate of `hypothesis` against `reference`, both normalised with normalizeWords, by a
 * Levenshtein alignment on words (time O(n·m), memory O(m) with two rows). Where several alignments
 * have the minimal cost, counts follow the one that prefers substitutions, then deletions.
 * An empty reference gives wer 0 for an empty hypothesis and 1 otherwise (there is nothing to divide
 * by); to combine several utterances, add the counts (combineWer), do not average the rates.
 */
export function wordErrorRate(reference: string, hypothesis: string): WerResult {
  const ref = normalizeWords(reference);
  const hyp = normalizeWords(hypothesis);
  // Row r holds, for each j, the cost and edit counts of the best alignment of ref[0..r) with
  // hyp[0..j); only the previous row is kept. Counts live in typed arrays: no object per cell.
  const width = hyp.length + 1;
  let prev = newRow(width);
  let row = newRow(width);
  for (let j = 0; j < width; j++) prev.cost[j] = prev.ins[j] = j;
  for (let r = 1; r <= ref.length; r++) {
    row.cost[0] = row.del[0] = r;
    row.sub[0] = row.ins[0] = 0;
    for (let h = 1; h < width; h++) {
      // Diagonal first (match or substitution), then deletion (from above), then insertion (left).
      const miss = ref[r - 1] === hyp[h - 1] ? 0 : 1;
      const diag = prev.cost[h - 1]! + miss;
      const up = prev.cost[h]! + 1;
      const left = row.cost[h - 1]! + 1;
      if (diag <= up && diag <= left) {
        copy(row, h, prev, h - 1, diag);
        row.sub[h]! += miss;
      } else if (up <= left) {
        copy(row, h, prev, h, up);
        row.del[h]! += 1;
      } else {
        copy(row, h, row, h - 1, left);
        row.ins[h]! += 1;
      }
    }
    [prev, row] = [row, prev];
  }
  const last = hyp.length;
  return result(prev.sub[last]!, prev.del[last]!, prev.ins[last]!, ref.length, hyp.length);
}

interface Row {
  cost: Uint32Array;
  sub: Uint32Array;
  del: Uint32Array;
  ins: Uint32Array;
}

function copy(to: Row, j: number, from: Row, i: number, cost: number): void {
  to.cost[j] = cost;
  to.sub[j] = from.sub[i]!;
  to.del[j] = from.del[i]!;
  to.ins[j] = from.ins[i]!;
}

function newRow(width: number): Row {
  return { cost: new Uint32Array(width), sub: new Uint32Array(width), del: new Uint32Array(width), ins: new Uint32Array(width) };
}

/** The WER of several utterances together: edit counts and reference words are summed. */
export function combineWer(results: readonly WerResult[]): WerResult {
  const sum = (k: keyof WerResult) => results.reduce((n, r) => n + r[k], 0);
  return result(sum('substitutions'), sum('deletions'), sum('insertions'), sum('referenceWords'), sum('hypothesisWords'));
}

function result(substitutions: number, deletions: number, insertions: number, referenceWords: number, hypothesisWords: number): WerResult {
  const errors = substitutions + deletions + insertions;
  const wer = referenceWords > 0 ? errors / referenceWords : hypothesisWords > 0 ? 1 : 0;
  return { wer, substitutions, deletions, insertions, referenceWords, hypothesisWords };
}
