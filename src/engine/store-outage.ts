/**
 * A worker's view of whether its store answers. Store calls report here; an `unavailable` failure
 * (the store's name for an outage) starts a capped backoff, and one log line marks each change of
 * state ("database unavailable" once, "database back" once), however long the outage and however many
 * calls fail meanwhile.
 */
import type { Clock } from '../core/clock.js';
import { EarshotError } from '../core/errors.js';
import type { Logger } from '../ports/logger.js';

export interface OutageOptions {
  clock: Clock;
  log: Logger;
  /** First wait after a failure; it doubles per failure. */
  initialMs: number;
  /** Longest wait between tries. */
  maxMs: number;
  /** Jitter source in [0, 1): up to a quarter of each wait is random, so workers do not retry in step. */
  random: () => number;
}

export function isOutage(err: unknown): boolean {
  return err instanceof EarshotError && err.code === 'unavailable';
}

export class StoreOutage {
  private downSince: number | undefined;
  private failures = 0;
  private retryAt = 0;
  private wakers = new Set<() => void>();

  constructor(private readonly options: OutageOptions) {}

  get down(): boolean {
    return this.downSince !== undefined;
  }

  /** Whether a store call is due: always while the store is up, after the backoff while it is down. */
  due(): boolean {
    return !this.down || this.options.clock.now() >= this.retryAt;
  }

  /** A store call succeeded. */
  ok(): void {
    if (this.downSince === undefined) return;
    this.options.log.info({ down_ms: this.options.clock.now() - this.downSince, failed_calls: this.failures }, 'database back');
    this.downSince = undefined;
    this.failures = 0;
    this.retryAt = 0;
    this.wake();
  }

  /**
   * A store call failed. Returns true for an outage (noted here, logged only if it is new); false for
   * any other error, which the caller reports itself.
   */
  failed(err: unknown): boolean {
    if (!isOutage(err)) return false;
    const now = this.options.clock.now();
    if (this.downSince === undefined) {
      this.downSince = now;
      this.options.log.warn({ err }, 'database unavailable; retrying until it is back');
    }
    const { initialMs, maxMs, random } = this.options;
    const waitMs = Math.min(maxMs, initialMs * 2 ** Math.min(this.failures, 30));
    this.failures++;
    this.retryAt = now + waitMs - Math.floor(waitMs * 0.25 * random());
    return true;
  }

  /** Something showed the store may be back (its listener reconnected): the next call is due now. */
  retryNow(): void {
    this.retryAt = 0;
    this.wake();
  }

  /** Resolves when the next call is due (at once while the store is up). */
  async untilDue(): Promise<void> {
    if (this.due()) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, this.retryAt - this.options.clock.now()));
      this.wakers.add(done);
    });
  }

  private wake(): void {
    for (const w of [...this.wakers]) w();
  }
}
