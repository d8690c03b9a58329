/**
 * What an ASR adapter does around each call: refuse calls once it is closed or when the caller has
 * already given up, give each call one signal that fires on either, say which of the two ended an
 * interrupted call, and let close() wait for the calls in flight (their temp files and sockets gone).
 */
import { abortError, retryable } from '../../core/errors.js';

export interface EngineCalls {
  /** Runs `fn` as a tracked call; its signal aborts when the caller's does or the engine closes. */
  run<T>(callerSignal: AbortSignal | undefined, fn: (signal: AbortSignal) => Promise<T>): Promise<T>;
  /** Aborts every call and resolves once all have settled. */
  close(): Promise<void>;
}

export function createEngineCalls(): EngineCalls {
  const closing = new AbortController();
  const calls = new Set<Promise<unknown>>();
  return {
    run(callerSignal, fn) {
      if (closing.signal.aborted) return Promise.reject(retryable('asr_failed', 'the ASR engine is closed'));
      if (callerSignal?.aborted) return Promise.reject(abortError('the ASR call was aborted'));
      // A signal per call: listeners must not pile up on the engine's own.
      const signal = AbortSignal.any(callerSignal ? [callerSignal, closing.signal] : [closing.signal]);
      const running = fn(signal).catch((err: unknown) => {
        if (callerSignal?.aborted) throw abortError('the ASR call was aborted');
        if (closing.signal.aborted) throw retryable('asr_failed', 'the ASR engine was closed during the call');
        throw err;
      });
      calls.add(running);
      void running.catch(() => {}).finally(() => calls.delete(running));
      return running;
    },
    async close() {
      closing.abort();
      await Promise.allSettled([...calls]);
    },
  };
}
