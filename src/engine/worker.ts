import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { systemClock, type Clock } from '../core/clock.js';
import { EarshotError, permanent, toErrorInfo, type ErrorInfo } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { Json, SpawnSpec } from '../core/job.js';
import { backoffDelayMs, defaultRetryPolicy } from '../core/retry.js';
import { silentLogger, type Logger } from '../ports/logger.js';
import type { ClaimedTask, Completion, Failure, LeaseOutcome, Store, StoreEvent } from '../ports/store.js';
import type { Registry, TaskContext } from './registry.js';
import { isOutage, StoreOutage } from './store-outage.js';

export interface WorkerOptions {
  store: Store;
  registry: Registry;
  /** Pools this worker takes tasks from. */
  pools: readonly string[];
  /** Tasks run at once. Default 4. */
  concurrency?: number;
  /** Lease length. Default 30000 ms. */
  leaseMs?: number;
  /** Lease renewal period. Default a third of the lease. */
  heartbeatMs?: number;
  /** How often to look for work without being woken (delayed retries, other processes). Default 1000 ms. */
  pollMs?: number;
  /** How often to hand expired leases to other workers. Default 1000 ms. */
  reapMs?: number;
  /** Most tasks claimed in one query. Default: the concurrency. */
  claimBatch?: number;
  /** While the store is unavailable, the longest wait between tries (the wait doubles up to it from 250 ms). Default 5000 ms. */
  maxOutageRetryMs?: number;
  clock?: Clock;
  logger?: Logger;
  workerId?: string;
  /** Jitter source, in [0, 1). */
  random?: () => number;
}

export interface TaskFinished {
  taskId: string;
  jobId: string;
  tenantId: string;
  jobKind: string;
  jobInput: Json;
  type: string;
  pool: string;
  outcome: 'succeeded' | 'retry' | 'dead' | 'cancelled' | 'lost';
  durationMs: number;
  error?: ErrorInfo;
}

type AbortReason = 'cancelled' | 'lost' | 'shutdown';

interface Running {
  task: ClaimedTask;
  controller: AbortController;
  startedMs: number;
  progress: Json | undefined;
  /** A result (success or failure) was queued for the store. */
  settled: boolean;
  done: Promise<void>;
}

/**
 * Claims tasks from its pools and runs their handlers: batched claims, batched completions (one
 * transaction settles many tasks), lease renewal in one statement batch, fencing by lease token, and
 * graceful shutdown. Emits 'claimed' (ClaimedTask[]) and 'task' (TaskFinished) for metrics and tests.
 */
export class Worker extends EventEmitter {
  readonly id: string;
  private readonly store: Store;
  private readonly registry: Registry;
  private readonly pools: readonly string[];
  private readonly concurrency: number;
  private readonly leaseMs: number;
  private readonly heartbeatMs: number;
  private readonly pollMs: number;
  private readonly reapMs: number;
  private readonly claimBatch: number;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly random: () => number;
  private readonly running = new Map<string, Running>();
  private readonly completions: Completion[] = [];
  private readonly failures: Failure[] = [];
  private readonly finishing = new Map<string, TaskFinished>();
  private timers: NodeJS.Timeout[] = [];
  private unsubscribe: (() => void) | undefined;
  private claiming = false;
  private claimAgain = false;
  private kickScheduled = false;
  private flushing: Promise<void> | undefined;
  private stopping = false;
  private started = false;
  private readonly startedAt: number;
  private readonly outage: StoreOutage;

  constructor(options: WorkerOptions) {
    super();
    this.store = options.store;
    this.registry = options.registry;
    this.pools = options.pools;
    this.concurrency = options.concurrency ?? 4;
    this.leaseMs = options.leaseMs ?? 30_000;
    this.heartbeatMs = options.heartbeatMs ?? Math.floor(this.leaseMs / 3);
    this.pollMs = options.pollMs ?? 1000;
    this.reapMs = options.reapMs ?? 1000;
    this.claimBatch = options.claimBatch ?? this.concurrency;
    this.clock = options.clock ?? systemClock;
    this.id = options.workerId ?? newId('wrk');
    this.log = (options.logger ?? silentLogger).child({ worker_id: this.id });
    this.random = options.random ?? Math.random;
    this.startedAt = this.clock.now();
    this.outage = new StoreOutage({ clock: this.clock, log: this.log, initialMs: 250, maxMs: options.maxOutageRetryMs ?? 5000, random: this.random });
  }

