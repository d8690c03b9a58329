/**
 * The Store written once in SQL that SQLite and PostgreSQL both speak. Each public method is one
 * transaction. The queue is the tasks table itself: a task is claimable when its state is ready (or
 * retry_wait and its run_at has come), and completing a task releases its dependents in the same
 * transaction.
 */
import { EarshotError, type ErrorInfo } from '../../../core/errors.js';
import { newToken } from '../../../core/ids.js';
import { planRetry } from '../../../core/retry-plan.js';
import {
  deriveJobStatus,
  summariseStep,
  terminalJobStatuses,
  validateDag,
  type JobRecord,
  type JobStatus,
  type StepProgress,
  type TaskErrorEntry,
  type TaskState,
  type TaskStateCount,
} from '../../../core/job.js';
import type {
  ApiKeyRecord,
  ClaimRequest,
  ClaimedTask,
  Completion,
  DeadTask,
  DeliveryAttempt,
  DeliveryRecord,
  DeliveryState,
  Failure,
  Heartbeat,
  JobDetail,
  JobSummary,
  Lease,
  LeaseOutcome,
  ListJobsQuery,
  NewJob,
  NewTask,
  QueueCount,
  Store,
  StoreCapabilities,
  StoreEvent,
  SubmittedJob,
  Tenant,
  TenantWebhook,
  UploadRecord,
  WorkerInfo,
} from '../../../ports/store.js';
import { chunks, placeholders, valueRows, type Row, type SqlDriver, type SqlQueryer } from './driver.js';
import { NotificationSql } from './notification-sql.js';
import { uploadFromRow, apiKeyFromRow, claimedTaskFromRow, fromJson, jobFromRow, strOrNull, taskFromRow, toJson, workerFromRow } from './rows.js';

const PENDING = "('waiting', 'ready', 'retry_wait')";
const TASK_COLUMNS =
  '(id, job_id, key, type, pool, priority, state, deps_remaining, always_run, spawned_by, attempts, max_attempts, run_at, input, errors, created_at, updated_at)';
const TASK_PARAMS = 17;
/** Rows (or ids) per multi-row statement, so parameters stay under both databases' limits. */
const ROWS_PER_STATEMENT = 400;

/** Collects what a transaction changed, to publish once it commits. */
class Changes {
  constructor(readonly now: number) {}
  readonly jobs = new Set<string>();
  readonly readyPools = new Set<string>();
  readonly events: StoreEvent[] = [];

  events_(): StoreEvent[] {
    const out = [...this.events];
    if (this.readyPools.size > 0) out.unshift({ type: 'ready', pools: [...this.readyPools] });
    return out;
  }
}

interface JobUpdate {
  jobId: string;
  status: JobStatus;
  error: string | null;
  finishedAt: number | null;
  statusChanged: boolean;
}

interface InsertTask extends NewTask {
  jobId: string;
  priority: number;
  spawnedBy: string | null;
  /** Ids of the tasks it waits on, and how many of those have not succeeded. */
  depIds: string[];
  depsRemaining: number;
}

export class SqlStore implements Store {
  readonly capabilities: StoreCapabilities;
  private readonly notifications: NotificationSql;

  constructor(private readonly db: SqlDriver) {
    this.capabilities = { dialect: db.dialect, crossProcessEvents: db.crossProcessEvents };
    this.notifications = new NotificationSql(db);
  }

  async migrate(): Promise<number[]> {
    return this.db.transaction(async (q) => {
      // Processes starting together take turns; the second finds the work done.
      if (this.db.migrationLock) await q.all(this.db.migrationLock);
      await q.run('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
      const done = new Set((await q.all('SELECT version FROM schema_migrations')).map((r) => Number(r.version)));
      const applied: number[] = [];
      for (const m of this.db.migrations) {
        if (done.has(m.version)) continue;
        for (const statement of m.sql.split(/;\s*\n/).map((s) => s.trim()).filter(Boolean)) await q.run(statement);
        await q.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [m.version, m.name, Date.now()]);
        applied.push(m.version);
      }
      return applied;
    });
  }

  close(): Promise<void> {
    return this.db.close();
  }

  subscribe(listener: (event: StoreEvent) => void): () => void {
    return this.db.subscribe(listener);
  }

  // ---- jobs ----

  async submitJob(job: NewJob, now: number): Promise<SubmittedJob> {
    validateDag(job.tasks);
    return this.tx(now, async (q, changes) => {
      const inserted = await q.all(
        `INSERT INTO jobs (id, tenant_id, kind, status, priority, idempotency_key, request_fingerprint, input, cancel_requested, created_at, updated_at)
         VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, 0, ?, ?) ON CONFLICT (tenant_id, idempotency_key) DO NOTHING RETURNING *`,
        [job.id, job.tenantId, job.kind, job.priority, job.idempotencyKey, job.requestFingerprint, toJson(job.input) ?? 'null', now, now],
      );
      if (inserted.length === 0) {
        const existing = (await q.all('SELECT * FROM jobs WHERE tenant_id = ? AND idempotency_key = ?', [job.tenantId, job.idempotencyKey]))[0]!;
        return { job: jobFromRow(existing), created: false, requestFingerprint: strOrNull(existing.request_fingerprint) };
      }
      const ids = new Map(job.tasks.map((t) => [t.key, t.id]));
      await this.insertTasks(
        q,
        job.tasks.map((t) => ({
          ...t,
          jobId: job.id,
          priority: job.priority,
          spawnedBy: null,
          depIds: t.dependsOn.map((k) => ids.get(k)!),
          depsRemaining: t.dependsOn.length,
        })),
        now,
        changes,
      );
      return { job: jobFromRow(inserted[0]!), created: true, requestFingerprint: job.requestFingerprint };
    });
  }

