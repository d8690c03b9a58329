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
/** A job kind only this process may submit (as a pipeline submits its own work). */
export const INTERNAL_KIND = 'test.internal';

export function testRegistry(): Registry {
  const registry = new Registry();
  registerDiagnostics(registry);
  registry.defineJob({ kind: FAILING_KIND, public: true, plan: () => [{ key: 'break', type: 'test.broken' }] });
  registry.defineJob({ kind: INTERNAL_KIND, public: false, plan: () => [{ key: 'break', type: 'test.broken' }] });
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
  /** The store, counting its subscriptions. */
  store: Store;
  /** Store listeners now open (workers' and event streams'). */
  subscriptions(): number;
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
  authFailuresPerMinute?: number;
}

/** The store with `subscribe` counted, to see that nothing leaks listeners. */
export function countingSubscriptions(inner: Store): { store: Store; count(): number } {
  let open = 0;
  const subscribe: Store['subscribe'] = (listener) => {
    const unsubscribe = inner.subscribe(listener);
    open++;
    let done = false;
    return () => {
      if (!done) open--;
      done = true;
      unsubscribe();
    };
  };
  const store = new Proxy(inner, {
    get(target, prop) {
      if (prop === 'subscribe') return subscribe;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { store, count: () => open };
}

export async function startApi(options: ApiOptions): Promise<Api> {
  const { store, count } = countingSubscriptions(options.store);
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
    eventPollMs: 50,
    ...(options.rateLimitPerMinute ? { rateLimitPerMinute: options.rateLimitPerMinute } : {}),
    ...(options.authFailuresPerMinute ? { authFailuresPerMinute: options.authFailuresPerMinute } : {}),
  });
  await server.listen({ host: '127.0.0.1', port: 0 });
  const { port } = server.server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    store,
    subscriptions: count,
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

export interface SseEvent {
  id: string;
  event: string;
  data: any;
}

/** An open event stream: its events one by one, as a client reads them. */
export interface EventStream {
  status: number;
  headers: Headers;
  /** The raw text so far (comments and `retry:` included). */
  text(): string;
  /** The next event; rejects if none comes within `timeoutMs`, resolves undefined when the stream ends. */
  next(timeoutMs?: number): Promise<SseEvent | undefined>;
  /** Every event until the stream ends. */
  rest(timeoutMs?: number): Promise<SseEvent[]>;
  close(): void;
}

/** Opens `GET path` as text/event-stream. A test-side parser, independent of the CLI's. */
export async function openEvents(base: string, path: string, headers: Record<string, string> = {}): Promise<EventStream> {
  const controller = new AbortController();
  const res = await fetch(`${base}${path}`, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
  let raw = '';
  let buffer = '';
  const queue: SseEvent[] = [];
  let ended = false;
  let notify: (() => void) | undefined;
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const chunk = decoder.decode(value, { stream: true });
        raw += chunk;
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = Object.fromEntries(block.split('\n').filter((l) => !l.startsWith(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));
          if (fields.data !== undefined) queue.push({ id: fields.id ?? '', event: fields.event ?? 'message', data: JSON.parse(fields.data) });
          notify?.();
        }
      }
    } catch {}
    ended = true;
    notify?.();
  })();
  const next = async (timeoutMs = 10_000): Promise<SseEvent | undefined> => {
    const deadline = Date.now() + timeoutMs;
    while (queue.length === 0 && !ended) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no event in time');
      await new Promise<void>((r) => {
        const timer = setTimeout(r, left);
        notify = () => (clearTimeout(timer), r());
      });
      notify = undefined;
    }
    return queue.shift();
  };
  return {
    status: res.status,
    headers: res.headers,
    text: () => raw,
    next,
    async rest(timeoutMs = 20_000) {
      const all: SseEvent[] = [];
      for (let e = await next(timeoutMs); e; e = await next(timeoutMs)) all.push(e);
      return all;
    },
    close: () => controller.abort(),
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
