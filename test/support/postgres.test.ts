import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import {
  DATABASE_URL_ENV,
  createDatabase,
  dropDatabase,
  startPostgres,
  templateDatabase,
  uniqueDatabaseName,
} from './postgres.js';

async function query<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

test('clones a per-file database from a template built once', async () => {
  const server = await startPostgres();
  try {
    let setups = 0;
    const setup = async (url: string) => {
      setups++;
      await query(url, 'CREATE TABLE IF NOT EXISTS widgets (id int PRIMARY KEY, name text NOT NULL)');
      await query(url, `INSERT INTO widgets VALUES (1, 'sprocket') ON CONFLICT DO NOTHING`);
    };
    // Concurrent callers in one process share a single build.
    const [template, again] = await Promise.all([
      templateDatabase(server.url, 'earshot_selftest_template', setup),
      templateDatabase(server.url, 'earshot_selftest_template', setup),
    ]);
    assert.equal(template, again);
    assert.ok(setups <= 1, 'setup ran more than once'); // 0 if another process built it first

    const name = uniqueDatabaseName('selftest');
    const url = await createDatabase(server.url, name, { template });
    assert.deepEqual(await query(url, 'SELECT id, name FROM widgets'), [{ id: 1, name: 'sprocket' }]);

    await dropDatabase(server.url, name);
    const left = await query(server.url, 'SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    assert.equal(left.length, 0);
  } finally {
    await server.stop();
  }
});

test('a private server is gone after stop()', { skip: !!process.env[DATABASE_URL_ENV] }, async () => {
  const server = await startPostgres();
  await server.stop();
  await assert.rejects(query(server.url, 'SELECT 1'));
});