  async getJob(jobId: string, tenantId: string | null): Promise<JobDetail | undefined> {
    const jobs = await this.db.all(`SELECT * FROM jobs WHERE id = ?${tenantId !== null ? ' AND tenant_id = ?' : ''}`, tenantId !== null ? [jobId, tenantId] : [jobId]);
    if (jobs.length === 0) return undefined;
    const tasks = await this.db.all('SELECT * FROM tasks WHERE job_id = ? ORDER BY seq', [jobId]);
    const deps = await this.db.all(
      'SELECT d.task_id, u.key FROM task_deps d JOIN tasks u ON u.id = d.depends_on WHERE u.job_id = ? ORDER BY u.seq',
      [jobId],
    );
    const depKeys = new Map<string, string[]>();
    for (const d of deps) depKeys.set(String(d.task_id), [...(depKeys.get(String(d.task_id)) ?? []), String(d.key)]);
    const records = tasks.map((t) => taskFromRow(t, depKeys.get(String(t.id)) ?? []));
    const steps = stepsFromCounts(records.map((t) => ({ job_id: jobId, type: t.type, state: t.state, n: 1 })));
    return { ...jobFromRow(jobs[0]!), steps: steps.get(jobId) ?? [], tasks: records };
  }

  async listJobs(query: ListJobsQuery): Promise<JobSummary[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const filter = (clause: string, value: unknown) => {
      where.push(clause);
      params.push(value);
    };
    if (query.tenantId) filter('tenant_id = ?', query.tenantId);
    if (query.status) filter('status = ?', query.status);
    if (query.kind) filter('kind = ?', query.kind);
    if (query.before) filter('id < ?', query.before);
    const jobs = await this.db.all(
      `SELECT * FROM jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`,
      [...params, query.limit],
    );
    if (jobs.length === 0) return [];
    const ids = jobs.map((j) => String(j.id));
    const counts = await this.db.all(
      `SELECT job_id, type, state, COUNT(*) AS n, MIN(seq) AS first_seq FROM tasks WHERE job_id IN ${placeholders(ids.length)}
       GROUP BY job_id, type, state ORDER BY first_seq`,
      ids,
    );
    const steps = stepsFromCounts(counts);
    return jobs.map((j) => ({ ...jobFromRow(j), steps: steps.get(String(j.id)) ?? [] }));
  }

  async dependencyOutputs(taskId: string) {
    const rows = await this.db.all(
      'SELECT u.key, u.type, u.output FROM task_deps d JOIN tasks u ON u.id = d.depends_on WHERE d.task_id = ? ORDER BY u.seq',
      [taskId],
    );
    return rows.map((r) => ({ key: String(r.key), type: String(r.type), output: fromJson(r.output) }));
  }

  // ---- the queue ----

  async claim(req: ClaimRequest): Promise<ClaimedTask[]> {
    if (req.pools.length === 0 || req.limit <= 0) return [];
    return this.tx(req.now, async (q) => {
      const picked = await q.all(
        `SELECT id FROM tasks WHERE state IN ('ready', 'retry_wait') AND pool IN ${placeholders(req.pools.length)} AND run_at <= ?
         ORDER BY priority DESC, seq LIMIT ?${this.db.claimLock}`,
        [...req.pools, req.now, req.limit],
      );
      if (picked.length === 0) return [];
      const ids = picked.map((r) => String(r.id));
      const token = newToken();
      const leaseExpiresAt = req.now + req.leaseMs;
      const tasks = await q.all(
        `UPDATE tasks SET state = 'running', attempts = attempts + 1, lease_owner = ?, lease_token = ?, lease_expires_at = ?,
           started_at = COALESCE(started_at, ?), updated_at = ?
         WHERE id IN ${placeholders(ids.length)}
         RETURNING id, job_id, key, type, pool, priority, input, attempts, max_attempts, seq`,
        [req.workerId, token, leaseExpiresAt, req.now, req.now, ...ids],
      );
      const jobIds = [...new Set(tasks.map((t) => String(t.job_id)))];
      await q.run(
        `UPDATE jobs SET status = 'running', started_at = COALESCE(started_at, ?), updated_at = ? WHERE status = 'queued' AND id IN ${placeholders(jobIds.length)}`,
        [req.now, req.now, ...jobIds],
      );
      const jobs = new Map(
        (await q.all(`SELECT id, tenant_id, kind, input FROM jobs WHERE id IN ${placeholders(jobIds.length)}`, jobIds)).map((j) => [String(j.id), j]),
      );
      tasks.sort((a, b) => Number(b.priority) - Number(a.priority) || Number(a.seq) - Number(b.seq));
      return tasks.map((t) => {
        const job = jobs.get(String(t.job_id))!;
        return claimedTaskFromRow({ ...t, tenant_id: job.tenant_id, job_kind: job.kind, job_input: job.input }, token, leaseExpiresAt);
      });
    });
  }

