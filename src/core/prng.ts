/**
 * A small seeded pseudo-random generator (mulberry32) for reproducible fakes and tests: mock
 * engines, load generators. Not for anything secret.
 */

/** A generator of numbers in [0, 1), fully determined by the 32-bit `seed`. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a (over 16-bit halves of each value): a seed that depends on every value given, e.g. audio samples. */
export function hashSeed(values: Iterable<number>, basis = 0x811c9dc5): number {
  let h = basis >>> 0;
  for (const v of values) {
    h = Math.imul(h ^ (v & 0xffff), 0x01000193) >>> 0;
    h = Math.imul(h ^ ((v >>> 16) & 0xffff), 0x01000193) >>> 0;
  }
  return h;
}
