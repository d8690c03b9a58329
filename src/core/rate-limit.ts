import type { Clock } from './clock.js';

/**
 * Token buckets by key (a tenant): each holds up to `perMinute` tokens and refills at
 * `perMinute` a minute, so a client may burst to its minute's worth and then keeps the pace.
 * Per process: with N API processes a tenant gets up to N times the rate, which is fine for
 * protecting the service (this is not billing).
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly perMs: number;

  constructor(
    private readonly perMinute: number,
    private readonly clock: Clock,
  ) {
    this.perMs = perMinute / 60_000;
  }

  /** Takes a token for `key`: 0 when allowed, else the ms until one is available. */
  take(key: string): number {
    const now = this.clock.now();
    const b = this.buckets.get(key) ?? { tokens: this.perMinute, at: now };
    b.tokens = Math.min(this.perMinute, b.tokens + (now - b.at) * this.perMs);
    b.at = now;
    this.buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      if (this.buckets.size > 10_000) this.prune();
      return 0;
    }
    return Math.ceil((1 - b.tokens) / this.perMs);
  }

  /** Full buckets carry no information: drop them. */
  private prune(): void {
    const now = this.clock.now();
    for (const [k, b] of this.buckets) if (b.tokens + (now - b.at) * this.perMs >= this.perMinute) this.buckets.delete(k);
  }
}