  async heartbeat(beats: readonly Heartbeat[], leaseMs: number, now: number): Promise<LeaseOutcome[]> {
    if (beats.length === 0) return [];
    return this.tx(now, async (q) => {
      const outcomes: LeaseOutcome[] = [];
      const jobOf: (string | null)[] = [];
      for (const b of beats) {
        const rows = await q.all(
          `UPDATE tasks SET lease_expires_at = ?, progress = COALESCE(?, progress), updated_at = ?
           WHERE id = ? AND lease_token = ? AND state = 'running' RETURNING job_id`,
          [now + leaseMs, toJson(b.progress), now, b.taskId, b.leaseToken],
        );
        jobOf.push(rows.length ? String(rows[0]!.job_id) : null);
        outcomes.push(rows.length ? 'ok' : 'lost');
      }
      const live = [...new Set(jobOf.filter((j): j is string => j !== null))];
      if (live.length > 0) {
        const cancelled = new Set(
          (await q.all(`SELECT id FROM jobs WHERE cancel_requested = 1 AND id IN ${placeholders(live.length)}`, live)).map((r) => String(r.id)),
        );
        jobOf.forEach((j, i) => {
          if (j !== null && cancelled.has(j)) outcomes[i] = 'cancelled';
        });
      }
      return outcomes;
    });
  }

  async complete(completions: readonly Completion[], now: number): Promise<LeaseOutcome[]> {
    if (completions.length === 0) return [];
    return this.tx(now, async (q, changes) => {
      const outcomes: LeaseOutcome[] = [];
      for (const group of settleGroups(completions)) {
        if (group.spawning) outcomes.push(await this.completeSpawning(q, group.spawning, now, changes));
        else outcomes.push(...(await this.completePlain(q, group.plain, now, changes)));
      }
      return outcomes;
    });
  }

  async fail(failures: readonly Failure[], now: number): Promise<LeaseOutcome[]> {
    if (failures.length === 0) return [];
    return this.tx(now, async (q, changes) => {
      const outcomes: LeaseOutcome[] = [];
      for (const f of failures) {
        const rows = await q.all(
          `SELECT t.job_id, t.errors, t.attempts, j.cancel_requested FROM tasks t JOIN jobs j ON j.id = t.job_id
           WHERE t.id = ? AND t.lease_token = ? AND t.state = 'running'${this.db.rowLock && ' FOR UPDATE OF t'}`,
          [f.taskId, f.leaseToken],
        );
        const row = rows[0];
        if (!row) {
          outcomes.push('lost');
          continue;
        }
        const state: TaskState = Number(row.cancel_requested) === 1 ? 'cancelled' : f.retryAt !== null ? 'retry_wait' : 'dead';
        await this.endAttempt(q, { id: f.taskId, jobId: String(row.job_id), errors: row.errors, attempts: Number(row.attempts) }, f.error, state, f.retryAt ?? now, now, changes);
        outcomes.push('ok');
      }
      return outcomes;
    });
  }

  async release(leases: readonly Lease[], now: number): Promise<void> {
    if (leases.length === 0) return;
    await this.tx(now, async (q, changes) => {
      for (const l of leases) {
        const rows = await q.all(
          `UPDATE tasks SET state = CASE WHEN (SELECT cancel_requested FROM jobs WHERE jobs.id = tasks.job_id) = 1 THEN 'cancelled' ELSE 'ready' END,
             attempts = attempts - 1, lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL, run_at = ?, updated_at = ?
           WHERE id = ? AND lease_token = ? AND state = 'running' RETURNING job_id, pool, state`,
          [now, now, l.taskId, l.leaseToken],
        );
        for (const r of rows) {
          changes.jobs.add(String(r.job_id));
          if (r.state === 'ready') changes.readyPools.add(String(r.pool));
        }
      }
    });
  }

  async reapExpiredLeases(now: number): Promise<number> {
    return this.tx(now, async (q, changes) => {
      const rows = await q.all(
        `SELECT t.id, t.job_id, t.errors, t.attempts, t.max_attempts, j.cancel_requested FROM tasks t JOIN jobs j ON j.id = t.job_id
         WHERE t.state = 'running' AND t.lease_expires_at <= ? ORDER BY t.lease_expires_at LIMIT 500${this.db.claimLock.replace('FOR UPDATE', 'FOR UPDATE OF t')}`,
        [now],
      );
      for (const r of rows) {
        const attempts = Number(r.attempts);
        const state: TaskState = Number(r.cancel_requested) === 1 ? 'cancelled' : attempts >= Number(r.max_attempts) ? 'dead' : 'ready';
        const error: ErrorInfo = { code: 'lease_expired', message: 'the worker running this task stopped renewing its lease', retryable: true };
        await this.endAttempt(q, { id: String(r.id), jobId: String(r.job_id), errors: r.errors, attempts }, error, state, now, now, changes);
      }
      return rows.length;
    });
  }

