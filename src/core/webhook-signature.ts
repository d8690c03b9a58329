/**
 * Webhook signatures, the way Stripe and Mux sign theirs: the header value is
 * `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`. The timestamp is inside the MAC,
 * so a captured request cannot be replayed after the tolerance; several `v1` entries let a receiver
 * accept the old and the new secret while one is rotated. Pure: no I/O, only node:crypto.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface VerifyWebhookOptions {
  /** The receiver's clock, in unix seconds. */
  nowSeconds: number;
  /** How far `t` may be from `nowSeconds`, either way. Default 300. */
  toleranceSeconds?: number;
}

const HEX_SHA256 = /^[0-9a-f]{64}$/;

function mac(secret: string, timestampSeconds: number, rawBody: string): Buffer {
  return createHmac('sha256', secret).update(`${timestampSeconds}.${rawBody}`).digest();
}

/**
 * The signature header's value for `rawBody`, the exact bytes that are sent. Several secrets give one
 * `v1` each, in order (during a rotation: the new secret, then the old one).
 */
export function signWebhook(secret: string | readonly string[], timestampSeconds: number, rawBody: string): string {
  const secrets = typeof secret === 'string' ? [secret] : secret;
  if (secrets.length === 0 || secrets.some((s) => s === '')) throw new RangeError('the webhook secret is empty');
  if (!Number.isSafeInteger(timestampSeconds) || timestampSeconds < 0) throw new RangeError('the webhook timestamp must be whole unix seconds');
  return [`t=${timestampSeconds}`, ...secrets.map((s) => `v1=${mac(s, timestampSeconds, rawBody).toString('hex')}`)].join(',');
}

/**
 * True when one of the header's `v1` signatures is the MAC of `rawBody` under one of the secrets and
 * its `t` is within the tolerance. Malformed headers are false, never an exception.
 */
export function verifyWebhookSignature(
  header: string | undefined,
  secret: string | readonly string[],
  rawBody: string,
  options: VerifyWebhookOptions,
): boolean {
  if (header === undefined) return false;
  let timestamp: number | undefined;
  const signatures: Buffer[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') {
      // Two timestamps make the header ambiguous: which one did the MAC cover?
      if (timestamp !== undefined || !/^\d{1,12}$/.test(value)) return false;
      timestamp = Number(value);
    } else if (key === 'v1' && HEX_SHA256.test(value.toLowerCase())) {
      signatures.push(Buffer.from(value, 'hex'));
    }
    // Other schemes (v0, future versions) are ignored, as Stripe's receivers do.
  }
  if (timestamp === undefined || signatures.length === 0) return false;
  const tolerance = options.toleranceSeconds ?? 300;
  if (Math.abs(options.nowSeconds - timestamp) > tolerance) return false;

  const secrets = typeof secret === 'string' ? [secret] : secret;
  let ok = false;
  for (const s of secrets) {
    // An empty secret would make anyone's MAC a valid one.
    if (s === '') continue;
    const expected = mac(s, timestamp, rawBody);
    // No early exit: every comparison runs, each in constant time.
    for (const candidate of signatures) ok = timingSafeEqual(expected, candidate) || ok;
  }
  return ok;
}
