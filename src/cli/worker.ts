import { createApp, createWorker } from '../app.js';
import { PIPELINE_SETTINGS, STORAGE_SETTINGS, type Command } from './command.js';
import { untilSignal } from './lifecycle.js';

export const workerCommand: Command = {
  name: 'worker',
  summary:
    'Runs workers only (no HTTP API). Start as many as you like, on this machine (sharing the SQLite file) or on others (PostgreSQL + S3); each takes tasks from its pools. On SIGTERM it stops claiming, lets running tasks finish up to --shutdown-grace-ms, then releases their leases.',
  usage: 'earshot worker [--pools cpu,gpu] [--concurrency N] [settings]',
  settings: [
    'pools',
    'concurrency',
    'leaseMs',
    'shutdownGraceMs',
    ...STORAGE_SETTINGS,
    ...PIPELINE_SETTINGS,
    'logLevel',
  ],
  async run(ctx) {
    const app = await createApp(ctx.config());
    const worker = createWorker(app);
    await worker.start();
    await untilSignal(app.logger);
    await worker.stop(app.config.shutdownGraceMs);
    await app.close();
    return 0;
  },
};