  // ---- operator actions ----

  async cancelJob(jobId: string, now: number, tenantId?: string): Promise<JobRecord | undefined> {
    return this.tx(now, async (q, changes) => {
      const job = await this.lockJob(q, jobId, tenantId);
      if (!job) return undefined;
      if (terminalJobStatuses.has(job.status)) return job;
      await q.run('UPDATE jobs SET cancel_requested = 1, updated_at = ? WHERE id = ?', [now, jobId]);
      await this.stopPendingTasks(q, jobId, now, changes);
      changes.jobs.add(jobId);
      changes.events.push({ type: 'cancelled', jobId });
      return { ...job, cancelRequested: true };
    }).then(async (job) => (job ? ((await this.getJob(job.id, job.tenantId)) ?? job) : undefined));
  }

  async retryJob(jobId: string, fromStep: string | undefined, now: number, tenantId?: string): Promise<JobRecord | undefined> {
    return this.tx(now, async (q, changes) => {
      const job = await this.lockJob(q, jobId, tenantId);
      if (!job) return undefined;
      if (job.finishedAt === null) throw new EarshotError('conflict', 'the job has not finished; cancel it first or wait', { details: { status: job.status } });
      const tasks = await q.all('SELECT id, type, state, always_run, spawned_by FROM tasks WHERE job_id = ?', [jobId]);
      const edges = await q.all('SELECT d.task_id, d.depends_on FROM task_deps d JOIN tasks t ON t.id = d.task_id WHERE t.job_id = ?', [jobId]);
      const { reset, removed } = planRetry(
        tasks.map((t) => ({ id: String(t.id), type: String(t.type), state: t.state as TaskState, alwaysRun: Number(t.always_run) === 1, spawnedBy: t.spawned_by === null ? null : String(t.spawned_by) })),
        edges.map((e) => ({ taskId: String(e.task_id), dependsOn: String(e.depends_on) })),
        fromStep,
      );
      for (const part of chunks([...removed], 500)) {
        await q.run(`DELETE FROM task_deps WHERE task_id IN ${placeholders(part.length)} OR depends_on IN ${placeholders(part.length)}`, [...part, ...part]);
        await q.run(`DELETE FROM tasks WHERE id IN ${placeholders(part.length)}`, part);
      }
      for (const part of chunks([...reset], 500)) {
        await q.run(
          `UPDATE tasks SET state = 'waiting', attempts = 0, output = NULL, progress = NULL, lease_owner = NULL, lease_token = NULL,
             lease_expires_at = NULL, started_at = NULL, finished_at = NULL, run_at = ?, updated_at = ? WHERE id IN ${placeholders(part.length)}`,
          [now, now, ...part],
        );
      }
      for (const part of chunks([...reset], 500)) {
        await q.run(
          `UPDATE tasks SET deps_remaining = (SELECT COUNT(*) FROM task_deps d JOIN tasks u ON u.id = d.depends_on
             WHERE d.task_id = tasks.id AND u.state <> 'succeeded') WHERE id IN ${placeholders(part.length)}`,
          part,
        );
        const ready = await q.all(
          `UPDATE tasks SET state = 'ready' WHERE deps_remaining = 0 AND id IN ${placeholders(part.length)} RETURNING pool`,
          part,
        );
        for (const r of ready) changes.readyPools.add(String(r.pool));
      }
      await q.run('UPDATE jobs SET cancel_requested = 0, error = NULL, finished_at = NULL, updated_at = ? WHERE id = ?', [now, jobId]);
      changes.jobs.add(jobId);
      return job;
    }).then(async (job) => (job ? ((await this.getJob(job.id, job.tenantId)) ?? job) : undefined));
  }

  async listDeadTasks(query: { tenantId?: string; limit: number }): Promise<DeadTask[]> {
    const rows = await this.db.all(
      `SELECT t.*, j.tenant_id, j.kind AS job_kind FROM tasks t JOIN jobs j ON j.id = t.job_id
       WHERE t.state = 'dead'${query.tenantId ? ' AND j.tenant_id = ?' : ''} ORDER BY t.finished_at DESC, t.seq DESC LIMIT ?`,
      query.tenantId ? [query.tenantId, query.limit] : [query.limit],
    );
    return rows.map((r) => ({ ...taskFromRow(r), tenantId: String(r.tenant_id), jobKind: String(r.job_kind) }));
  }

  async queueCounts(): Promise<QueueCount[]> {
    const rows = await this.db.all(
      "SELECT pool, state, COUNT(*) AS n FROM tasks WHERE state IN ('waiting', 'ready', 'running', 'retry_wait') GROUP BY pool, state",
    );
    return rows.map((r) => ({ pool: String(r.pool), state: r.state as TaskState, count: Number(r.n) }));
  }

  // ---- workers, tenants, keys ----

  async upsertWorker(w: WorkerInfo): Promise<void> {
    await this.db.run(
      `INSERT INTO workers (id, pools, hostname, pid, concurrency, started_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET last_seen_at = excluded.last_seen_at, pools = excluded.pools, concurrency = excluded.concurrency`,
      [w.id, JSON.stringify(w.pools), w.hostname, w.pid, w.concurrency, w.startedAt, w.lastSeenAt],
    );
  }