  get activeCount(): number {
    return this.running.size;
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.unsubscribe = this.store.subscribe((e) => this.onEvent(e));
    await this.register();
    const every = (ms: number, fn: () => Promise<unknown>) => {
      // Not unref'd: a started worker keeps its process alive until stop(). While the store is down,
      // a timer waits out the backoff; the outage itself is logged once, by the tracker.
      const tick = () => {
        if (!this.outage.due()) return;
        void fn().catch((err: unknown) => {
          if (!isOutage(err)) this.log.warn({ err }, 'worker timer failed');
        });
      };
      this.timers.push(setInterval(tick, ms));
    };
    every(this.pollMs, async () => this.kick());
    every(this.heartbeatMs, () => this.renewLeases());
    every(this.reapMs, () => this.tracked(() => this.store.reapExpiredLeases(this.clock.now())));
    this.log.info({ pools: this.pools, concurrency: this.concurrency }, 'worker started');
    this.kick();
  }

  /**
   * Stops claiming, lets running tasks finish for up to `graceMs`, then aborts the rest and gives
   * their leases back so another worker takes them at once.
   */
  async stop(graceMs = 30_000): Promise<void> {
    if (!this.started || this.stopping) return;
    this.stopping = true;
    this.unsubscribe?.();
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    const heartbeat = setInterval(() => void this.renewLeases().catch(() => {}), this.heartbeatMs);
    await waitAtMost(Promise.all([...this.running.values()].map((r) => r.done)), graceMs);
    clearInterval(heartbeat);
    const aborted = [...this.running.values()];
    for (const r of aborted) r.controller.abort('shutdown' satisfies AbortReason);
    // Handlers that ignore their signal are not waited for beyond a short while.
    await waitAtMost(Promise.all(aborted.map((r) => r.done)), Math.min(5000, graceMs));
    await this.flush();
    const left = aborted.filter((r) => !r.settled);
    if (left.length > 0) {
      try {
        await this.store.release(left.map((r) => ({ taskId: r.task.id, leaseToken: r.task.leaseToken })), this.clock.now());
        this.log.info({ released: left.length }, 'released unfinished tasks');
      } catch (err) {
        // Their leases run out instead, and another worker takes them then.
        this.log.warn({ err, unreleased: left.length }, 'could not release unfinished tasks');
      }
    }
    await this.store.removeWorker(this.id).catch(() => {});
    this.log.info('worker stopped');
  }

  /** Looks for work now. */
  kick(): void {
    if (this.stopping || !this.started || !this.outage.due()) return;
    if (this.claiming) {
      this.claimAgain = true;
      return;
    }
    this.claiming = true;
    void this.claimLoop()
      .catch((err: unknown) => {
        if (!this.outage.failed(err)) this.log.warn({ err }, 'claim failed');
      })
      .finally(() => {
        this.claiming = false;
        if (this.claimAgain) {
          this.claimAgain = false;
          this.kick();
        }
      });
  }

  /**
   * Kicks once the current burst of finishing handlers has freed its slots, so they are claimed in one
   * batch rather than one at a time.
   */
  private kickSoon(): void {
    if (this.kickScheduled) return;
    this.kickScheduled = true;
    setImmediate(() => {
      this.kickScheduled = false;
      this.kick();
    });
  }

  private async claimLoop(): Promise<void> {
    while (!this.stopping) {
      this.claimAgain = false;
      const free = this.concurrency - this.running.size;
      if (free <= 0) return;
      const limit = Math.min(free, this.claimBatch);
      const tasks = await this.store.claim({ workerId: this.id, pools: this.pools, limit, leaseMs: this.leaseMs, now: this.clock.now() });
      this.outage.ok();
      for (const task of tasks) this.execute(task);
      if (tasks.length > 0) this.emit('claimed', tasks);
      if (tasks.length < limit) return;
    }
  }

  private onEvent(e: StoreEvent): void {
    // An event came through the store, so it answers again (PostgreSQL announces a reconnected listener this way).
    if (this.outage.down) this.outage.retryNow();
    if (e.type === 'ready' && e.pools.some((p) => p === '*' || this.pools.includes(p))) this.kick();
    if (e.type === 'cancelled') {
      for (const r of this.running.values()) if (r.task.jobId === e.jobId) r.controller.abort('cancelled' satisfies AbortReason);
    }
  }

