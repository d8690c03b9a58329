/**
 * Prometheus metrics on a registry of our own (never prom-client's global one, so several servers in
 * one process, as in tests, do not collide). Queue depth and live workers are read from the store at
 * scrape time, so every API process reports the whole deployment; task counters come from the
 * workers of this process.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { systemClock, type Clock } from '../../core/clock.js';
import type { TaskFinished, Worker } from '../../engine/worker.js';
import { silentLogger, type Logger } from '../../ports/logger.js';
import type { Store } from '../../ports/store.js';

export interface Metrics {
  readonly registry: Registry;
  /** Counts the worker's finished tasks; returns a function that stops listening. */
  observeWorker(worker: Worker): () => void;
  observeHttpRequest(method: string, route: string, status: number): void;
  /** The exposition text and its content type. */
  render(): Promise<{ contentType: string; body: string }>;
}

export interface MetricsOptions {
  store: Store;
  /** Default the system clock. */
  clock?: Clock;
  logger?: Logger;
  /** A worker not seen for this long is not counted. Default 60000 ms. */
  workerSeenWithinMs?: number;
}

export function createMetrics(options: MetricsOptions): Metrics {
  const { store } = options;
  const clock = options.clock ?? systemClock;
  const log = options.logger ?? silentLogger;
  const seenWithinMs = options.workerSeenWithinMs ?? 60_000;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  // A failed store read leaves the gauge empty rather than failing the scrape, so process metrics
  // still arrive while the database is down.
  new Gauge({
    name: 'earshot_queue_depth',
    help: 'Unfinished tasks by pool and state (waiting, ready, running, retry_wait).',
    labelNames: ['pool', 'state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      try {
        for (const c of await store.queueCounts()) this.set({ pool: c.pool, state: c.state }, c.count);
      } catch (err) {
        log.warn({ err }, 'metrics: could not read queue depth');
      }
    },
  });
  new Gauge({
    name: 'earshot_workers',
    help: 'Workers that reported within the last minute, by pool (a worker counts in each of its pools).',
    labelNames: ['pool'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      try {
        const perPool = new Map<string, number>();
        for (const w of await store.listWorkers(clock.now() - seenWithinMs)) for (const p of w.pools) perPool.set(p, (perPool.get(p) ?? 0) + 1);
        for (const [pool, n] of perPool) this.set({ pool }, n);
      } catch (err) {
        log.warn({ err }, 'metrics: could not read workers');
      }
    },
  });
  const tasks = new Counter({
    name: 'earshot_tasks_total',
    help: 'Task attempts finished by workers of this process, by outcome (succeeded, retry, dead, cancelled, lost).',
    labelNames: ['type', 'pool', 'outcome'] as const,
    registers: [registry],
  });
  const durations = new Histogram({
    name: 'earshot_task_duration_seconds',
    help: 'Duration of task attempts run by workers of this process.',
    labelNames: ['type', 'pool'] as const,
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800, 7200],
    registers: [registry],
  });
  const requests = new Counter({
    name: 'earshot_http_requests_total',
    help: 'HTTP requests answered, by route template and status.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });

  return {
    registry,
    observeWorker(worker) {
      const onTask = (f: TaskFinished) => {
        tasks.inc({ type: f.type, pool: f.pool, outcome: f.outcome });
        durations.observe({ type: f.type, pool: f.pool }, f.durationMs / 1000);
      };
      worker.on('task', onTask);
      return () => worker.off('task', onTask);
    },
    observeHttpRequest(method, route, status) {
      requests.inc({ method, route, status: String(status) });
    },
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