  async removeWorker(workerId: string): Promise<void> {
    await this.db.run('DELETE FROM workers WHERE id = ?', [workerId]);
  }

  async listWorkers(seenSince: number): Promise<WorkerInfo[]> {
    return (await this.db.all('SELECT * FROM workers WHERE last_seen_at >= ? ORDER BY started_at', [seenSince])).map(workerFromRow);
  }

  async createTenant(t: Tenant): Promise<Tenant> {
    await this.db.run('INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING', [t.id, t.name, t.createdAt]);
    return (await this.getTenant(t.id))!;
  }

  async getTenant(tenantId: string): Promise<Tenant | undefined> {
    const r = (await this.db.all('SELECT * FROM tenants WHERE id = ?', [tenantId]))[0];
    return r ? { id: String(r.id), name: String(r.name), createdAt: Number(r.created_at) } : undefined;
  }

  async createApiKey(key: ApiKeyRecord, keyHash: string): Promise<void> {
    await this.db.run('INSERT INTO api_keys (id, tenant_id, name, prefix, key_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)', [
      key.id,
      key.tenantId,
      key.name,
      key.prefix,
      keyHash,
      key.createdAt,
    ]);
  }

  async findApiKey(keyHash: string): Promise<ApiKeyRecord | undefined> {
    const r = (await this.db.all('SELECT * FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL', [keyHash]))[0];
    return r ? apiKeyFromRow(r) : undefined;
  }

  async listApiKeys(tenantId?: string): Promise<ApiKeyRecord[]> {
    const rows = await this.db.all(`SELECT * FROM api_keys${tenantId ? ' WHERE tenant_id = ?' : ''} ORDER BY created_at`, tenantId ? [tenantId] : []);
    return rows.map(apiKeyFromRow);
  }

  async revokeApiKey(keyId: string, now: number): Promise<boolean> {
    return (await this.db.run('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL', [now, keyId])) > 0;
  }

  // ---- uploads ----

  async createUpload(u: UploadRecord): Promise<void> {
    await this.db.run(
      'INSERT INTO uploads (id, tenant_id, blob_key, filename, content_type, size_bytes, job_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      [u.id, u.tenantId, u.blobKey, u.filename, u.contentType, u.sizeBytes, u.jobId, u.createdAt, u.expiresAt],
    );
  }

  async getUpload(uploadId: string, tenantId: string): Promise<UploadRecord | undefined> {
    const r = (await this.db.all('SELECT * FROM uploads WHERE id = ? AND tenant_id = ?', [uploadId, tenantId]))[0];
    return r ? uploadFromRow(r) : undefined;
  }

  async deleteUpload(uploadId: string, tenantId: string): Promise<boolean> {
    return (await this.db.run('DELETE FROM uploads WHERE id = ? AND tenant_id = ?', [uploadId, tenantId])) > 0;
  }

  async completeUpload(uploadId: string, jobId: string): Promise<boolean> {
    return (await this.db.run('UPDATE uploads SET job_id = ? WHERE id = ? AND job_id IS NULL', [jobId, uploadId])) > 0;
  }

  // ---- notifications (notification-sql.ts) ----

  getTenantWebhook(tenantId: string) {
    return this.notifications.getTenantWebhook(tenantId);
  }
  putTenantWebhook(webhook: TenantWebhook) {
    return this.notifications.putTenantWebhook(webhook);
  }
  ensureTenantWebhookSecret(tenantId: string, candidate: string, now: number) {
    return this.notifications.ensureTenantWebhookSecret(tenantId, candidate, now);
  }
  createDeliveries(deliveries: readonly DeliveryRecord[]) {
    return this.notifications.createDeliveries(deliveries);
  }
  getDelivery(deliveryId: string, tenantId: string) {
    return this.notifications.getDelivery(deliveryId, tenantId);
  }
  listDeliveries(jobId: string, tenantId: string) {
    return this.notifications.listDeliveries(jobId, tenantId);
  }
  recordDeliveryAttempt(deliveryId: string, attempt: Omit<DeliveryAttempt, 'attempt'>, state: DeliveryState) {
    return this.notifications.recordDeliveryAttempt(deliveryId, attempt, state);
  }
  reopenDelivery(deliveryId: string, now: number) {
    return this.notifications.reopenDelivery(deliveryId, now);
  }

  // ---- the pieces ----

  /** Runs `fn` in a transaction, then brings changed jobs' status up to date and publishes events. */
  private async tx<T>(now: number, fn: (q: SqlQueryer, changes: Changes) => Promise<T>): Promise<T> {
    return this.db.transaction(async (q) => {
      const changes = new Changes(now);
      const result = await fn(q, changes);
      await this.refreshJobs(q, [...changes.jobs], changes);
      await this.db.publish(q, changes.events_());
      return result;
    });
  }

  private async lockJob(q: SqlQueryer, jobId: string, tenantId?: string): Promise<JobRecord | undefined> {
    const rows = await q.all(`SELECT * FROM jobs WHERE id = ?${tenantId ? ' AND tenant_id = ?' : ''}${this.db.rowLock}`, tenantId ? [jobId, tenantId] : [jobId]);
    return rows[0] ? jobFromRow(rows[0]) : undefined;
  }

