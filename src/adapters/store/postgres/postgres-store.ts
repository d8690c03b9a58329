import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { newToken } from '../../../core/ids.js';
import type { Logger } from '../../../ports/logger.js';
import { silentLogger } from '../../../ports/logger.js';
import type { ClaimRequest, ClaimedTask, StoreEvent } from '../../../ports/store.js';
import { translateOutage, type Migration, type Row, type SqlDriver, type SqlQueryer } from '../sql/driver.js';
import { claimedTaskFromRow } from '../sql/rows.js';
import { migrations } from '../sql/schema.js';
import { SqlStore } from '../sql/sql-store.js';
import { isConnectionFailure } from './connection-errors.js';

export interface PostgresStoreOptions {
  /** postgres://user:pass@host:port/db */
  url: string;
  /** Connections in the pool. Default 10. */
  maxConnections?: number;
  /** How long a connection may take to open (or to free up in a full pool) before a call fails as unavailable. Default 5000 ms. */
  connectTimeoutMs?: number;
  /** The LISTEN connection's reconnect delay: it doubles from the first value up to the second. Default 250 and 5000 ms. */
  listenRetryMs?: readonly [number, number];
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
  /** The LISTEN connection was lost and is being replaced. */
  private relistening = false;
  private readonly closing = new AbortController();
  private readonly log: Logger;

  constructor(private readonly options: PostgresStoreOptions) {
    this.log = options.logger ?? silentLogger;
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.maxConnections ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      keepAlive: true,
      types,
    });
    // Without these an outage kills the process: a connection that breaks emits 'error', and pg-pool
    // listens only while the connection is idle. The failed call itself rejects (and is translated);
    // the pool drops the broken connection. Whoever retries logs the outage, once.
    this.pool.on('error', (err) => this.log.debug({ err }, 'idle postgres connection failed'));
    this.pool.on('connect', (client) => client.on('error', (err) => this.log.debug({ err }, 'postgres connection failed')));
    this.direct = queryer(this.pool);
    this.emitter.setMaxListeners(0);
  }

  all<R extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<R[]> {
    return translateOutage(isConnectionFailure, () => this.direct.all<R>(sql, params));
  }

  run(sql: string, params?: readonly unknown[]): Promise<number> {
    return translateOutage(isConnectionFailure, () => this.direct.run(sql, params));
  }

  transaction<T>(fn: (q: SqlQueryer) => Promise<T>): Promise<T> {
    return translateOutage(isConnectionFailure, async () => {
      for (let attempt = 1; ; attempt++) {
        const client = await this.pool.connect();
        let broken: Error | undefined;
        try {
          await client.query('BEGIN');
          const result = await fn(queryer(client));
          await client.query('COMMIT');
          return result;
        } catch (err) {
          if (isConnectionFailure(err)) broken = err instanceof Error ? err : new Error(String(err));
          else await client.query('ROLLBACK').catch(() => {});
          const code = (err as { code?: string }).code;
          if (attempt < 5 && code !== undefined && RETRYABLE_SQLSTATES.has(code)) continue;
          throw err;
        } finally {
          // A broken connection goes, not back into the pool.
          client.release(broken);
        }
      }
    });
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
    this.closing.abort();
    await this.listening;
    await this.listener?.end().catch(() => {});
    await this.pool.end();
  }

  /**
   * Connects the LISTEN connection, retrying with a capped backoff until it succeeds or the store
   * closes; never rejects. Once listening it announces `ready` for every pool: whatever was published
   * while nobody listened is found by that one poll.
   */
  private async listen(): Promise<void> {
    const [firstMs, maxMs] = this.options.listenRetryMs ?? [250, 5000];
    for (let attempt = 0; !this.closed; attempt++) {
      const client = new pg.Client({ connectionString: this.options.url, connectionTimeoutMillis: this.options.connectTimeoutMs ?? 5000, keepAlive: true, types });
      client.on('notification', (msg) => {
        if (msg.channel !== CHANNEL || !msg.payload) return;
        try {
          this.emitter.emit('event', JSON.parse(msg.payload) as StoreEvent);
        } catch (err) {
          this.log.warn({ err }, 'bad notification payload');
        }
      });
      client.on('error', (err) => this.lost(client, err));
      client.on('end', () => this.lost(client));
      try {
        await client.connect();
        await client.query(`LISTEN ${CHANNEL}`);
        if (this.closed) {
          await client.end().catch(() => {});
          return;
        }
        this.listener = client;
        if (attempt > 0 || this.relistening) this.log.info({ attempts: attempt + 1 }, 'postgres listener back');
        this.relistening = false;
        this.emitter.emit('event', { type: 'ready', pools: ['*'] } satisfies StoreEvent);
        return;
      } catch (err) {
        await client.end().catch(() => {});
        if (attempt === 0 && !this.relistening) this.log.warn({ err }, 'postgres listener cannot connect; retrying');
        await sleep(Math.min(maxMs, firstMs * 2 ** attempt), undefined, { signal: this.closing.signal }).catch(() => {});
      }
    }
  }

  /** The LISTEN connection broke: connect a new one (its notifications meanwhile are lost, hence the poll). */
  private lost(client: pg.Client, err?: Error): void {
    if (this.closed || this.listener !== client) return;
    this.listener = undefined;
    this.relistening = true;
    this.log.warn({ err }, 'postgres listener lost; reconnecting');
    void client.end().catch(() => {});
    this.listening = this.listen();
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
