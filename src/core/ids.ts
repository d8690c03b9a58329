import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford base32, lower case

let lastMs = -1;
let lastRandom = new Uint8Array(10);

function encodeTime(ms: number): string {
  let out = '';
  let n = ms;
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[n % 32] + out;
    n = Math.floor(n / 32);
  }
  return out;
}

function encodeRandom(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}

/**
 * A time-sortable id (ULID layout: 48-bit ms time, 80 random bits), monotonic within a process, so
 * ids created in order sort in order.
 */
export function newId(prefix: string, nowMs: number = Date.now()): string {
  if (nowMs <= lastMs) {
    // Same millisecond: increment the random part instead of drawing a new one.
    for (let i = lastRandom.length - 1; i >= 0; i--) {
      const v = lastRandom[i]!;
      if (v < 255) {
        lastRandom[i] = v + 1;
        break;
      }
      lastRandom[i] = 0;
    }
  } else {
    lastMs = nowMs;
    lastRandom = new Uint8Array(randomBytes(10));
  }
  return `${prefix}_${encodeTime(lastMs)}${encodeRandom(lastRandom)}`;
}

/** A random opaque token (lease tokens, secrets): `bytes` of entropy, base64url. */
export function newToken(bytes = 16): string {
  return randomBytes(bytes).toString('base64url');
}
