/**
 * The engine contract: one suite that every Store adapter must pass, driven through the real
 * Engine and Worker with a fake clock.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { FakeClock } from '../../src/core/clock.js';
import { permanent, retryable } from '../../src/core/errors.js';
import type { Json } from '../../src/core/job.js';
import { Engine } from '../../src/engine/engine.js';
import { Registry, type TaskHandler } from '../../src/engine/registry.js';
import { Worker, type TaskFinished, type WorkerOptions } from '../../src/engine/worker.js';
import type { Store } from '../../src/ports/store.js';

export interface StoreFactory {
  name: string;
  create(): Promise<Store>;
}

const TENANT = 'tenant_a';

export function engineContract(factory: StoreFactory): void {
  describe(`engine contract: ${factory.name}`, () => {
    let store: Store;
    let clock: FakeClock;
    let registry: Registry;
    let engine: Engine;
    let poolSeq = 0;
    const workers: Worker[] = [];
    const handlers = new Map<string, TaskHandler>();

    /** Each test uses pools of its own, so tasks left by one test never reach another's workers. */
    const pool = (name = 'cpu') => `${name}_${poolSeq}`;

    before(async () => {
      store = await factory.create();
      await store.createTenant({ id: TENANT, name: 'A', createdAt: 0 });
      await store.createTenant({ id: 'tenant_b', name: 'B', createdAt: 0 });
      clock = new FakeClock();
      registry = new Registry();
      for (const type of ['step', 'a', 'b', 'c', 'chunk', 'plan', 'merge', 'final', 'flaky', 'broken']) {
        registry.defineTask({
          type,
          retry: { initialDelayMs: 1000, factor: 2, jitter: 0.5 },
          handler: (ctx) => (handlers.get(type) ?? (async () => ({ ok: ctx.task.key })))(ctx),
        });
      }
      engine = new Engine({ store, registry, clock });
    });

    after(async () => {
      await Promise.all(workers.map((w) => w.stop(100)));
      await store.close();
    });

    const startWorker = async (options: Partial<WorkerOptions> = {}) => {
      const w = new Worker({ store, registry, clock, pools: [pool()], concurrency: 4, pollMs: 10, reapMs: 20, random: () => 0, ...options });
      workers.push(w);
      await w.start();
      return w;
    };
    const stopWorkers = async () => {
      await Promise.all(workers.splice(0).map((w) => w.stop(1000)));
    };
    const nextTest = () => {
      poolSeq++;
      handlers.clear();
    };
    const submit = (tasks: { key: string; type: string; dependsOn?: string[]; alwaysRun?: boolean; input?: Json }[], extra = {}) =>
      engine.submit({ tenantId: TENANT, kind: 'test', tasks: tasks.map((t) => ({ ...t, pool: pool() })), ...extra });
    const claimOne = async (pools = [pool()], leaseMs = 10_000) =>
      (await store.claim({ workerId: 'w_test', pools, limit: 1, leaseMs, now: clock.now() }))[0];
    const waitForTask = (w: Worker, pred: (f: TaskFinished) => boolean) =>
      new Promise<TaskFinished>((resolve) => {
        const on = (f: TaskFinished) => {
          if (pred(f)) {
            w.off('task', on);
            resolve(f);
          }
        };
        w.on('task', on);
      });

    it('claims the highest priority first, oldest first within a priority', async () => {
      nextTest();
      const ids: Record<string, string> = {};
      for (const p of ['low', 'normal', 'urgent', 'high', 'normal'] as const) {
        const { job } = await submit([{ key: 'only', type: 'step' }], { priority: p });
        ids[`${p}${ids[p] ? '2' : ''}`] = job.id;
      }
      const order: string[] = [];
      for (let i = 0; i < 5; i++) order.push((await claimOne())!.jobId);
      assert.deepEqual(order, [ids.urgent, ids.high, ids.normal, ids.normal2, ids.low]);
      assert.equal(await claimOne(), undefined);
    });

    it('claims several tasks in one call', async () => {
      nextTest();
      for (let i = 0; i < 5; i++) await submit([{ key: 'only', type: 'step' }]);
      const claimed = await store.claim({ workerId: 'w', pools: [pool()], limit: 3, leaseMs: 1000, now: clock.now() });
      assert.equal(claimed.length, 3);
      assert.equal(new Set(claimed.map((c) => c.id)).size, 3);
    });

    it('gives a task only to workers of its pool', async () => {
      nextTest();
      await engine.submit({ tenantId: TENANT, kind: 'test', tasks: [{ key: 'g', type: 'step', pool: pool('gpu') }] });
      assert.equal(await claimOne([pool('cpu')]), undefined);
      const t = await claimOne([pool('cpu'), pool('gpu')]);
      assert.equal(t?.pool, pool('gpu'));
    });

    it('hands an expired lease to another worker; the attempt counts', async () => {
      nextTest();
      const { job } = await submit([{ key: 'only', type: 'step' }]);
      const first = (await claimOne(undefined, 1000))!;
      assert.equal(first.attempt, 1);
      clock.advance(999);
      await store.reapExpiredLeases(clock.now());
      assert.equal((await engine.getJob(job.id)).tasks[0]!.state, 'running');
      clock.advance(2);
      assert.ok((await store.reapExpiredLeases(clock.now())) >= 1);
      assert.equal((await engine.getJob(job.id)).tasks[0]!.state, 'ready');
      const second = (await claimOne())!;
      assert.equal(second.id, first.id);
      assert.equal(second.attempt, 2);
      assert.deepEqual(await store.complete([{ taskId: second.id, leaseToken: second.leaseToken, output: 'done' }], clock.now()), ['ok']);
      const detail = await engine.getJob(job.id);
      assert.equal(detail.status, 'succeeded');
      assert.equal(detail.tasks[0]!.errors[0]!.code, 'lease_expired');
    });

    it('fences a worker that lost its lease: it cannot complete, fail or renew', async () => {
      nextTest();
      await submit([{ key: 'only', type: 'step' }]);
      const stale = (await claimOne(undefined, 1000))!;
      clock.advance(1001);
      await store.reapExpiredLeases(clock.now());
      const fresh = (await claimOne())!;
      const lease = { taskId: stale.id, leaseToken: stale.leaseToken };
      assert.deepEqual(await store.heartbeat([lease], 1000, clock.now()), ['lost']);
      assert.deepEqual(await store.complete([{ ...lease, output: 'stale' }], clock.now()), ['lost']);
      assert.deepEqual(await store.fail([{ ...lease, error: { code: 'handler_failed', message: 'x', retryable: false }, retryAt: null }], clock.now()), ['lost']);
      assert.deepEqual(await store.complete([{ taskId: fresh.id, leaseToken: fresh.leaseToken, output: 'fresh' }], clock.now()), ['ok']);
      const job = await engine.getJob(fresh.jobId);
      assert.equal(job.tasks[0]!.output, 'fresh');
    });

    it('keeps a lease alive with heartbeats and records progress', async () => {
      nextTest();
      await submit([{ key: 'only', type: 'step' }]);
      const t = (await claimOne(undefined, 1000))!;
      clock.advance(800);
      assert.deepEqual(await store.heartbeat([{ taskId: t.id, leaseToken: t.leaseToken, progress: { pct: 40 } }], 1000, clock.now()), ['ok']);
      clock.advance(800);
      await store.reapExpiredLeases(clock.now());
      const job = await engine.getJob(t.jobId);
      assert.equal(job.tasks[0]!.state, 'running');
      assert.deepEqual(job.tasks[0]!.progress, { pct: 40 });
    });

    it('backs off exponentially under the fake clock, then the task is dead after 3 attempts', async () => {
      nextTest();
      handlers.set('flaky', async () => {
        throw retryable('unavailable', 'engine busy');
      });
      const w = await startWorker();
      const t0 = clock.now();
      let failed = waitForTask(w, (f) => f.type === 'flaky');
      const { job } = await submit([{ key: 'f', type: 'flaky' }, { key: 'after', type: 'step', dependsOn: ['f'] }]);
      assert.equal((await failed).outcome, 'retry');
      let task = (await engine.getJob(job.id)).tasks[0]!;
      assert.equal(task.state, 'retry_wait');
      assert.equal(task.runAt, t0 + 1000); // random() = 0: the full base delay
      // Not before its time.
      clock.advance(999);
      await new Promise((r) => setTimeout(r, 60));
      assert.equal((await engine.getJob(job.id)).tasks[0]!.attempts, 1);
      failed = waitForTask(w, (f) => f.type === 'flaky');
      clock.advance(1);
      assert.equal((await failed).outcome, 'retry');
      task = (await engine.getJob(job.id)).tasks[0]!;
      assert.equal(task.attempts, 2);
      assert.equal(task.runAt, t0 + 1000 + 2000);
      failed = waitForTask(w, (f) => f.type === 'flaky');
      clock.advance(2000);
      assert.equal((await failed).outcome, 'dead');
      const detail = await engine.waitFor(job.id, { settled: true });
      assert.equal(detail.status, 'failed');
      assert.equal(detail.error?.code, 'unavailable');
      assert.equal(detail.tasks[0]!.state, 'dead');
      assert.deepEqual(detail.tasks[0]!.errors.map((e) => e.attempt), [1, 2, 3]);
      assert.equal(detail.tasks[1]!.state, 'cancelled');
      const dead = await engine.listDead({ tenantId: TENANT });
      assert.ok(dead.some((d) => d.id === task.id && d.errors.length === 3));
      await stopWorkers();
    });

    it('spreads retries with jitter inside the documented bounds', async () => {
      nextTest();
      handlers.set('flaky', async () => {
        throw new Error('boom');
      });
      const w = await startWorker({ random: () => 0.999 });
      const t0 = clock.now();
      const failed = waitForTask(w, (f) => f.type === 'flaky');
      const { job } = await submit([{ key: 'f', type: 'flaky' }]);
      await failed;
      const runAt = (await engine.getJob(job.id)).tasks[0]!.runAt;
      assert.ok(runAt >= t0 + 500 && runAt < t0 + 1000, `run_at ${runAt - t0} ms after the failure`);
      await engine.cancel(job.id);
      await stopWorkers();
    });

    it('makes a non-retryable failure dead at once and fails the job with its code', async () => {
      nextTest();
      handlers.set('broken', async () => {
        throw permanent('corrupt_media', 'the file is not audio');
      });
      await startWorker();
      const { job } = await submit([{ key: 'probe', type: 'broken' }, { key: 'next', type: 'step', dependsOn: ['probe'] }]);
      const detail = await engine.waitFor(job.id, { settled: true });
      assert.equal(detail.status, 'failed');
      assert.equal(detail.error?.code, 'corrupt_media');
      assert.equal(detail.error?.details?.step, 'broken');
      assert.equal(detail.tasks[0]!.attempts, 1);
      assert.equal(detail.tasks[0]!.state, 'dead');
      await stopWorkers();
    });

    it('runs always-run tasks when the job fails, without changing its outcome', async () => {
      nextTest();
      handlers.set('broken', async () => {
        throw permanent('bad_request', 'no');
      });
      await startWorker();
      const { job } = await submit([
        { key: 'x', type: 'broken' },
        { key: 'y', type: 'step', dependsOn: ['x'] },
        { key: 'notify', type: 'final', dependsOn: ['y'], alwaysRun: true },
      ]);
      const detail = await engine.waitFor(job.id, { settled: true });
      assert.equal(detail.status, 'failed');
      assert.deepEqual(
        detail.tasks.map((t) => [t.key, t.state]),
        [
          ['x', 'dead'],
          ['y', 'cancelled'],
          ['notify', 'succeeded'],
        ],
      );
      await stopWorkers();
    });

    it('ends the jobs a registered finaliser applies to with it, after spawned tasks that block nothing', async () => {
      nextTest();
      const type = `finale_${poolSeq}`;
      const order: string[] = [];
      registry.defineTask({
        type,
        pool: pool(),
        handler: async () => {
          order.push('finale');
          return null;
        },
      });
      registry.defineFinaliser({
        key: 'finale',
        type,
        appliesTo: (job) => {
          const input = job.input as { finale?: string; refuse?: boolean } | null;
          if (input?.refuse) throw permanent('bad_request', 'refused by the finaliser');
          return input?.finale === type;
        },
      });
      handlers.set('plan', async (ctx) => {
        // Fire-and-forget tasks: nothing depends on them, yet the finaliser must wait for them.
        ctx.spawn([1, 2, 3].map((i) => ({ key: `chunk-${i}`, type: 'chunk', input: i, pool: pool() })));
        return null;
      });
      handlers.set('chunk', async (ctx) => {
        await new Promise((r) => setTimeout(r, 30 * (ctx.task.input as number)));
        order.push('chunk');
        return null;
      });
      await startWorker();
      const { job } = await submit([{ key: 'plan', type: 'plan' }], { input: { finale: type } });
      const detail = await engine.waitFor(job.id, { settled: true });
      assert.equal(detail.status, 'succeeded');
      const finale = detail.tasks.find((t) => t.key === 'finale')!;
      assert.equal(finale.alwaysRun, true);
      assert.equal(finale.state, 'succeeded');
      const chunks = detail.tasks.filter((t) => t.type === 'chunk');
      assert.equal(chunks.length, 3);
      assert.deepEqual(order, ['chunk', 'chunk', 'chunk', 'finale'], 'the finaliser ran after every spawned task');
      // Jobs it does not apply to do not get it; a finaliser may refuse a job at submission.
      const other = await submit([{ key: 'only', type: 'step' }]);
      assert.deepEqual((await engine.getJob(other.job.id)).tasks.map((t) => t.key), ['only']);
      await assert.rejects(submit([{ key: 'only', type: 'step' }], { input: { refuse: true } }), /refused by the finaliser/);
      await stopWorkers();
    });

    it('fans out at run time and fans in once every spawned task is done', async () => {
      nextTest();
      handlers.set('plan', async (ctx) => {
        ctx.spawn(Array.from({ length: 20 }, (_, i) => ({ key: `chunk-${i}`, type: 'chunk', input: i, pool: pool(), blocks: ['merge'] })));
        return { chunks: 20 };
      });
      handlers.set('chunk', async (ctx) => (ctx.task.input as number) * 2);
      handlers.set('merge', async (ctx) => {
        const outs = await ctx.dependencyOutputs();
        return outs.filter((o) => o.type === 'chunk').reduce((a, o) => a + (o.output as number), 0);
      });
      await startWorker({ concurrency: 8 });
      const { job } = await submit([
        { key: 'plan', type: 'plan' },
        { key: 'merge', type: 'merge', dependsOn: ['plan'] },
      ]);
      const detail = await engine.waitFor(job.id, { settled: true });
      assert.equal(detail.status, 'succeeded');
      const merge = detail.tasks.find((t) => t.key === 'merge')!;
      assert.equal(merge.output, 2 * (19 * 20) / 2);
      assert.equal(merge.dependsOn.length, 21);
      const chunkStep = detail.steps.find((s) => s.step === 'chunk')!;
      assert.deepEqual([chunkStep.done, chunkStep.total, chunkStep.state], [20, 20, 'succeeded']);
      await stopWorkers();
    });

    it('retries a failed job from a named step, keeping upstream results', async () => {
      nextTest();
      const runs: string[] = [];
      let failB = true;
      handlers.set('a', async () => (runs.push('a'), 'A'));
      handlers.set('b', async () => {
        runs.push('b');
        if (failB) throw permanent('unprocessable', 'b failed');
        return 'B';
      });
      handlers.set('c', async () => (runs.push('c'), 'C'));
      await startWorker();
      const { job } = await submit([
        { key: 'a', type: 'a' },
        { key: 'b', type: 'b', dependsOn: ['a'] },
        { key: 'c', type: 'c', dependsOn: ['b'] },
      ]);
      assert.equal((await engine.waitFor(job.id, { settled: true })).status, 'failed');
      await assert.rejects(engine.retry(job.id, 'nope'), { code: 'unknown_step' });
      failB = false;
      await engine.retry(job.id, 'b');
      const detail = await engine.waitFor(job.id, { settled: true });
      assert.equal(detail.status, 'succeeded');
      assert.equal(detail.error, null);
      assert.deepEqual(runs, ['a', 'b', 'b', 'c']);
      assert.equal(detail.tasks.find((t) => t.key === 'a')!.output, 'A');
      // From the first step, everything runs again.
      await engine.retry(job.id, 'a');
      assert.equal((await engine.waitFor(job.id, { settled: true })).status, 'succeeded');
      assert.deepEqual(runs, ['a', 'b', 'b', 'c', 'a', 'b', 'c']);
      await stopWorkers();
    });

    it('retrying from the fan-out step replaces the spawned tasks instead of adding more', async () => {
      nextTest();
      handlers.set('plan', async (ctx) => {
        ctx.spawn([1, 2, 3].map((i) => ({ key: `chunk-${i}`, type: 'chunk', pool: pool(), blocks: ['merge'] })));
      });
      await startWorker();
      const { job } = await submit([
        { key: 'plan', type: 'plan' },
        { key: 'merge', type: 'merge', dependsOn: ['plan'] },
      ]);
      await engine.waitFor(job.id, { settled: true });
      await engine.retry(job.id, 'plan');
      const detail = await engine.waitFor(job.id, { settled: true });
      assert.equal(detail.status, 'succeeded');
      assert.equal(detail.tasks.length, 5);
      await stopWorkers();
    });

    it('refuses to retry a job that is still running', async () => {
      nextTest();
      const { job } = await submit([{ key: 'only', type: 'step' }]);
      await assert.rejects(engine.retry(job.id, 'step'), { code: 'conflict' });
    });

    it('cancels a job: the running handler is aborted, pending tasks never run, finalisers do', async () => {
      nextTest();
      let started!: () => void;
      const running = new Promise<void>((r) => (started = r));
      let sawAbort = false;
      handlers.set('a', (ctx) => {
        started();
        return new Promise((_, reject) => {
          ctx.signal.addEventListener('abort', () => {
            sawAbort = true;
            reject(new DOMException('aborted', 'AbortError'));
          });
        });
      });
      await startWorker();
      const { job } = await submit([
        { key: 'a', type: 'a' },
        { key: 'b', type: 'b', dependsOn: ['a'] },
        { key: 'notify', type: 'final', dependsOn: ['b'], alwaysRun: true },
      ]);
      await running;
      const cancelled = await engine.cancel(job.id);
      assert.equal(cancelled.status, 'cancelled');
      const detail = await engine.waitFor(job.id, { settled: true });
      assert.ok(sawAbort);
      assert.equal(detail.status, 'cancelled');
      assert.equal(detail.error?.code, 'cancelled');
      assert.deepEqual(
        detail.tasks.map((t) => t.state),
        ['cancelled', 'cancelled', 'succeeded'],
      );
      await assert.rejects(engine.cancel(job.id), { code: 'conflict' });
      await stopWorkers();
    });

    it('does not grow a cancelled job: a spawn that completes after the cancel adds nothing', async () => {
      nextTest();
      const { job } = await submit([
        { key: 'plan', type: 'plan' },
        { key: 'merge', type: 'merge', dependsOn: ['plan'] },
      ]);
      const plan = (await claimOne())!;
      await engine.cancel(job.id);
      const spawn = [1, 2].map((i) => ({ id: `task_late_${poolSeq}_${i}`, key: `chunk-${i}`, type: 'chunk', pool: pool(), maxAttempts: 3, alwaysRun: false, blocks: ['merge'] }));
      assert.deepEqual(await store.complete([{ taskId: plan.id, leaseToken: plan.leaseToken, output: null, spawn }], clock.now()), ['ok']);
      const detail = await engine.getJob(job.id);
      assert.equal(detail.status, 'cancelled');
      assert.deepEqual(detail.tasks.map((t) => [t.key, t.state]), [['plan', 'succeeded'], ['merge', 'cancelled']]);
      assert.notEqual(detail.finishedAt, null);
    });

    it('returns the same job for the same idempotency key from the same tenant only', async () => {
      nextTest();
      const first = await submit([{ key: 'only', type: 'step' }], { idempotencyKey: 'key-1' });
      const again = await submit([{ key: 'only', type: 'step' }], { idempotencyKey: 'key-1' });
      assert.equal(first.created, true);
      assert.equal(again.created, false);
      assert.equal(again.job.id, first.job.id);
      const other = await engine.submit({ tenantId: 'tenant_b', kind: 'test', idempotencyKey: 'key-1', tasks: [{ key: 'only', type: 'step', pool: pool() }] });
      assert.notEqual(other.job.id, first.job.id);
      const parallel = await Promise.all(
        Array.from({ length: 5 }, () => submit([{ key: 'only', type: 'step' }], { idempotencyKey: 'key-2' })),
      );
      assert.equal(new Set(parallel.map((p) => p.job.id)).size, 1);
      assert.equal(parallel.filter((p) => p.created).length, 1);
    });

    it('hides other tenants\' jobs', async () => {
      nextTest();
      const { job } = await submit([{ key: 'only', type: 'step' }]);
      assert.equal(await store.getJob(job.id, 'tenant_b'), undefined);
      await assert.rejects(engine.cancel(job.id, 'tenant_b'), { code: 'not_found' });
      assert.ok((await engine.listJobs({ tenantId: TENANT })).some((j) => j.id === job.id));
      assert.ok(!(await engine.listJobs({ tenantId: 'tenant_b' })).some((j) => j.id === job.id));
    });

    it('on graceful shutdown, lets running tasks finish, then releases what is left without counting the attempt', async () => {
      nextTest();
      handlers.set('a', async () => {
        await new Promise((r) => setTimeout(r, 30));
        return 'quick';
      });
      handlers.set('b', () => new Promise(() => {})); // never finishes, ignores its signal
      const w = await startWorker();
      const { job } = await submit([
        { key: 'a', type: 'a' },
        { key: 'b', type: 'b' },
      ]);
      while (w.activeCount < 2) await once(w, 'claimed');
      await w.stop(100);
      workers.splice(workers.indexOf(w), 1);
      const detail = await engine.getJob(job.id);
      const byKey = Object.fromEntries(detail.tasks.map((t) => [t.key, t]));
      assert.equal(byKey.a!.state, 'succeeded');
      assert.equal(byKey.b!.state, 'ready');
      assert.equal(byKey.b!.attempts, 0);
    });

    it('wakes an idle worker when work arrives', async () => {
      nextTest();
      const w = await startWorker({ pollMs: 60_000 });
      const done = waitForTask(w, () => true);
      await submit([{ key: 'only', type: 'step' }]);
      assert.equal((await done).outcome, 'succeeded');
      await stopWorkers();
    });
  });
}
