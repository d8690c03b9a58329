/**
 * The small pieces a SQL backend supplies so that one implementation of the Store (sql-store.ts)
 * runs on SQLite and on PostgreSQL. SQL is written once with `?` placeholders; a driver rewrites
 * them if its database wants another form.
 */
import { EarshotError } from '../../../core/errors.js';
import type { StoreEvent } from '../../../ports/store.js';

export type Row = Record<string, unknown>;

export interface SqlQueryer {
  all<R extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /** Runs a statement; returns the number of rows it changed. */
  run(sql: string, params?: readonly unknown[]): Promise<number>;
}

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export interface SqlDriver extends SqlQueryer {
  readonly dialect: 'sqlite' | 'postgres';
  readonly crossProcessEvents: boolean;
  /** Appended to a SELECT that picks rows to claim (PostgreSQL: FOR UPDATE SKIP LOCKED). */
  readonly claimLock: string;
  /** Appended to a SELECT that reads a row it will update in the same transaction. */
  readonly rowLock: string;
  /** A statement that serialises migrations across processes, where the transaction alone does not. */
  readonly migrationLock?: string;
  readonly migrations: readonly Migration[];
  /** Runs `fn` in one transaction that takes the write lock up front (no upgrade deadlocks). */
  transaction<T>(fn: (q: SqlQueryer) => Promise<T>): Promise<T>;
  /** Publishes events once the transaction `q` commits (or at once outside a transaction). */
  publish(q: SqlQueryer, events: readonly StoreEvent[]): Promise<void>;
  subscribe(listener: (event: StoreEvent) => void): () => void;
  close(): Promise<void>;
}

/** What a client is told to wait (Retry-After) while the database is unavailable. */
export const STORE_RETRY_AFTER_MS = 2000;

/**
 * The error every store call rejects with while its database is down, restarting or locked past the
 * busy timeout: retryable (workers try again), and a 503 with Retry-After at the API. The cause stays
 * for the logs; the message names nothing of the deployment.
 */
export function storeUnavailable(cause: unknown): EarshotError {
  return new EarshotError('unavailable', 'the database is not available; try again shortly', { retryable: true, retryAfterMs: STORE_RETRY_AFTER_MS, cause });
}

/** Runs `fn`; an outage (as `isOutage` judges the error) rejects with storeUnavailable, anything else as it was. */
export async function translateOutage<T>(isOutage: (err: unknown) => boolean, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw !(err instanceof EarshotError) && isOutage(err) ? storeUnavailable(err) : err;
  }
}

/** `(?, ?, ?)` for an IN list of n values. */
export function placeholders(n: number): string {
  return `(${new Array(n).fill('?').join(', ')})`;
}

/** `(?, ?), (?, ?)` for a VALUES list of `rows` rows of `columns` values; its columns are column1, column2, ... */
export function valueRows(rows: number, columns: number): string {
  return new Array(rows).fill(placeholders(columns)).join(', ');
}

/** Splits a list so IN lists and multi-row inserts stay under the databases' parameter limits. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
