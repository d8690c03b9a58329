import { EventEmitter } from 'node:events';
import pg from 'pg';
import { newToken } from '../../../core/ids.js';
import type { Logger } from '../../../ports/logger.js';
import { silentLogger } from '../../../ports/logger.js';
import type { ClaimRequest, ClaimedTask, StoreEvent } from '../../../ports/store.js';
import type { Migration, Row, SqlDriver, SqlQueryer } from '../sql/driver.js';
import { claimedTaskFromRow } from '../sql/rows.js';
import { migrations } from '../sql/schema.js';
import { SqlStore } from '../sql/sql-store.js';

export interface PostgresStoreOptions {
  /** postgres://user:pass@host:port/db */
  url: string;
  /** Connections in the pool. Default 10. */
  maxConnections?: number;
  logger?: Logger;
}

const CHANNEL = 'earshot_events';
const INT8_OID = 20;
/** Deadlocks and serialization failures: the transaction is safe to run again. */
const RETRYABLE_SQLSTATES = new Set(['40P01', '40001']);

// ms timestamps and counts fit a double; parse BIGINT as a number for this pool only.
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID ? (v: string) => Number.parseInt(v, 10) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

const converted = new Map<string, string>();
/** `?` to `$1, $2, ...`; the SQL in this project never has a literal `?`. */
function toPg(sql: string): string {
  let out = converted.get(sql);
  if (out === undefined) {
    let i = 0;
    out = sql.replace(/\?/g, () => `$${++i}`);
    converted.set(sql, out);
  }
  return out;
}

function queryer(client: pg.Pool | pg.PoolClient): SqlQueryer {
  return {
    all: async <R extends Row>(sql: string, params: readonly unknown[] = []) => (await client.query(toPg(sql), params as unknown[])).rows as R[],
    run: async (sql: string, params: readonly unknown[] = []) => (await client.query(toPg(sql), params as unknown[])).rowCount ?? 0,
  };
}

class PostgresDriver implements SqlDriver {
  readonly dialect = 'postgres' as const;
  readonly crossProcessEvents = true;
  readonly claimLock = ' FOR UPDATE SKIP LOCKED';
  readonly rowLock = ' FOR UPDATE';
  readonly migrationLock = 'SELECT pg_advisory_xact_lock(4242001)';
  readonly migrations: readonly Migration[] = migrations({ bigint: 'BIGINT', serialKey: 'BIGSERIAL PRIMARY KEY' });

  private readonly pool: pg.Pool;
  private readonly direct: SqlQueryer;
  private readonly emitter = new EventEmitter();
  private listener: pg.Client | undefined;
  private listening: Promise<void> | undefined;
  private closed = false;
  private readonly log: Logger;

  constructor(private readonly options: PostgresStoreOptions) {
    this.pool = new pg.Pool({ connectionString: options.url, max: options.maxConnections ?? 10, types });
    this.pool.on('error', (err) => this.log.warn({ err }, 'idle postgres connection failed'));
    this.direct = queryer(this.pool);
    this.log = options.logger ?? silentLogger;
    this.emitter.setMaxListeners(0);
  }

  all<R extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<R[]> {
    return this.direct.all<R>(sql, params);
  }

  run(sql: string, params?: readonly unknown[]): Promise<number> {
    return this.direct.run(sql, params);
  }

