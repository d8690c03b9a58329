import { after } from 'node:test';
import { postgresTestStore, stopTestPostgres } from '../support/stores.js';
import { jobFlowCases } from './http-api.case.js';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups) await c();
  await stopTestPostgres();
});

jobFlowCases({
  name: 'postgres',
  async create() {
    const { store, cleanup } = await postgresTestStore('http');
    await store.listening();
    cleanups.push(cleanup);
    return store;
  },
});
