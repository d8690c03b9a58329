/** How a task type retries. Defaults follow the design: 3 attempts, exponential backoff with jitter. */
export interface RetryPolicy {
  /** Attempts in all, the first included. Default 3. */
  maxAttempts: number;
  /** Delay before the second attempt. Default 1000 ms. */
  initialDelayMs: number;
  /** Growth per attempt. Default 2. */
  factor: number;
  /** Upper bound of one delay. Default 300000 ms. */
  maxDelayMs: number;
  /** Fraction of the delay drawn at random, 0..1 ("equal jitter" at 0.5). Default 0.5. */
  jitter: number;
}

export const defaultRetryPolicy: RetryPolicy = {
  maxAttempts: 3,
  initialDelayMs: 1000,
  factor: 2,
  maxDelayMs: 300_000,
  jitter: 0.5,
};

export function retryPolicy(overrides: Partial<RetryPolicy> = {}): RetryPolicy {
  const p = { ...defaultRetryPolicy, ...overrides };
  if (!Number.isInteger(p.maxAttempts) || p.maxAttempts < 1) throw new RangeError('maxAttempts must be an integer >= 1');
  if (p.jitter < 0 || p.jitter > 1) throw new RangeError('jitter must be between 0 and 1');
  return p;
}

/** The capped exponential delay after failed attempt `attempt` (1-based), before jitter. */
export function baseDelayMs(policy: RetryPolicy, attempt: number): number {
  return Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.factor ** Math.max(0, attempt - 1));
}

/**
 * The delay after failed attempt `attempt`: the base delay less a random share of up to `jitter`
 * of it, so retries of many tasks that failed together spread out. `random` is in [0, 1).
 */
export function backoffDelayMs(policy: RetryPolicy, attempt: number, random: number = Math.random()): number {
  const base = baseDelayMs(policy, attempt);
  return Math.round(base - base * policy.jitter * random);
}
