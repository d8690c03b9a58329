import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createPostgresStore } from '../../src/adapters/store/postgres/postgres-store.js';
import { createDatabase, dropDatabase, startPostgres, uniqueDatabaseName, type PostgresServer } from '../support/postgres.js';

describe('migrations', () => {
  let server: PostgresServer | undefined;
  const dbs: string[] = [];
  after(async () => {
    for (const name of dbs) await dropDatabase(server!.url, name);
    await server?.stop();
  });

  it('apply once when several processes start together on an empty PostgreSQL database', async () => {
    server = await startPostgres();
    const name = uniqueDatabaseName('migrate');
    dbs.push(name);
    const url = await createDatabase(server.url, name);
    const stores = Array.from({ length: 4 }, () => createPostgresStore({ url, maxConnections: 2 }));
    try {
      const applied = await Promise.all(stores.map((s) => s.migrate()));
      assert.deepEqual(applied.flat().sort(), [1, 2, 3, 4]);
      assert.deepEqual(await stores[0]!.migrate(), []);
      assert.deepEqual(await stores[0]!.queueCounts(), []);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });
});
