/**
 * The engine benchmark's three measurements, each on its own pool so one never sees another's tasks:
 * no-op throughput with single-task jobs, no-op throughput through a fan-out/fan-in DAG, and how long
 * an idle worker takes to start a task after it is submitted (the wake-up path, not the poll).
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TaskSpec } from '../src/core/job.js';
import { Engine } from '../src/engine/engine.js';
import { Registry, type TaskHandler } from '../src/engine/registry.js';
import { Worker, type TaskFinished } from '../src/engine/worker.js';
import type { Store } from '../src/ports/store.js';
import type { BenchBackend } from './engine-backends.js';

const TENANT = 'bench';

export interface WorkerShape {
  workers: number;
  concurrency: number;
  claimBatch: number;
}

export interface ThroughputResult {
  jobs: number;
  tasks: number;
  /** From starting the workers until every job has succeeded. */
  seconds: number;
  tasksPerSecond: number;
}

export interface SubmitResult {
  jobs: number;
  parallel: number;
  seconds: number;
  jobsPerSecond: number;
}

export interface LatencyResult {
  samples: number;
  gapMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
}

/** N single-task no-op jobs, all submitted before any worker starts. */
export async function singleTaskThroughput(
  backend: BenchBackend,
  options: { jobs: number; shape: WorkerShape; submitParallel: number },
): Promise<{ submit: SubmitResult; run: ThroughputResult }> {
  const pool = 'bench_single';
  const registry = new Registry().defineTask({ type: 'noop', pool, handler: async () => null });
  const engine = new Engine({ store: backend.store, registry });
  const tasks: TaskSpec[] = [{ key: 'noop', type: 'noop' }];
  const submitted = await submitAll(engine, options.jobs, options.submitParallel, () => tasks);
  const run = await runToCompletion(backend, registry, pool, options.shape, submitted.jobIds, options.jobs);
  return { submit: submitted.result, run };
}

/** Jobs of plan → `width` chunks → merge: plan spawns the chunks at run time, each blocking merge. */
export async function fanOutThroughput(
  backend: BenchBackend,
  options: { jobs: number; width: number; shape: WorkerShape; submitParallel: number },
): Promise<ThroughputResult> {
  const pool = 'bench_fanout';
  const plan: TaskHandler = async (ctx) => {
    ctx.spawn(Array.from({ length: options.width }, (_, i) => ({ key: `chunk-${i}`, type: 'chunk', input: i, blocks: ['merge'] })));
    return null;
  };
  // merge reads its inputs as a real fan-in would; it is one query per job.
  const merge: TaskHandler = async (ctx) => (await ctx.dependencyOutputs()).length;
  const registry = new Registry()
    .defineTask({ type: 'plan', pool, handler: plan })
    .defineTask({ type: 'chunk', pool, handler: async () => null })
    .defineTask({ type: 'merge', pool, handler: merge });
  const engine = new Engine({ store: backend.store, registry });
  const tasks: TaskSpec[] = [
    { key: 'plan', type: 'plan' },
    { key: 'merge', type: 'merge', dependsOn: ['plan'] },
  ];
  const { jobIds } = await submitAll(engine, options.jobs, options.submitParallel, () => tasks);
  return runToCompletion(backend, registry, pool, options.shape, jobIds, options.jobs * (options.width + 2));
}

/**
 * Idle workers (a long poll, so only a wake-up can start a task quickly); jobs submitted one at a
 * time, `gapMs` apart; latency from just before submit to the first line of the handler.
 */
export async function wakeUpLatency(
  backend: BenchBackend,
  options: { samples: number; warmup: number; gapMs: number; shape: WorkerShape; pollMs: number },
): Promise<LatencyResult> {
  const pool = 'bench_wake';
  const arrivals = new Map<number, (atMs: number) => void>();
  const registry = new Registry().defineTask({
    type: 'ping',
    pool,
    handler: async (ctx) => {
      arrivals.get(ctx.task.input as number)?.(performance.now());
      return null;
    },
  });
  const engine = new Engine({ store: backend.store, registry });
  const workers = await startWorkers(backend.store, registry, pool, options.shape, options.pollMs);
  await backend.listening();
  const latencies: number[] = [];
  try {
    for (let i = 0; i < options.warmup + options.samples; i++) {
      const started = new Promise<number>((resolve) => arrivals.set(i, resolve));
      const t0 = performance.now();
      await engine.submit({ tenantId: TENANT, kind: 'bench', input: {}, tasks: [{ key: 'ping', type: 'ping', input: i }] });
      const latency = (await withTimeout(started, 10_000, `wake-up ${i}`)) - t0;
      arrivals.delete(i);
      if (i >= options.warmup) latencies.push(latency);
      await sleep(options.gapMs);
    }
  } finally {
    await stopWorkers(workers);
  }
  return { samples: latencies.length, gapMs: options.gapMs, ...summarise(latencies) };
}

