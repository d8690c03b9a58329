import { createMetrics } from '../api/http/index.js';
import { createApp, createHttpServer, createWorker } from '../app.js';
import { PIPELINE_SETTINGS, STORAGE_SETTINGS, type Command } from './command.js';
import { untilSignal } from './lifecycle.js';
import { VERSION } from './version.js';

export const serveCommand: Command = {
  name: 'serve',
  summary:
    'Starts the HTTP API and, unless --workers=false, workers in the same process. With no settings it runs embedded: SQLite and local disk under ./data, on 127.0.0.1:8080.',
  usage: 'earshot serve [settings]',
  settings: [
    'host',
    'port',
    ...STORAGE_SETTINGS,
    'auth',
    'workers',
    'pools',
    'concurrency',
    'leaseMs',
    'shutdownGraceMs',
    'maxUploadBytes',
    'rateLimitPerMinute',
    'authFailuresPerMinute',
    ...PIPELINE_SETTINGS,
    'logLevel',
  ],
  async run(ctx) {
    const config = ctx.config();
    const app = await createApp(config);
    const metrics = createMetrics({ store: app.store });
    const server = createHttpServer(app, metrics, VERSION);
    const worker = config.workers ? createWorker(app) : undefined;
    if (worker) {
      metrics.observeWorker(worker);
      await worker.start();
    }
    const address = await server.listen({ host: config.host, port: config.port });
    app.logger.info(
      {
        url: address,
        database: config.database.kind,
        storage: config.storage.kind,
        auth: config.authRequired ? 'api-keys' : 'off',
        workers: worker ? { pools: config.pools, concurrency: config.concurrency } : 'none',
      },
      'earshot is listening',
    );
    await untilSignal(app.logger);
    await server.close();
    await worker?.stop(config.shutdownGraceMs);
    await app.close();
    return 0;
  },
};
