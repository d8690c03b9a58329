/**
 * A real Earshot HTTP API on 127.0.0.1: a store, a disk blob store in a temp dir, the engine with the
 * real pipelines plus a job kind that always fails, and a real worker, so jobs really run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createDiskBlobStore, type DiskBlobStore } from '../../src/adapters/blobs/disk/disk-blob-store.js';
import { buildHttpServer, createMetrics, type Metrics } from '../../src/api/http/index.js';
import type { Clock } from '../../src/core/clock.js';
import { permanent } from '../../src/core/errors.js';
import { Engine } from '../../src/engine/engine.js';
import { Registry } from '../../src/engine/registry.js';
import { Worker } from '../../src/engine/worker.js';
import { registerDiagnostics } from '../../src/pipelines/diagnostics/diagnostics.js';
import { silentLogger } from '../../src/ports/logger.js';
import type { Store } from '../../src/ports/store.js';

export const LOCAL_TENANT = 'local';
/** A job kind whose only task fails for good on its first attempt. */
export const FAILING_KIND = 'test.always_fails';

export function testRegistry(): Registry {
  const registry = new Registry();
  registerDiagnostics(registry);
  registry.defineJob({ kind: FAILING_KIND, plan: () => [{ key: 'break', type: 'test.broken' }] });
  registry.defineTask({
    type: 'test.broken',
    handler: async () => {
      throw permanent('unprocessable', 'broken on purpose', { why: 'test' });
    },
  });
  return registry;
}

export interface Api {
  base: string;
  store: Store;
  engine: Engine;
  blobs: DiskBlobStore;
  metrics: Metrics;
  close(): Promise<void>;
}

export interface ApiOptions {
  store: Store;
  authRequired?: boolean;
  /** Run a worker (default true). Several servers may share one store and one worker. */
  worker?: boolean;
  maxUploadBytes?: number;
  blobClock?: Clock;
  rateLimitPerMinute?: number;
}

export async function startApi(options: ApiOptions): Promise<Api> {
  const { store } = options;
  await store.createTenant({ id: LOCAL_TENANT, name: 'Local', createdAt: 0 });
  const registry = testRegistry();
  const engine = new Engine({ store, registry });
  const dir = mkdtempSync(join(tmpdir(), 'earshot-http-'));
  const blobs = createDiskBlobStore({
    rootDir: dir,
    publicBaseUrl: 'http://blobs.invalid',
    signingSecret: 'a-test-signing-secret-of-32-chars!',
    ...(options.blobClock ? { clock: options.blobClock } : {}),
  });
  const metrics = createMetrics({ store });
  const worker = options.worker === false ? undefined : new Worker({ store, registry, pools: ['cpu'], concurrency: 4, pollMs: 20, reapMs: 50 });
  if (worker) {
    metrics.observeWorker(worker);
    await worker.start();
  }
  const server = buildHttpServer({
    engine,
    store,
    blobs,
    logger: silentLogger,
    authRequired: options.authRequired ?? false,
    localTenant: LOCAL_TENANT,
    maxUploadBytes: options.maxUploadBytes ?? 1024 * 1024,
    metrics,
    version: '0.0.0-test',
    ...(options.rateLimitPerMinute ? { rateLimitPerMinute: options.rateLimitPerMinute } : {}),
  });
  await server.listen({ host: '127.0.0.1', port: 0 });
  const { port } = server.server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    store,
    engine,
    blobs,
    metrics,
    async close() {
      await server.close();
      await worker?.stop(1000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

/** One JSON request the way a client makes it. */
export async function call(base: string, method: string, path: string, options: { body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}), ...options.headers },
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  });
  const text = await res.text();
  const json = (res.headers.get('content-type') ?? '').includes('json') && text !== '' ? JSON.parse(text) : text;
  return { status: res.status, headers: res.headers, body: json };
}

/** Polls `check` (for conditions no event announces, like what a client sees over HTTP). */
export async function waitUntil(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
