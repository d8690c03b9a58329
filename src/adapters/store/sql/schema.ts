import type { Migration } from './driver.js';

/** Column types that differ between the two databases; everything else is shared DDL. */
export interface SchemaTypes {
  /** ms timestamps and counters. */
  bigint: string;
  /** The tasks table's insertion-order key. */
  serialKey: string;
}

/** Versioned migrations, one list for both databases. Add new versions at the end; never edit old ones. */
export function migrations(t: SchemaTypes): Migration[] {
  return [
    {
      version: 1,
      name: 'engine',
      sql: `
CREATE TABLE tenants (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  created_at ${t.bigint} NOT NULL
);
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants (id),
  name TEXT NOT NULL,
  prefix TEXT NOT NULL,
  key_hash TEXT NOT NULL UNIQUE,
  created_at ${t.bigint} NOT NULL,
  revoked_at ${t.bigint}
);
CREATE TABLE jobs (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  status TEXT NOT NULL,
  priority INTEGER NOT NULL,
  idempotency_key TEXT,
  input TEXT NOT NULL,
  error TEXT,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  created_at ${t.bigint} NOT NULL,
  updated_at ${t.bigint} NOT NULL,
  started_at ${t.bigint},
  finished_at ${t.bigint},
  UNIQUE (tenant_id, idempotency_key)
);
CREATE INDEX jobs_tenant_id ON jobs (tenant_id, id);
CREATE INDEX jobs_status ON jobs (status, id);
CREATE TABLE tasks (
  seq ${t.serialKey},
  id TEXT NOT NULL UNIQUE,
  job_id TEXT NOT NULL,
  key TEXT NOT NULL,
  type TEXT NOT NULL,
  pool TEXT NOT NULL,
  priority INTEGER NOT NULL,
  state TEXT NOT NULL,
  deps_remaining INTEGER NOT NULL,
  always_run INTEGER NOT NULL,
  spawned_by TEXT,
  attempts INTEGER NOT NULL,
  max_attempts INTEGER NOT NULL,
  run_at ${t.bigint} NOT NULL,
  lease_owner TEXT,
  lease_token TEXT,
  lease_expires_at ${t.bigint},
  input TEXT NOT NULL,
  output TEXT,
  progress TEXT,
  errors TEXT NOT NULL,
  created_at ${t.bigint} NOT NULL,
  updated_at ${t.bigint} NOT NULL,
  started_at ${t.bigint},
  finished_at ${t.bigint},
  UNIQUE (job_id, key)
);
CREATE INDEX tasks_claimable ON tasks (pool, priority DESC, seq) WHERE state IN ('ready', 'retry_wait');
CREATE INDEX tasks_leased ON tasks (lease_expires_at) WHERE state = 'running';
CREATE INDEX tasks_dead ON tasks (finished_at) WHERE state = 'dead';
CREATE INDEX tasks_queue ON tasks (state, pool) WHERE state IN ('waiting', 'ready', 'running', 'retry_wait');
CREATE TABLE task_deps (
  task_id TEXT NOT NULL,
  depends_on TEXT NOT NULL,
  PRIMARY KEY (task_id, depends_on)
);
CREATE INDEX task_deps_depends_on ON task_deps (depends_on);
CREATE TABLE workers (
  id TEXT PRIMARY KEY,
  pools TEXT NOT NULL,
  hostname TEXT NOT NULL,
  pid INTEGER NOT NULL,
  concurrency INTEGER NOT NULL,
  started_at ${t.bigint} NOT NULL,
  last_seen_at ${t.bigint} NOT NULL
)`,
    },
    {
      version: 2,
      name: 'uploads',
      sql: `
CREATE TABLE uploads (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  blob_key TEXT NOT NULL,
  filename TEXT,
  content_type TEXT,
  size_bytes ${t.bigint},
  job_id TEXT,
  created_at ${t.bigint} NOT NULL,
  expires_at ${t.bigint} NOT NULL
);
CREATE INDEX uploads_expires ON uploads (expires_at)`,
    },
    {
      version: 3,
      name: 'notifications',
      sql: `
CREATE TABLE tenant_webhooks (
  tenant_id TEXT PRIMARY KEY,
  url TEXT,
  events TEXT NOT NULL,
  secret TEXT NOT NULL,
  previous_secret TEXT,
  previous_expires_at ${t.bigint},
  created_at ${t.bigint} NOT NULL,
  updated_at ${t.bigint} NOT NULL
);
CREATE TABLE deliveries (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  job_id TEXT NOT NULL,
  channel TEXT NOT NULL,
  event TEXT NOT NULL,
  target TEXT NOT NULL,
  payload TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  created_at ${t.bigint} NOT NULL,
  updated_at ${t.bigint} NOT NULL,
  delivered_at ${t.bigint}
);
CREATE INDEX deliveries_job ON deliveries (job_id, created_at);
CREATE TABLE delivery_attempts (
  delivery_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  at ${t.bigint} NOT NULL,
  duration_ms INTEGER NOT NULL,
  ok INTEGER NOT NULL,
  status_code INTEGER,
  error TEXT,
  response TEXT,
  PRIMARY KEY (delivery_id, attempt)
)`,
    },
    {
      version: 4,
      name: 'idempotency fingerprints',
      // What each idempotency key was used for, so a key reused for another request is refused.
      sql: `ALTER TABLE jobs ADD COLUMN request_fingerprint TEXT`,
    },
  ];
}
