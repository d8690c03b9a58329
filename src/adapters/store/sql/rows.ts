import type { ErrorInfo } from '../../../core/errors.js';
import type { Json, JobRecord, JobStatus, TaskErrorEntry, TaskRecord, TaskState } from '../../../core/job.js';
import type { ApiKeyRecord, ClaimedTask, UploadRecord, WorkerInfo } from '../../../ports/store.js';
import type { Row } from './driver.js';

export function toJson(value: Json | undefined | null): string | null {
  return value === undefined || value === null ? null : JSON.stringify(value);
}

export function fromJson<T = Json>(value: unknown): T | null {
  if (value === null || value === undefined) return null;
  return JSON.parse(String(value)) as T;
}

const num = (v: unknown): number => Number(v);
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
export const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

export function jobFromRow(r: Row): JobRecord {
  return {
    id: String(r.id),
    tenantId: String(r.tenant_id),
    kind: String(r.kind),
    status: r.status as JobStatus,
    priority: num(r.priority),
    idempotencyKey: strOrNull(r.idempotency_key),
    input: fromJson(r.input),
    error: fromJson<ErrorInfo>(r.error),
    cancelRequested: num(r.cancel_requested) === 1,
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
    startedAt: numOrNull(r.started_at),
    finishedAt: numOrNull(r.finished_at),
  };
}

export function taskFromRow(r: Row, dependsOn: string[] = []): TaskRecord {
  return {
    id: String(r.id),
    jobId: String(r.job_id),
    key: String(r.key),
    type: String(r.type),
    pool: String(r.pool),
    priority: num(r.priority),
    state: r.state as TaskState,
    alwaysRun: num(r.always_run) === 1,
    spawnedBy: strOrNull(r.spawned_by),
    attempts: num(r.attempts),
    maxAttempts: num(r.max_attempts),
    runAt: num(r.run_at),
    leaseOwner: strOrNull(r.lease_owner),
    leaseExpiresAt: numOrNull(r.lease_expires_at),
    input: fromJson(r.input),
    output: fromJson(r.output),
    progress: fromJson(r.progress),
    errors: fromJson<TaskErrorEntry[]>(r.errors) ?? [],
    dependsOn,
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
    startedAt: numOrNull(r.started_at),
    finishedAt: numOrNull(r.finished_at),
  };
}

/** A claimed task from its tasks row joined with its job's tenant_id, job_kind and job_input. */
export function claimedTaskFromRow(r: Row, leaseToken: string, leaseExpiresAt: number): ClaimedTask {
  return {
    id: String(r.id),
    jobId: String(r.job_id),
    tenantId: String(r.tenant_id),
    jobKind: String(r.job_kind),
    key: String(r.key),
    type: String(r.type),
    pool: String(r.pool),
    priority: num(r.priority),
    input: fromJson(r.input),
    jobInput: fromJson(r.job_input),
    attempt: num(r.attempts),
    maxAttempts: num(r.max_attempts),
    leaseToken,
    leaseExpiresAt,
  };
}

export function apiKeyFromRow(r: Row): ApiKeyRecord {
  return {
    id: String(r.id),
    tenantId: String(r.tenant_id),
    name: String(r.name),
    prefix: String(r.prefix),
    createdAt: num(r.created_at),
    revokedAt: numOrNull(r.revoked_at),
  };
}

export function workerFromRow(r: Row): WorkerInfo {
  return {
    id: String(r.id),
    pools: fromJson<string[]>(r.pools) ?? [],
    hostname: String(r.hostname),
    pid: num(r.pid),
    concurrency: num(r.concurrency),
    startedAt: num(r.started_at),
    lastSeenAt: num(r.last_seen_at),
  };
}

export function uploadFromRow(r: Row): UploadRecord {
  return {
    id: String(r.id),
    tenantId: String(r.tenant_id),
    blobKey: String(r.blob_key),
    filename: strOrNull(r.filename),
    contentType: strOrNull(r.content_type),
    sizeBytes: numOrNull(r.size_bytes),
    jobId: strOrNull(r.job_id),
    createdAt: num(r.created_at),
    expiresAt: num(r.expires_at),
  };
}