  private execute(task: ClaimedTask): void {
    const controller = new AbortController();
    const entry: Running = { task, controller, startedMs: this.clock.now(), progress: undefined, settled: false, done: Promise.resolve() };
    this.running.set(task.id, entry);
    entry.done = this.runHandler(entry).finally(() => {
      this.running.delete(task.id);
      // Claim into the free slot while the result is being saved, not after (the two overlap on
      // PostgreSQL); and kick again once it is saved, for the tasks its completion made ready.
      this.kickSoon();
      void this.flush().finally(() => this.kick());
    });
  }

  private async runHandler(entry: Running): Promise<void> {
    const { task, controller } = entry;
    const log = this.log.child({ job_id: task.jobId, task_id: task.id, task_type: task.type, attempt: task.attempt });
    const spawned: SpawnSpec[] = [];
    const ctx: TaskContext = {
      task,
      signal: controller.signal,
      log,
      clock: this.clock,
      progress: (p) => {
        entry.progress = p;
      },
      spawn: (s) => {
        spawned.push(...(Array.isArray(s) ? s : [s as SpawnSpec]));
      },
      dependencyOutputs: () => this.store.dependencyOutputs(task.id),
    };
    try {
      const def = this.registry.task(task.type);
      if (!def) throw permanent('unknown_task_type', `no handler for task type "${task.type}" on this worker`);
      const output = await def.handler(ctx);
      // A handler that finished during shutdown keeps its result; a cancelled or lost one does not.
      if (controller.signal.aborted && controller.signal.reason !== 'shutdown') throw new EarshotError('cancelled', 'the task was aborted');
      entry.settled = true;
      this.completions.push({
        taskId: task.id,
        leaseToken: task.leaseToken,
        output: output ?? null,
        ...(spawned.length > 0 ? { spawn: spawned.map((s) => ({ ...s, id: newId('task'), ...this.registry.resolve(s) })) } : {}),
      });
      this.finishing.set(task.id, this.finished(entry, 'succeeded'));
    } catch (err) {
      const reason = controller.signal.aborted ? (controller.signal.reason as AbortReason) : undefined;
      if (reason === 'lost' || reason === 'shutdown') {
        // Someone else owns the task now (or will, once the lease is released): report nothing.
        if (reason === 'lost') this.emit('task', this.finished(entry, 'lost'));
        return;
      }
      const error: ErrorInfo =
        reason === 'cancelled' ? { code: 'cancelled', message: 'the job was cancelled', retryable: false } : toErrorInfo(err);
      const policy = this.registry.task(task.type)?.retry ?? defaultRetryPolicy;
      const retry = error.retryable && task.attempt < task.maxAttempts;
      // A service that said when to come back (429 Retry-After) is not asked earlier than that.
      const delayMs = Math.max(backoffDelayMs(policy, task.attempt, this.random()), error.retryAfterMs ?? 0);
      const retryAt = retry ? this.clock.now() + delayMs : null;
      log.warn({ err: error, retry_at: retryAt }, retry ? 'task failed; will retry' : 'task failed');
      entry.settled = true;
      this.failures.push({ taskId: task.id, leaseToken: task.leaseToken, error, retryAt });
      this.finishing.set(task.id, this.finished(entry, reason === 'cancelled' ? 'cancelled' : retry ? 'retry' : 'dead', error));
    }
  }

  private finished(entry: Running, outcome: TaskFinished['outcome'], error?: ErrorInfo): TaskFinished {
    const t = entry.task;
    return { taskId: t.id, jobId: t.jobId, tenantId: t.tenantId, jobKind: t.jobKind, jobInput: t.jobInput, type: t.type, pool: t.pool, outcome, durationMs: this.clock.now() - entry.startedMs, ...(error ? { error } : {}) };
  }

