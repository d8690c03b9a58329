/** Stores for tests: a fresh SQLite file, or a PostgreSQL database cloned from a migrated template. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPostgresStore, type PostgresStore } from '../../src/adapters/store/postgres/postgres-store.js';
import { createSqliteStore } from '../../src/adapters/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/ports/store.js';
import { createDatabase, dropDatabase, startPostgres, templateDatabase, uniqueDatabaseName, type PostgresServer } from './postgres.js';

/** Bump when migrations change, so a long-lived test server builds a new template. */
const TEMPLATE = 'earshot_template_v4';

export async function sqliteTestStore(): Promise<{ store: Store; path: string; cleanup(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'earshot-sqlite-'));
  const path = join(dir, 'earshot.db');
  const store = createSqliteStore({ path });
  await store.migrate();
  return {
    store,
    path,
    async cleanup() {
      await store.close().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let server: Promise<PostgresServer> | undefined;

/** A database of its own on the shared test server, already migrated. */
export async function postgresTestDatabase(prefix = 'test'): Promise<{ url: string; drop(): Promise<void> }> {
  server ??= startPostgres();
  const pg = await server;
  const template = await templateDatabase(pg.url, TEMPLATE, async (url) => {
    const store = createPostgresStore({ url, maxConnections: 1 });
    await store.migrate();
    await store.close();
  });
  const name = uniqueDatabaseName(prefix);
  const url = await createDatabase(pg.url, name, { template });
  return { url, drop: () => dropDatabase(pg.url, name) };
}

export async function postgresTestStore(prefix = 'test'): Promise<{ store: PostgresStore; url: string; cleanup(): Promise<void> }> {
  const db = await postgresTestDatabase(prefix);
  const store = createPostgresStore({ url: db.url });
  return {
    store,
    url: db.url,
    async cleanup() {
      await store.close().catch(() => {});
      await db.drop();
    },
  };
}

/** Stops this process's own PostgreSQL, if it started one (not the shared one of `npm test`). */
export async function stopTestPostgres(): Promise<void> {
  if (server) await (await server).stop();
  server = undefined;
}
