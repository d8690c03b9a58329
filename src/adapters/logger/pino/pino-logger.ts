import { pino } from 'pino';
import type { Logger } from '../../../ports/logger.js';

/** Paths of user data that never reach the log output in clear. */
export const redactPaths = ['transcript', 'text', 'filename', 'email', 'notify_email', '*.transcript', '*.filename', '*.email', 'req.headers.authorization', 'req.headers["x-api-key"]'];

/** JSON lines on stdout (or the given destination), with user-data fields redacted. */
export function createPinoLogger(options: { level: string; destination?: NodeJS.WritableStream; name?: string }): Logger {
  return pino(
    {
      name: options.name ?? 'earshot',
      level: options.level,
      redact: { paths: redactPaths, censor: '[redacted]' },
      base: { pid: process.pid },
    },
    options.destination ?? process.stdout,
  ) as unknown as Logger;
}
