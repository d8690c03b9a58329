import { after } from 'node:test';
import { postgresTestStore, stopTestPostgres } from '../support/stores.js';
import { engineContract } from './engine.case.js';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups) await c();
  await stopTestPostgres();
});

engineContract({
  name: 'postgres',
  async create() {
    const { store, cleanup } = await postgresTestStore('engine');
    await store.listening();
    cleanups.push(cleanup);
    return store;
  },
});