  private async insertTasks(q: SqlQueryer, tasks: readonly InsertTask[], now: number, changes: Changes): Promise<void> {
    for (const part of chunks(tasks, ROWS_PER_STATEMENT)) {
      const values: unknown[] = [];
      for (const t of part) {
        const state = t.depsRemaining === 0 ? 'ready' : 'waiting';
        if (state === 'ready') changes.readyPools.add(t.pool);
        values.push(t.id, t.jobId, t.key, t.type, t.pool, t.priority, state, t.depsRemaining, t.alwaysRun ? 1 : 0, t.spawnedBy);
        values.push(0, t.maxAttempts, now, toJson(t.input) ?? 'null', '[]', now, now);
      }
      const row = placeholders(TASK_PARAMS);
      await q.run(`INSERT INTO tasks ${TASK_COLUMNS} VALUES ${new Array(part.length).fill(row).join(', ')}`, values);
    }
    await this.insertEdges(q, tasks.flatMap((t) => t.depIds.map((d) => [t.id, d] as const)));
  }

  /** Edges as (task, the task it depends on). */
  private async insertEdges(q: SqlQueryer, edges: readonly (readonly [string, string])[]): Promise<void> {
    for (const part of chunks(edges, 1000)) {
      await q.run(`INSERT INTO task_deps (task_id, depends_on) VALUES ${valueRows(part.length, 2)}`, part.flat());
    }
  }

  /** Adds the tasks a completing handler spawned, and makes the tasks they block wait for them. */
  private async spawn(q: SqlQueryer, jobId: string, priority: number, c: Completion, now: number, changes: Changes): Promise<void> {
    const spawn = c.spawn ?? [];
    const existing = await q.all('SELECT id, key, state FROM tasks WHERE job_id = ?', [jobId]);
    const byKey = new Map(existing.map((r) => [String(r.key), { id: String(r.id), state: String(r.state) }]));
    validateDag(spawn, new Set(byKey.keys()));
    const newIds = new Map(spawn.map((s) => [s.key, s.id]));
    await this.insertTasks(
      q,
      spawn.map((s) => {
        const deps = (s.dependsOn ?? []).map((k) => newIds.get(k) ?? byKey.get(k)!.id);
        const remaining = (s.dependsOn ?? []).filter((k) => newIds.has(k) || byKey.get(k)!.state !== 'succeeded').length;
        return { ...s, input: s.input ?? null, dependsOn: s.dependsOn ?? [], jobId, priority, spawnedBy: c.taskId, depIds: deps, depsRemaining: remaining };
      }),
      now,
      changes,
    );
    const edges: (readonly [string, string])[] = [];
    const addedDeps = new Map<string, number>();
    for (const s of spawn) {
      for (const key of s.blocks ?? []) {
        const blocked = byKey.get(key);
        if (!blocked || (blocked.state !== 'waiting' && blocked.state !== 'ready')) {
          throw new EarshotError('invalid_dag', `a spawned task can only block a task that has not started ("${key}")`);
        }
        edges.push([blocked.id, s.id]);
        addedDeps.set(blocked.id, (addedDeps.get(blocked.id) ?? 0) + 1);
      }
    }
    // Finalisers wait for every task of the job: spawned tasks that nothing else waits for hold them too.
    const upstream = new Set(spawn.flatMap((s) => [...(s.dependsOn ?? []), ...((s.blocks?.length ?? 0) > 0 ? [s.key] : [])]));
    const sinks = spawn.filter((s) => !upstream.has(s.key));
    if (sinks.length > 0) {
      const finalisers = await q.all("SELECT id FROM tasks WHERE job_id = ? AND always_run = 1 AND state = 'waiting'", [jobId]);
      for (const f of finalisers) {
        for (const s of sinks) edges.push([String(f.id), s.id]);
        addedDeps.set(String(f.id), (addedDeps.get(String(f.id)) ?? 0) + sinks.length);
      }
    }
    // A fan-out of n tasks blocking one merge is one insert and one update, not 2n statements.
    await this.insertEdges(q, edges);
    for (const [id, n] of addedDeps) {
      await q.run("UPDATE tasks SET deps_remaining = deps_remaining + ?, state = 'waiting' WHERE id = ? AND state IN ('waiting', 'ready')", [n, id]);
    }
  }

  /** Settles completions that spawn nothing with one statement per step, however many there are. */
  private async completePlain(q: SqlQueryer, group: readonly Completion[], now: number, changes: Changes): Promise<LeaseOutcome[]> {
    const done = new Set<string>();
    for (const part of chunks(group, ROWS_PER_STATEMENT)) {
      const rows = await q.all(
        `UPDATE tasks SET state = 'succeeded', output = v.column3, lease_token = NULL, lease_expires_at = NULL, finished_at = ?, updated_at = ?
         FROM (VALUES ${valueRows(part.length, 3)}) AS v
         WHERE tasks.id = v.column1 AND tasks.lease_token = v.column2 AND tasks.state = 'running' RETURNING tasks.id, tasks.job_id`,
        [now, now, ...part.flatMap((c) => [c.taskId, c.leaseToken, toJson(c.output) ?? 'null'])],
      );
      for (const r of rows) {
        done.add(String(r.id));
        changes.jobs.add(String(r.job_id));
      }
    }
    await this.releaseDependents(q, [...done], now, changes);
    return group.map((c) => (done.has(c.taskId) ? 'ok' : 'lost'));
  }

