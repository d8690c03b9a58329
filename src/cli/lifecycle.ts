import type { Logger } from '../ports/logger.js';

/**
 * Resolves on the first SIGTERM or SIGINT. A second signal exits at once, for an operator who does
 * not want to wait for the graceful shutdown.
 */
export function untilSignal(log: Logger): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let received = false;
    const on = (signal: NodeJS.Signals) => {
      if (received) {
        log.warn({ signal }, 'second signal: exiting now');
        process.exit(130);
      }
      received = true;
      log.info({ signal }, 'shutting down');
      resolve(signal);
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
  });
}
