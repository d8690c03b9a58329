import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { StoreEvent } from '../../../ports/store.js';
import { translateOutage, type Migration, type Row, type SqlDriver, type SqlQueryer } from '../sql/driver.js';
import { migrations } from '../sql/schema.js';
import { SqlStore } from '../sql/sql-store.js';

export interface SqliteStoreOptions {
  /** Database file, or ':memory:'. */
  path: string;
  /** How often to look for commits by other processes sharing the file. Default 50 ms. */
  pollMs?: number;
  /** How long to wait for another process's write lock. Default 5000 ms. */
  busyTimeoutMs?: number;
}

type Statement = Database.Statement<unknown[], Row>;

/** Another process held the write lock past the busy timeout: the database is unavailable for now, as a PostgreSQL outage is. */
const isBusy = (err: unknown) => /^SQLITE_BUSY/.test(String((err as { code?: unknown } | null)?.code ?? ''));

const sqliteValue = (v: unknown): unknown => (v === undefined ? null : typeof v === 'boolean' ? (v ? 1 : 0) : v);

/**
 * better-sqlite3 is synchronous; transactions here are async functions, so a promise queue lets only
 * one transaction (or statement) use the connection at a time. Other processes sharing the file are
 * kept out by BEGIN IMMEDIATE and the busy timeout, and are noticed through PRAGMA data_version.
 */
class SqliteDriver implements SqlDriver {
  readonly dialect = 'sqlite' as const;
  readonly crossProcessEvents = false;
  readonly claimLock = '';
  readonly rowLock = '';
  readonly migrations: readonly Migration[] = migrations({ bigint: 'INTEGER', serialKey: 'INTEGER PRIMARY KEY' });

  private readonly db: Database.Database;
  private readonly statements = new Map<string, Statement>();
  private readonly emitter = new EventEmitter();
  private queue: Promise<unknown> = Promise.resolve();
  private pending: StoreEvent[] | null = null;
  private poller: NodeJS.Timeout | undefined;
  private dataVersion = 0;
  private readonly direct: SqlQueryer = {
    all: async <R extends Row>(sql: string, params: readonly unknown[] = []) => this.execute(sql, params).rows as R[],
    run: async (sql: string, params: readonly unknown[] = []) => this.execute(sql, params).changes,
  };

  constructor(private readonly options: SqliteStoreOptions) {
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    this.db = new Database(options.path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
    this.emitter.setMaxListeners(0);
  }

  all<R extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<R[]> {
    return this.exclusive(() => this.direct.all<R>(sql, params));
  }

  run(sql: string, params?: readonly unknown[]): Promise<number> {
    return this.exclusive(() => this.direct.run(sql, params));
  }

  transaction<T>(fn: (q: SqlQueryer) => Promise<T>): Promise<T> {
    return this.exclusive(async () => {
      this.prepare('BEGIN IMMEDIATE').run();
      this.pending = [];
      try {
        const result = await fn(this.direct);
        this.prepare('COMMIT').run();
        const events = this.pending;
        this.pending = null;
        this.dataVersion = this.readDataVersion();
        for (const e of events) this.emitter.emit('event', e);
        return result;
      } catch (err) {
        this.pending = null;
        if (this.db.inTransaction) this.prepare('ROLLBACK').run();
        throw err;
      }
    });
  }

  async publish(_q: SqlQueryer, events: readonly StoreEvent[]): Promise<void> {
    if (this.pending) this.pending.push(...events);
    else for (const e of events) this.emitter.emit('event', e);
  }

  subscribe(listener: (event: StoreEvent) => void): () => void {
    this.emitter.on('event', listener);
    this.startPolling();
    return () => {
      this.emitter.off('event', listener);
      if (this.emitter.listenerCount('event') === 0) this.stopPolling();
    };
  }

  async close(): Promise<void> {
    this.stopPolling();
    await this.queue.catch(() => {});
    this.db.close();
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const guarded = () => translateOutage(isBusy, fn);
    const run = this.queue.then(guarded, guarded);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private prepare(sql: string): Statement {
    let stmt = this.statements.get(sql);
    if (!stmt) {
      stmt = this.db.prepare<unknown[], Row>(sql);
      this.statements.set(sql, stmt);
    }
    return stmt;
  }

  private execute(sql: string, params: readonly unknown[]): { rows: Row[]; changes: number } {
    const stmt = this.prepare(sql);
    const values = params.map(sqliteValue);
    if (stmt.reader) {
      const rows = stmt.all(...values);
      return { rows, changes: rows.length };
    }
    return { rows: [], changes: stmt.run(...values).changes };
  }

  private readDataVersion(): number {
    // A cached statement: it runs after every commit, and db.pragma() prepares a new one each time.
    return Number(this.prepare('PRAGMA data_version').pluck().get());
  }

  /** Commits by other processes change data_version; they may have made tasks ready. */
  private startPolling(): void {
    if (this.poller || this.options.path === ':memory:') return;
    this.dataVersion = this.readDataVersion();
    this.poller = setInterval(() => {
      if (this.pending) return;
      let v: number;
      try {
        v = this.readDataVersion();
      } catch {
        return; // busy or closing: the next tick looks again
      }
      if (v !== this.dataVersion) {
        this.dataVersion = v;
        this.emitter.emit('event', { type: 'ready', pools: ['*'] } satisfies StoreEvent);
      }
    }, this.options.pollMs ?? 50);
    this.poller.unref();
  }

  private stopPolling(): void {
    clearInterval(this.poller);
    this.poller = undefined;
  }
}

/** The embedded store: one SQLite file in WAL mode, shareable by processes on the same machine. */
export function createSqliteStore(options: SqliteStoreOptions): SqlStore {
  return new SqlStore(new SqliteDriver(options));
}