  /** A completion that adds tasks: its spawn goes in before its dependents are released. */
  private async completeSpawning(q: SqlQueryer, c: Completion, now: number, changes: Changes): Promise<LeaseOutcome> {
    const rows = await q.all(
      `UPDATE tasks SET state = 'succeeded', output = ?, lease_token = NULL, lease_expires_at = NULL, finished_at = ?, updated_at = ?
       WHERE id = ? AND lease_token = ? AND state = 'running' RETURNING job_id, priority`,
      [toJson(c.output) ?? 'null', now, now, c.taskId, c.leaseToken],
    );
    if (rows.length === 0) return 'lost';
    const jobId = String(rows[0]!.job_id);
    // Lock the job before reading its tasks: a cancel (or a failure) committing meanwhile would
    // otherwise be overwritten by the spawn, and a job that will not succeed must not grow.
    const job = (await q.all(`SELECT cancel_requested, status FROM jobs WHERE id = ?${this.db.rowLock}`, [jobId]))[0];
    if (job && Number(job.cancel_requested) === 0 && job.status !== 'failed') {
      await this.spawn(q, jobId, Number(rows[0]!.priority), c, now, changes);
    }
    await this.releaseDependents(q, [c.taskId], now, changes);
    changes.jobs.add(jobId);
    return 'ok';
  }

  /** Each dependent of the succeeded tasks waits on that many fewer; those left waiting on none are ready. */
  private async releaseDependents(q: SqlQueryer, taskIds: readonly string[], now: number, changes: Changes): Promise<void> {
    for (const part of chunks(taskIds, ROWS_PER_STATEMENT)) {
      const rows = await q.all(
        `UPDATE tasks SET deps_remaining = deps_remaining - d.n,
           state = CASE WHEN state = 'waiting' AND deps_remaining = d.n THEN 'ready' ELSE state END,
           run_at = CASE WHEN state = 'waiting' AND deps_remaining = d.n THEN ? ELSE run_at END, updated_at = ?
         FROM (SELECT task_id, COUNT(*) AS n FROM task_deps WHERE depends_on IN ${placeholders(part.length)} GROUP BY task_id) AS d
         WHERE tasks.id = d.task_id RETURNING tasks.pool, tasks.state`,
        [now, now, ...part],
      );
      for (const r of rows) if (r.state === 'ready') changes.readyPools.add(String(r.pool));
    }
  }

  /** Ends a running attempt that did not succeed: retry later, ready again, dead, or cancelled. */
  private async endAttempt(
    q: SqlQueryer,
    task: { id: string; jobId: string; errors: unknown; attempts: number },
    error: ErrorInfo,
    state: TaskState,
    runAt: number,
    now: number,
    changes: Changes,
  ): Promise<void> {
    const errors = [...(fromJson<TaskErrorEntry[]>(task.errors) ?? []), { ...error, attempt: task.attempts, at: now }];
    const terminal = state === 'dead' || state === 'cancelled';
    await q.run(
      `UPDATE tasks SET state = ?, errors = ?, run_at = ?, lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL,
         finished_at = ?, updated_at = ? WHERE id = ?`,
      [state, JSON.stringify(errors), runAt, terminal ? now : null, now, task.id],
    );
    if (state === 'dead') await this.stopPendingTasks(q, task.jobId, now, changes);
    if (state === 'ready') {
      const pool = await q.all('SELECT pool FROM tasks WHERE id = ?', [task.id]);
      changes.readyPools.add(String(pool[0]!.pool));
    }
    changes.jobs.add(task.jobId);
  }

  /** The job will not succeed: pending tasks are cancelled, finalisers released to run now. */
  private async stopPendingTasks(q: SqlQueryer, jobId: string, now: number, changes: Changes): Promise<void> {
    await q.run(
      `UPDATE tasks SET state = 'cancelled', finished_at = ?, updated_at = ? WHERE job_id = ? AND always_run = 0 AND state IN ${PENDING}`,
      [now, now, jobId],
    );
    const released = await q.all(
      "UPDATE tasks SET state = 'ready', run_at = ?, updated_at = ? WHERE job_id = ? AND always_run = 1 AND state = 'waiting' RETURNING pool",
      [now, now, jobId],
    );
    for (const r of released) changes.readyPools.add(String(r.pool));
  }