// ---- the pieces ----

/** Submits `count` jobs from `parallel` concurrent submitters. */
async function submitAll(
  engine: Engine,
  count: number,
  parallel: number,
  tasks: () => TaskSpec[],
): Promise<{ jobIds: Set<string>; result: SubmitResult }> {
  const jobIds = new Set<string>();
  let next = 0;
  const submitter = async () => {
    while (next < count) {
      next++;
      const { job } = await engine.submit({ tenantId: TENANT, kind: 'bench', input: {}, tasks: tasks() });
      jobIds.add(job.id);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, submitter));
  const seconds = (performance.now() - t0) / 1000;
  return { jobIds, result: { jobs: count, parallel, seconds, jobsPerSecond: count / seconds } };
}

/** Starts workers on pre-submitted jobs and times them until every job succeeded and every task reported. */
async function runToCompletion(
  backend: BenchBackend,
  registry: Registry,
  pool: string,
  shape: WorkerShape,
  jobIds: ReadonlySet<string>,
  expectedTasks: number,
): Promise<ThroughputResult> {
  const workers = createWorkers(backend.store, registry, pool, shape, 1000);
  const done = allSucceeded(backend.store, workers, jobIds, expectedTasks);
  const t0 = performance.now();
  try {
    await Promise.all(workers.map((w) => w.start()));
    await withTimeout(done.promise, 600_000, `${backend.name} ${pool}`);
  } finally {
    done.stop();
    await stopWorkers(workers);
  }
  const seconds = (performance.now() - t0) / 1000;
  await assertDrained(backend.store, pool);
  return { jobs: jobIds.size, tasks: expectedTasks, seconds, tasksPerSecond: expectedTasks / seconds };
}

/**
 * Resolves when the store has announced every job as succeeded (its 'job' events) and the workers
 * have reported every task; rejects on any other outcome.
 */
function allSucceeded(store: Store, workers: readonly Worker[], jobIds: ReadonlySet<string>, expectedTasks: number) {
  let jobsLeft = jobIds.size;
  let tasksLeft = expectedTasks;
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  const check = () => {
    if (jobsLeft === 0 && tasksLeft === 0) resolve();
  };
  const unsubscribe = store.subscribe((e) => {
    if (e.type !== 'job' || !jobIds.has(e.jobId) || e.status === 'running' || e.status === 'queued') return;
    if (e.status !== 'succeeded') return reject(new Error(`job ${e.jobId} ${e.status}`));
    jobsLeft--;
    check();
  });
  const onTask = (f: TaskFinished) => {
    if (f.outcome !== 'succeeded') return reject(new Error(`task ${f.taskId} (${f.type}) ${f.outcome}: ${f.error?.message ?? ''}`));
    tasksLeft--;
    check();
  };
  for (const w of workers) w.on('task', onTask);
  return {
    promise,
    stop() {
      unsubscribe();
      for (const w of workers) w.off('task', onTask);
    },
  };
}

function createWorkers(store: Store, registry: Registry, pool: string, shape: WorkerShape, pollMs: number): Worker[] {
  return Array.from(
    { length: shape.workers },
    () => new Worker({ store, registry, pools: [pool], concurrency: shape.concurrency, claimBatch: shape.claimBatch, pollMs }),
  );
}

async function startWorkers(store: Store, registry: Registry, pool: string, shape: WorkerShape, pollMs: number): Promise<Worker[]> {
  const workers = createWorkers(store, registry, pool, shape, pollMs);
  await Promise.all(workers.map((w) => w.start()));
  return workers;
}

async function stopWorkers(workers: readonly Worker[]): Promise<void> {
  await Promise.all(workers.map((w) => w.stop(5000)));
}

/** A last check that the run did what it claims: nothing of the pool is left unfinished. */
async function assertDrained(store: Store, pool: string): Promise<void> {
  const left = (await store.queueCounts()).filter((c) => c.pool === pool).reduce((n, c) => n + c.count, 0);
  if (left > 0) throw new Error(`${left} tasks of pool ${pool} are still unfinished`);
}

function summarise(values: readonly number[]): { p50Ms: number; p99Ms: number; maxMs: number; meanMs: number } {
  const sorted = [...values].sort((a, b) => a - b);
  // Nearest-rank percentile.
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
  return { p50Ms: at(0.5), p99Ms: at(0.99), maxMs: at(1), meanMs: mean };
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
