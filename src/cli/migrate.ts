import { createPinoLogger } from '../adapters/logger/pino/pino-logger.js';
import { createStore } from '../app.js';
import { DB_SETTINGS, type Command } from './command.js';

export const migrateCommand: Command = {
  name: 'migrate',
  summary: 'Applies pending database migrations and exits. serve and worker also migrate on start; run this first when several processes start at once.',
  usage: 'earshot migrate [--database-url URL]',
  settings: DB_SETTINGS,
  async run(ctx) {
    const config = ctx.config();
    const store = createStore(config, createPinoLogger({ level: config.logLevel }));
    try {
      const applied = await store.migrate();
      ctx.out.write(applied.length > 0 ? `applied migrations: ${applied.join(', ')}\n` : 'the database is up to date\n');
    } finally {
      await store.close();
    }
  },
};
