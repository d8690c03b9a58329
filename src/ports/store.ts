/**
 * Store: the durable state of Earshot — jobs, their task DAGs (which are also the queue), tenants and
 * API keys. Every method is one transaction, so a task's completion and the release of the tasks
 * waiting on it can never be separated. Time is always passed in (`now`, ms since the epoch) so the
 * engine runs on an injected clock. It carries no connection or transaction type: adapters own those.
 * What a handler does, retry schedules and DAG shapes are decided above it, in the engine.
 */
import type { ErrorInfo } from '../core/errors.js';
import type { Json, JobRecord, JobStatus, SpawnSpec, StepProgress, TaskRecord, TaskState } from '../core/job.js';

export interface NewTask {
  id: string;
  key: string;
  type: string;
  pool: string;
  input: Json;
  /** Keys of tasks of the same job. */
  dependsOn: string[];
  alwaysRun: boolean;
  maxAttempts: number;
}

export interface NewJob {
  id: string;
  tenantId: string;
  kind: string;
  priority: number;
  idempotencyKey: string | null;
  /** What the idempotency key was used for (core/request-fingerprint.ts); null without a key. */
  requestFingerprint: string | null;
  input: Json;
  tasks: NewTask[];
}

/** A submission's job: the new one, or the one stored earlier under the same idempotency key. */
export interface SubmittedJob {
  job: JobRecord;
  created: boolean;
  /** The fingerprint stored with the job; null for jobs stored without one (before fingerprints, or without a key). */
  requestFingerprint: string | null;
}

export interface ClaimRequest {
  workerId: string;
  pools: readonly string[];
  limit: number;
  leaseMs: number;
  now: number;
}

/** A task handed to a worker, with its lease. */
export interface ClaimedTask {
  id: string;
  jobId: string;
  tenantId: string;
  jobKind: string;
  key: string;
  type: string;
  pool: string;
  priority: number;
  input: Json;
  jobInput: Json;
  /** 1 on the first attempt. */
  attempt: number;
  maxAttempts: number;
  leaseToken: string;
  leaseExpiresAt: number;
}

export interface Lease {
  taskId: string;
  leaseToken: string;
}

export interface Completion extends Lease {
  output: Json;
  /** Tasks the handler added to its job (fan-out). */
  spawn?: (Omit<SpawnSpec, 'pool' | 'maxAttempts' | 'alwaysRun'> & { id: string; pool: string; maxAttempts: number; alwaysRun: boolean })[];
}

export interface Failure extends Lease {
  error: ErrorInfo;
  /** When to try again; null makes the task dead. */
  retryAt: number | null;
}

export interface Heartbeat extends Lease {
  progress?: Json;
}

/** ok; lost: the lease expired or was taken over (fencing); cancelled: the job was cancelled. */
export type LeaseOutcome = 'ok' | 'lost' | 'cancelled';

export interface JobSummary extends JobRecord {
  steps: StepProgress[];
}

export interface JobDetail extends JobSummary {
  tasks: TaskRecord[];
}

export interface ListJobsQuery {
  tenantId?: string;
  status?: JobStatus;
  kind?: string;
  limit: number;
  /** Return jobs created before this job id (pagination). */
  before?: string;
}

export interface DeadTask extends TaskRecord {
  tenantId: string;
  jobKind: string;
}

export interface QueueCount {
  pool: string;
  state: TaskState;
  count: number;
}

export interface WorkerInfo {
  id: string;
  pools: string[];
  hostname: string;
  pid: number;
  concurrency: number;
  startedAt: number;
  lastSeenAt: number;
}

/** A pre-signed upload: the client PUTs the bytes straight to storage, then completes it into a job. */
export interface UploadRecord {
  id: string;
  tenantId: string;
  blobKey: string;
  filename: string | null;
  contentType: string | null;
  sizeBytes: number | null;
  /** Set once the upload was completed into a job. */
  jobId: string | null;
  createdAt: number;
  expiresAt: number;
}

export interface Tenant {
  id: string;
  name: string;
  createdAt: number;
}

export interface ApiKeyRecord {
  id: string;
  tenantId: string;
  name: string;
  /** The first characters of the key, shown to operators to tell keys apart. */
  prefix: string;
  createdAt: number;
  revokedAt: number | null;
}

/** A tenant's own webhook endpoint and signing secret. */
export interface TenantWebhook {
  tenantId: string;
  /** Receives the events of every job of the tenant; null: only jobs that name a webhook_url get webhooks. */
  url: string | null;
  events: string[];
  secret: string;
  /** After a rotation, the old secret also signs until `previousExpiresAt`, so receivers can switch over. */
  previousSecret: string | null;
  previousExpiresAt: number | null;
  createdAt: number;
  updatedAt: number;
}

export type DeliveryChannel = 'webhook' | 'email';
export type DeliveryState = 'pending' | 'delivered' | 'failed';

/** One notification to one target: its content is fixed when created, its attempts are logged. */
export interface DeliveryRecord {
  id: string;
  tenantId: string;
  jobId: string;
  channel: DeliveryChannel;
  /** job.succeeded, job.failed, job.cancelled, job.progress. */
  event: string;
  /** The URL or e-mail address. */
  target: string;
  /** The webhook body exactly as sent, or the e-mail's event data (JSON text). */
  payload: string;
  state: DeliveryState;
  attempts: number;
  createdAt: number;
  updatedAt: number;
  deliveredAt: number | null;
}

