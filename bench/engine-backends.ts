/**
 * The two stores the engine benchmark runs on, each opened fresh and torn down afterwards:
 * SQLite in a temp file (WAL), PostgreSQL from EARSHOT_DATABASE_URL or a throwaway server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { createPostgresStore, type PostgresStore } from '../src/adapters/store/postgres/postgres-store.js';
import { createSqliteStore } from '../src/adapters/store/sqlite/sqlite-store.js';
import type { Store } from '../src/ports/store.js';
import { postgresTestDatabase, stopTestPostgres } from '../test/support/stores.js';

export type BackendName = 'sqlite' | 'postgres';

export interface BenchBackend {
  name: BackendName;
  store: Store;
  /** Resolves once the store hears events from other connections (PostgreSQL LISTEN). */
  listening(): Promise<void>;
  /** What the numbers were measured on: versions and the settings that change them. */
  server: Record<string, string>;
  close(): Promise<void>;
}

/** A new SQLite file in a temp dir, removed by close(). */
export async function openSqlite(): Promise<BenchBackend> {
  const dir = mkdtempSync(join(tmpdir(), 'earshot-bench-'));
  const store = createSqliteStore({ path: join(dir, 'earshot.db') });
  await store.migrate();
  return {
    name: 'sqlite',
    store,
    listening: async () => {},
    server: { version: sqliteVersion(), journal: 'WAL, synchronous=NORMAL', file: 'temp dir' },
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * EARSHOT_DATABASE_URL as is (it should be an empty scratch database: the benchmark migrates it and
 * leaves its rows there), else a fresh database on a throwaway server that close() stops.
 */
export async function openPostgres(log: (message: string) => void): Promise<BenchBackend> {
  const given = process.env.EARSHOT_DATABASE_URL;
  if (!given) log('postgres: starting a throwaway server (set EARSHOT_DATABASE_URL to use your own)');
  const db = given ? { url: given, drop: async () => {} } : await postgresTestDatabase('bench');
  // More connections than the default 10, so parallel submitters do not queue behind the workers.
  const store: PostgresStore = createPostgresStore({ url: db.url, maxConnections: 20 });
  await store.migrate();
  return {
    name: 'postgres',
    store,
    listening: () => store.listening(),
    server: { ...(await postgresSettings(db.url)), database: given ? 'EARSHOT_DATABASE_URL' : 'throwaway (test/support)' },
    async close() {
      await store.close();
      await db.drop();
      if (!given) await stopTestPostgres();
    },
  };
}

function sqliteVersion(): string {
  const db = new Database(':memory:');
  try {
    return String((db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v);
  } finally {
    db.close();
  }
}

/** The server version and the durability settings the figures were measured at. */
async function postgresSettings(url: string): Promise<Record<string, string>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const show = async (name: string) => String((await client.query<Record<string, string>>(`SHOW ${name}`)).rows[0]?.[name]);
    return { version: await show('server_version'), fsync: await show('fsync'), synchronous_commit: await show('synchronous_commit') };
  } finally {
    await client.end();
  }
}