  async transaction<T>(fn: (q: SqlQueryer) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn(queryer(client));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        const code = (err as { code?: string }).code;
        if (attempt < 5 && code !== undefined && RETRYABLE_SQLSTATES.has(code)) continue;
        throw err;
      } finally {
        client.release();
      }
    }
  }

  async publish(q: SqlQueryer, events: readonly StoreEvent[]): Promise<void> {
    // NOTIFY inside the transaction is delivered on commit, to every listening process, this one included.
    // One statement for all of them: a batch of completions can announce a hundred jobs.
    if (events.length === 0) return;
    await q.all('SELECT pg_notify(?, payload) FROM unnest(CAST(? AS TEXT[])) AS payload', [CHANNEL, events.map((e) => JSON.stringify(e))]);
  }

  subscribe(listener: (event: StoreEvent) => void): () => void {
    this.emitter.on('event', listener);
    this.listening ??= this.listen();
    return () => {
      this.emitter.off('event', listener);
    };
  }

  /** Resolves once LISTEN is in place (tests and benchmarks wait for it). */
  ready(): Promise<void> {
    return this.listening ?? Promise.resolve();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.listening?.catch(() => {});
    await this.listener?.end().catch(() => {});
    await this.pool.end();
  }

  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.options.url, types });
    this.listener = client;
    client.on('notification', (msg) => {
      if (msg.channel !== CHANNEL || !msg.payload) return;
      try {
        this.emitter.emit('event', JSON.parse(msg.payload) as StoreEvent);
      } catch (err) {
        this.log.warn({ err }, 'bad notification payload');
      }
    });
    client.on('error', (err) => {
      if (this.closed) return;
      this.log.warn({ err }, 'postgres listener failed; reconnecting');
      this.listener = undefined;
      setTimeout(() => {
        if (!this.closed) this.listening = this.listen().catch((e: unknown) => this.log.error({ err: e }, 'listener reconnect failed'));
      }, 1000).unref();
    });
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
    // Anything that became ready while we were not listening is found by the workers' next poll.
    this.emitter.emit('event', { type: 'ready', pools: ['*'] } satisfies StoreEvent);
  }
}

/**
 * The shared claim (sql-store.ts) in one statement: no BEGIN and COMMIT, and no round trips between
 * its steps, which were most of an idle worker's wake-up latency. MATERIALIZED: the pick runs once,
 * so LIMIT and SKIP LOCKED hold. The final SELECT reads the jobs as they were before `started`, which
 * is fine: tenant, kind and input never change. Written for PostgreSQL, so with $n placeholders.
 */
const CLAIM_SQL = `
WITH picked AS MATERIALIZED (
  SELECT id FROM tasks WHERE state IN ('ready', 'retry_wait') AND pool = ANY($1::text[]) AND run_at <= $2
  ORDER BY priority DESC, seq LIMIT $3 FOR UPDATE SKIP LOCKED
), claimed AS (
  UPDATE tasks SET state = 'running', attempts = attempts + 1, lease_owner = $4, lease_token = $5, lease_expires_at = $6,
    started_at = COALESCE(started_at, $2), updated_at = $2
  FROM picked WHERE tasks.id = picked.id
  RETURNING tasks.id, tasks.job_id, tasks.key, tasks.type, tasks.pool, tasks.priority, tasks.input, tasks.attempts, tasks.max_attempts, tasks.seq
), started AS (
  UPDATE jobs SET status = 'running', started_at = COALESCE(started_at, $2), updated_at = $2
  WHERE status = 'queued' AND id IN (SELECT job_id FROM claimed)
)
SELECT c.*, j.tenant_id, j.kind AS job_kind, j.input AS job_input FROM claimed c JOIN jobs j ON j.id = c.job_id
ORDER BY c.priority DESC, c.seq`;

export class PostgresStore extends SqlStore {
  constructor(private readonly driver: PostgresDriver) {
    super(driver);
  }

  override async claim(req: ClaimRequest): Promise<ClaimedTask[]> {
    if (req.pools.length === 0 || req.limit <= 0) return [];
    const token = newToken();
    const leaseExpiresAt = req.now + req.leaseMs;
    const rows = await this.driver.all(CLAIM_SQL, [req.pools, req.now, req.limit, req.workerId, token, leaseExpiresAt]);
    return rows.map((r) => claimedTaskFromRow(r, token, leaseExpiresAt));
  }
  /** Resolves once this process listens for events. */
  listening(): Promise<void> {
    return this.driver.ready();
  }
}

/** The distributed store: PostgreSQL, claims with SKIP LOCKED, wake-ups with LISTEN/NOTIFY. */
export function createPostgresStore(options: PostgresStoreOptions): PostgresStore {
  return new PostgresStore(new PostgresDriver(options));
}