export interface DeliveryAttempt {
  /** 1-based over the delivery's whole life, redeliveries included. */
  attempt: number;
  at: number;
  durationMs: number;
  ok: boolean;
  statusCode: number | null;
  /** `code: message` when the attempt failed before or without a response. */
  error: string | null;
  /** The start of the receiver's answer. */
  response: string | null;
}

/** What the store tells listeners in this process, and in others where the backend can (LISTEN/NOTIFY). */
export type StoreEvent =
  | { type: 'ready'; pools: string[] }
  | { type: 'cancelled'; jobId: string }
  | { type: 'job'; jobId: string; status: JobStatus };

export interface StoreCapabilities {
  dialect: 'sqlite' | 'postgres';
  /** Whether events reach other processes by themselves; if not, workers poll. */
  crossProcessEvents: boolean;
}

export interface Store {
  readonly capabilities: StoreCapabilities;

  /** Applies pending migrations; returns the versions applied. */
  migrate(): Promise<number[]>;
  close(): Promise<void>;

  /**
   * Inserts a job and its DAG, or returns the existing job with the same idempotency key (and its
   * fingerprint: whether it was the same request is the engine's to decide).
   */
  submitJob(job: NewJob, now: number): Promise<SubmittedJob>;
  /**
   * Reads by id take the tenant: a record of another tenant is not found. `null` reads across
   * tenants, for operator tools only; handlers pass their task's tenant.
   */
  getJob(jobId: string, tenantId: string | null): Promise<JobDetail | undefined>;
  listJobs(query: ListJobsQuery): Promise<JobSummary[]>;
  /** Outputs of the tasks a task depends on, by key (fan-in reads them). */
  dependencyOutputs(taskId: string): Promise<{ key: string; type: string; output: Json | null }[]>;

  claim(request: ClaimRequest): Promise<ClaimedTask[]>;
  heartbeat(beats: readonly Heartbeat[], leaseMs: number, now: number): Promise<LeaseOutcome[]>;
  complete(completions: readonly Completion[], now: number): Promise<LeaseOutcome[]>;
  fail(failures: readonly Failure[], now: number): Promise<LeaseOutcome[]>;
  /** Gives leases back without counting the attempt (graceful shutdown). */
  release(leases: readonly Lease[], now: number): Promise<void>;
  /** Expired leases: the task is ready again (the attempt counted) or dead when out of attempts. */
  reapExpiredLeases(now: number): Promise<number>;

  cancelJob(jobId: string, now: number, tenantId?: string): Promise<JobRecord | undefined>;
  /** Runs `step` and everything downstream again (and whatever did not succeed); upstream results stay. */
  retryJob(jobId: string, fromStep: string | undefined, now: number, tenantId?: string): Promise<JobRecord | undefined>;
  listDeadTasks(query: { tenantId?: string; limit: number }): Promise<DeadTask[]>;
  queueCounts(): Promise<QueueCount[]>;

  upsertWorker(worker: WorkerInfo): Promise<void>;
  removeWorker(workerId: string): Promise<void>;
  listWorkers(seenSince: number): Promise<WorkerInfo[]>;

  createTenant(tenant: Tenant): Promise<Tenant>;
  getTenant(tenantId: string): Promise<Tenant | undefined>;
  createApiKey(key: ApiKeyRecord, keyHash: string): Promise<void>;
  findApiKey(keyHash: string): Promise<ApiKeyRecord | undefined>;
  listApiKeys(tenantId?: string): Promise<ApiKeyRecord[]>;
  revokeApiKey(keyId: string, now: number): Promise<boolean>;

  createUpload(upload: UploadRecord): Promise<void>;
  getUpload(uploadId: string, tenantId: string): Promise<UploadRecord | undefined>;
  /** Removes an upload's record (its blob is the caller's to delete); false if the tenant has no such upload. */
  deleteUpload(uploadId: string, tenantId: string): Promise<boolean>;
  /** Records the job an upload became; false if it already became one (the caller reads which). */
  completeUpload(uploadId: string, jobId: string): Promise<boolean>;

  getTenantWebhook(tenantId: string): Promise<TenantWebhook | undefined>;
  /** Creates or replaces a tenant's endpoint settings (the secret included). */
  putTenantWebhook(webhook: TenantWebhook): Promise<TenantWebhook>;
  /** The tenant's signing secret, storing `candidate` first if it has none: every process agrees on one. */
  ensureTenantWebhookSecret(tenantId: string, candidate: string, now: number): Promise<string>;

  /** Inserts deliveries; an id that exists already is left as it is (a finaliser that ran twice). */
  createDeliveries(deliveries: readonly DeliveryRecord[]): Promise<void>;
  getDelivery(deliveryId: string, tenantId: string): Promise<DeliveryRecord | undefined>;
  listDeliveries(jobId: string, tenantId: string): Promise<(DeliveryRecord & { attemptLog: DeliveryAttempt[] })[]>;
  /** Logs an attempt (numbered after the last one) and sets the delivery's state; returns the attempt number. */
  recordDeliveryAttempt(deliveryId: string, attempt: Omit<DeliveryAttempt, 'attempt'>, state: DeliveryState): Promise<number>;
  /** Puts a delivery back to pending for a redelivery; false if there is no such delivery. */
  reopenDelivery(deliveryId: string, now: number): Promise<boolean>;

  /** Listens to store events; returns a function that stops listening. */
  subscribe(listener: (event: StoreEvent) => void): () => void;
}