  /** Re-derives changed jobs' status from their tasks and stores those that changed: a few statements per batch of jobs. */
  private async refreshJobs(q: SqlQueryer, jobIds: readonly string[], changes: Changes): Promise<void> {
    for (const part of chunks([...jobIds].sort(), ROWS_PER_STATEMENT)) {
      // Locking the jobs (in id order, against deadlocks) before counting orders concurrent completions
      // of one job, so the last one counts every success.
      const jobs = await q.all(
        `SELECT id, status, cancel_requested, error, finished_at FROM jobs WHERE id IN ${placeholders(part.length)} ORDER BY id${this.db.rowLock}`,
        part,
      );
      const counts = new Map<string, TaskStateCount[]>();
      const rows = await q.all(
        `SELECT job_id, state, always_run, COUNT(*) AS n FROM tasks WHERE job_id IN ${placeholders(part.length)} GROUP BY job_id, state, always_run`,
        part,
      );
      for (const c of rows) {
        const list = counts.get(String(c.job_id)) ?? [];
        counts.set(String(c.job_id), list);
        list.push({ state: c.state as TaskState, alwaysRun: Number(c.always_run) === 1, count: Number(c.n) });
      }
      const updates: JobUpdate[] = [];
      for (const job of jobs) {
        const update = await this.jobUpdate(q, job, counts.get(String(job.id)) ?? [], changes.now);
        if (update) updates.push(update);
      }
      await this.storeJobUpdates(q, updates, changes);
    }
  }

  /** A job's status, error and finish time as its task counts say; undefined when nothing changes. */
  private async jobUpdate(q: SqlQueryer, job: Row, counts: readonly TaskStateCount[], now: number): Promise<JobUpdate | undefined> {
    const jobId = String(job.id);
    const { status, settled } = deriveJobStatus(counts, Number(job.cancel_requested) === 1);
    let error = job.error === null ? null : String(job.error);
    if (status === 'failed' && error === null) error = JSON.stringify(await this.firstDeadError(q, jobId));
    if (status === 'cancelled' && error === null) error = JSON.stringify({ code: 'cancelled', message: 'the job was cancelled', retryable: false });
    if (status !== 'failed' && status !== 'cancelled') error = null;
    const finishedAt = settled ? (job.finished_at === null ? now : Number(job.finished_at)) : null;
    const prevFinished = job.finished_at === null ? null : Number(job.finished_at);
    if (status === job.status && error === job.error && finishedAt === prevFinished) return undefined;
    return { jobId, status, error, finishedAt, statusChanged: status !== job.status };
  }

  private async storeJobUpdates(q: SqlQueryer, updates: readonly JobUpdate[], changes: Changes): Promise<void> {
    if (updates.length === 0) return;
    // PostgreSQL types the VALUES columns as text unless told; finished_at is a BIGINT.
    await q.run(
      `UPDATE jobs SET status = v.column2, error = v.column3, finished_at = v.column4, updated_at = ?
       FROM (VALUES ${new Array(updates.length).fill('(?, ?, ?, CAST(? AS BIGINT))').join(', ')}) AS v WHERE jobs.id = v.column1`,
      [changes.now, ...updates.flatMap((u) => [u.jobId, u.status, u.error, u.finishedAt])],
    );
    for (const u of updates) if (u.statusChanged) changes.events.push({ type: 'job', jobId: u.jobId, status: u.status });
  }

  private async firstDeadError(q: SqlQueryer, jobId: string): Promise<ErrorInfo> {
    const dead = await q.all(
      "SELECT id, type, errors FROM tasks WHERE job_id = ? AND state = 'dead' AND always_run = 0 ORDER BY finished_at, seq LIMIT 1",
      [jobId],
    );
    const row = dead[0];
    const last = fromJson<TaskErrorEntry[]>(row?.errors)?.at(-1);
    return {
      code: last?.code ?? 'internal',
      message: last?.message ?? 'a task failed',
      retryable: false,
      details: { ...(last?.details ?? {}), step: row ? String(row.type) : undefined, task_id: row ? String(row.id) : undefined },
    };
  }
}

function stepsFromCounts(rows: readonly Row[]): Map<string, StepProgress[]> {
  const byJob = new Map<string, Map<string, Partial<Record<TaskState, number>>>>();
  for (const r of rows) {
    const jobId = String(r.job_id);
    const steps = byJob.get(jobId) ?? new Map<string, Partial<Record<TaskState, number>>>();
    byJob.set(jobId, steps);
    const counts = steps.get(String(r.type)) ?? {};
    steps.set(String(r.type), counts);
    const state = r.state as TaskState;
    counts[state] = (counts[state] ?? 0) + Number(r.n);
  }
  const out = new Map<string, StepProgress[]>();
  for (const [jobId, steps] of byJob) out.set(jobId, [...steps].map(([step, counts]) => summariseStep(step, counts)));
  return out;
}

type SettleGroup = { spawning: Completion; plain?: never } | { spawning?: never; plain: Completion[] };

/**
 * Splits completions, in order, into runs that settle together: a completion that spawns tasks goes
 * alone (its spawn reads the job as the earlier completions left it), and a task named twice starts a
 * new run, so outcomes stay those of settling one completion after another.
 */
function settleGroups(completions: readonly Completion[]): SettleGroup[] {
  const groups: SettleGroup[] = [];
  let plain: Completion[] = [];
  let ids = new Set<string>();
  const close = () => {
    if (plain.length > 0) groups.push({ plain });
    plain = [];
    ids = new Set();
  };
  for (const c of completions) {
    if (c.spawn?.length) {
      close();
      groups.push({ spawning: c });
      continue;
    }
    if (ids.has(c.taskId)) close();
    plain.push(c);
    ids.add(c.taskId);
  }
  close();
  return groups;
}