  /** Settles finished tasks in as few transactions as possible; one flush at a time. */
  private flush(): Promise<void> {
    if (this.flushing) return this.flushing.then(() => (this.completions.length + this.failures.length > 0 ? this.flush() : undefined));
    if (this.completions.length + this.failures.length === 0) return Promise.resolve();
    this.flushing = this.flushNow().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async flushNow(): Promise<void> {
    while (this.completions.length + this.failures.length > 0) {
      const completions = this.completions.splice(0);
      const failures = this.failures.splice(0);
      const now = this.clock.now();
      try {
        await this.tracked(async () => {
          await this.settleCompletions(completions, failures, now);
          this.report(failures, await this.store.fail(failures, now));
        });
      } catch (err) {
        // The store is unreachable: keep the results and try again; the leases are still renewed meanwhile.
        this.completions.unshift(...completions);
        this.failures.unshift(...failures);
        if (isOutage(err)) await this.outage.untilDue();
        else {
          this.log.error({ err }, 'could not settle tasks; will retry');
          await new Promise((r) => setTimeout(r, 500));
        }
        if (this.stopping && this.running.size === 0) return;
      }
    }
  }

  /**
   * All completions in one transaction. A completion that spawns tasks can be refused (a bad DAG);
   * then the others go together and each spawning one alone, so one cannot sink the batch, and a
   * refused one becomes a failure.
   */
  private async settleCompletions(completions: Completion[], failures: Failure[], now: number): Promise<void> {
    const spawning = completions.filter((c) => c.spawn);
    if (spawning.length > 0 && completions.length > 1) {
      try {
        this.report(completions, await this.store.complete(completions, now));
        return;
      } catch (err) {
        if (!(err instanceof EarshotError)) throw err;
      }
    }
    this.report(
      completions.filter((c) => !c.spawn),
      await this.store.complete(completions.filter((c) => !c.spawn), now),
    );
    for (const c of spawning) {
      try {
        this.report([c], await this.store.complete([c], now));
      } catch (err) {
        if (!(err instanceof EarshotError)) throw err;
        failures.push({ taskId: c.taskId, leaseToken: c.leaseToken, error: err.toInfo(), retryAt: null });
      }
    }
  }

  /** Tells listeners how each settled task ended. */
  private report(items: readonly { taskId: string }[], outcomes: readonly LeaseOutcome[]): void {
    items.forEach((c, i) => {
      const info = this.finishing.get(c.taskId);
      this.finishing.delete(c.taskId);
      if (info) this.emit('task', outcomes[i] === 'lost' ? { ...info, outcome: 'lost' } : info);
      if (outcomes[i] === 'lost') this.log.warn({ task_id: c.taskId }, 'lease lost before the task was settled; result dropped');
    });
  }

  /** Runs a store call and tells the outage tracker how it went. */
  private async tracked<T>(call: () => Promise<T>): Promise<T> {
    try {
      const result = await call();
      this.outage.ok();
      return result;
    } catch (err) {
      this.outage.failed(err);
      throw err;
    }
  }

  private async renewLeases(): Promise<void> {
    const now = this.clock.now();
    await this.tracked(() => this.register(now));
    const entries = [...this.running.values()].filter((r) => !r.controller.signal.aborted);
    if (entries.length === 0) return;
    const outcomes = await this.tracked(() =>
      this.store.heartbeat(
        entries.map((r) => ({ taskId: r.task.id, leaseToken: r.task.leaseToken, ...(r.progress !== undefined ? { progress: r.progress } : {}) })),
        this.leaseMs,
        now,
      ),
    );
    outcomes.forEach((o, i) => {
      const r = entries[i]!;
      // A renewal that crossed the task's own completion finds no lease: nothing was lost.
      if (r.settled || !this.running.has(r.task.id)) return;
      if (o === 'lost') {
        this.log.warn({ job_id: r.task.jobId, task_id: r.task.id }, 'lease lost; aborting the task');
        r.controller.abort('lost' satisfies AbortReason);
      } else if (o === 'cancelled') r.controller.abort('cancelled' satisfies AbortReason);
    });
  }

  private register(now = this.clock.now()): Promise<void> {
    return this.store.upsertWorker({
      id: this.id,
      pools: [...this.pools],
      hostname: hostname(),
      pid: process.pid,
      concurrency: this.concurrency,
      startedAt: this.startedAt,
      lastSeenAt: now,
    });
  }
}

/** Waits for `promise` or `ms`, whichever comes first, and leaves no timer behind to hold the process open. */
async function waitAtMost(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  try {
    await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
