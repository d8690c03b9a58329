/**
 * A counting semaphore for engines that run a bounded number of decoders (processes, threads): more
 * calls wait their turn, in order, and a waiting call can be aborted.
 */
import { abortError } from '../../core/errors.js';

export interface ConcurrencyLimit {
  /** Resolves with a release function once a slot is free; rejects with AbortError if `signal` aborts first. */
  acquire(signal?: AbortSignal): Promise<() => void>;
  /** Calls holding a slot. */
  readonly active: number;
  /** Calls waiting for one. */
  readonly waiting: number;
}

export function createConcurrencyLimit(max: number): ConcurrencyLimit {
  if (!Number.isInteger(max) || max < 1) throw new RangeError('max must be a positive integer');
  let active = 0;
  const queue: Array<() => void> = [];
  const slot = () => {
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const next = queue.shift();
      if (next) next(); // the slot passes on; active stays the same
      else active--;
    };
  };
  return {
    get active() {
      return active;
    },
    get waiting() {
      return queue.length;
    },
    acquire(signal) {
      if (signal?.aborted) return Promise.reject(abortError());
      if (active < max) {
        active++;
        return Promise.resolve(slot());
      }
      return new Promise((resolve, reject) => {
        const grant = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(slot());
        };
        const onAbort = () => {
          queue.splice(queue.indexOf(grant), 1);
          reject(abortError());
        };
        queue.push(grant);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
  };
}
