import { after } from 'node:test';
import { sqliteTestStore } from '../support/stores.js';
import { engineContract } from './engine.case.js';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups) await c();
});

engineContract({
  name: 'sqlite',
  async create() {
    const { store, cleanup } = await sqliteTestStore();
    cleanups.push(cleanup);
    return store;
  },
});
