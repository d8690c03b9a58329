import { createHash, randomBytes } from 'node:crypto';

const KEY_PREFIX = 'es_';

/** API keys are 32 random bytes; only their SHA-256 is stored (they are too long to guess, so no slow hash is needed). */
export function generateApiKey(): { key: string; prefix: string; hash: string } {
  const key = `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
  return { key, prefix: key.slice(0, KEY_PREFIX.length + 6), hash: hashApiKey(key) };
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export function looksLikeApiKey(value: string): boolean {
  return value.startsWith(KEY_PREFIX) && value.length > KEY_PREFIX.length + 20 && value.length < 200;
}
