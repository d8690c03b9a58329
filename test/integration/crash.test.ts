/**
 * Crash recovery across processes: three worker processes (test/fixtures/crash-worker.ts) share one
 * store and one pool; one of them is SIGKILLed while it runs tasks. Every task of every job must end
 * succeeded with exactly one accepted completion: nothing lost, nothing completed twice. Run on
 * SQLite (processes sharing one WAL file) and on PostgreSQL.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Engine } from '../../src/engine/engine.js';
import { Registry } from '../../src/engine/registry.js';
import type { JobDetail, Store } from '../../src/ports/store.js';
import type { CrashLogEntry, SleepOutput } from '../fixtures/crash-worker.js';
import { postgresTestStore, sqliteTestStore, stopTestPostgres } from '../support/stores.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../fixtures/crash-worker.ts', import.meta.url));

const WORKERS = 3;
const JOBS = 30;
const STEPS = ['a', 'b', 'c'] as const;
const TENANT = 'tenant_crash';
const POOL = 'crash';
/** The victim must have had this many completions accepted before it is killed. */
const SETTLED_BEFORE_KILL = 2;
/** It is killed while a handler of it has at least this long left to sleep, so the kill lands mid-task. */
const KILL_MARGIN_MS = 300;

/** a and c are short; b, the long step, gives the kill a wide window. */
const sleepMs = (job: number, step: number) => {
  const spread = ((job * 7 + step * 13) % 21) * 10; // 0-200
  return step === 1 ? 500 + 2 * spread : 100 + spread;
};

interface Backend {
  name: string;
  /** A migrated store for this test process and the `--db` argument that reaches the same data. */
  open(): Promise<{ store: Store; db: string; cleanup(): Promise<void> }>;
}

const backends: Backend[] = [
  {
    name: 'sqlite',
    async open() {
      const { store, path, cleanup } = await sqliteTestStore();
      return { store, db: `sqlite:${path}`, cleanup };
    },
  },
  {
    name: 'postgres',
    async open() {
      const { store, url, cleanup } = await postgresTestStore('crash');
      await store.listening();
      return { store, db: url, cleanup };
    },
  },
];

interface WorkerProcess {
  child: ChildProcessWithoutNullStreams;
  pid: number;
  log: string;
  stderr: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Rejects after `ms` unless `promise` settles first. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `probe` until it returns a value: for state that lives in another process. */
async function pollUntil<T>(what: string, probe: () => T | undefined, timeoutMs: number, everyMs = 10): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

async function startWorker(db: string, log: string): Promise<WorkerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, '--db', db, '--log', log, '--pool', POOL], { cwd: ROOT });
  const stderr: string[] = [];
  child.stderr.setEncoding('utf8').on('data', (d: string) => stderr.push(d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith('ready ')) resolve();
    });
    void exited.then(({ code, signal }) => reject(new Error(`worker exited before it was ready (${code ?? signal}):\n${stderr.join('')}`)));
  });
  const proc = { child, pid: child.pid!, log, stderr, exited };
  try {
    await within(ready, 30_000, 'a worker process to start');
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return proc;
}

/** Every complete line of the execution logs (a line still being written is left for later). */
function readLogs(files: readonly string[]): CrashLogEntry[] {
  return files.flatMap((f) =>
    existsSync(f)
      ? readFileSync(f, 'utf8')
          .split('\n')
          .slice(0, -1)
          .map((line) => JSON.parse(line) as CrashLogEntry)
      : [],
  );
}

after(async () => {
  await stopTestPostgres();
});

for (const backend of backends) {
  describe(`crash recovery: ${backend.name}`, () => {
    let store: Store;
    let db: string;
    let cleanupStore: () => Promise<void>;
    let logDir: string;
    const procs: WorkerProcess[] = [];

    before(async () => {
      ({ store, db, cleanup: cleanupStore } = await backend.open());
      await store.createTenant({ id: TENANT, name: 'Crash', createdAt: Date.now() });
      logDir = mkdtempSync(join(tmpdir(), 'earshot-crash-'));
    });

    after(async () => {
      // Survivors stop gracefully on SIGTERM; whatever does not is killed, and the hook fails.
      const stuck: number[] = [];
      await Promise.all(
        procs.map(async (p) => {
          if (p.child.exitCode !== null || p.child.signalCode !== null) return;
          p.child.kill('SIGTERM');
          try {
            await within(p.exited, 15_000, `worker ${p.pid} to exit`);
          } catch {
            stuck.push(p.pid);
            p.child.kill('SIGKILL');
            await p.exited;
          }
        }),
      );
      await cleanupStore?.();
      if (logDir) rmSync(logDir, { recursive: true, force: true });
      assert.deepEqual(stuck, [], 'worker processes that ignored SIGTERM');
      assert.deepEqual(
        procs.filter((p) => isAlive(p.pid)).map((p) => p.pid),
        [],
        'worker processes left running',
      );
    });

    it('a worker killed with SIGKILL mid-task loses no task and completes none twice', { timeout: 120_000 }, async (t) => {
      // Each process is kept as soon as it is up, so `after` stops it even if another fails to start.
      await Promise.all(Array.from({ length: WORKERS }, async (_, i) => procs.push(await startWorker(db, join(logDir, `worker-${i}.log`)))));
      const [victim, ...survivors] = procs as [WorkerProcess, ...WorkerProcess[]];

      const engine = new Engine({ store, registry: new Registry() });
      const jobIds: string[] = [];
      for (let j = 0; j < JOBS; j++) {
        const tasks = STEPS.map((key, s) => ({
          key,
          type: 'sleep',
          pool: POOL,
          maxAttempts: 3,
          input: { ms: sleepMs(j, s) },
          ...(s > 0 ? { dependsOn: [STEPS[s - 1]!] } : {}),
        }));
        jobIds.push((await engine.submit({ tenantId: TENANT, kind: 'crash', tasks })).job.id);
      }

      // Kill the victim once it has had work accepted and while a handler of it has a while left to run.
      await pollUntil(
        'the victim to be running a long task',
        () => {
          const mine = readLogs([victim.log]);
          const returned = new Set(mine.filter((e) => e.event === 'return').map((e) => e.run));
          const accepted = mine.filter((e) => e.event === 'settled' && e.outcome === 'succeeded').length;
          const now = Date.now();
          const running = mine.filter((e) => e.event === 'start' && !returned.has(e.run) && e.at + e.sleepMs - now >= KILL_MARGIN_MS);
          return accepted >= SETTLED_BEFORE_KILL && running.length > 0 ? running : undefined;
        },
        20_000,
      );
      victim.child.kill('SIGKILL');
      const killedAt = Date.now();
      assert.equal((await within(victim.exited, 10_000, 'the victim to die')).signal, 'SIGKILL');

      const jobs: JobDetail[] = [];
      for (const id of jobIds) jobs.push(await engine.waitFor(id, { timeoutMs: 30_000 }));
      const doneAt = Date.now();

      // Stop the survivors gracefully; once they have exited, their logs are complete.
      for (const s of survivors) s.child.kill('SIGTERM');
      for (const s of survivors) {
        assert.deepEqual(await within(s.exited, 15_000, `worker ${s.pid} to stop`), { code: 0, signal: null }, `worker ${s.pid} stopped cleanly`);
      }

      const log = readLogs(procs.map((p) => p.log));
      const returns = log.filter((e) => e.event === 'return');
      const settled = log.filter((e) => e.event === 'settled');
      const returnedRuns = new Set(returns.map((e) => e.run));
      // The victim's log is final: these handlers were running when it died.
      const killed = log.filter((e) => e.event === 'start' && e.pid === victim.pid && !returnedRuns.has(e.run));
      assert.ok(killed.length >= 1, 'the victim was killed while running a task');
      assert.ok(
        log.some((e) => e.event === 'settled' && e.pid === victim.pid && e.outcome === 'succeeded'),
        'the victim had completed tasks before it died',
      );
      assert.ok(
        survivors.every((s) => log.some((e) => e.pid === s.pid && e.event === 'return')),
        'every surviving worker took part',
      );

      assert.deepEqual(
        settled.filter((e) => e.outcome !== 'succeeded' && e.outcome !== 'lost'),
        [],
        'no handler failed: every settlement was accepted or refused',
      );

      let refused = 0;
      const tasks = new Map(jobs.flatMap((j) => j.tasks.map((task) => [task.id, task] as const)));
      for (const job of jobs) {
        assert.equal(job.status, 'succeeded', `job ${job.id}`);
        assert.deepEqual(job.tasks.map((task) => task.key), [...STEPS], `job ${job.id} has its three tasks`);
      }
      for (const task of tasks.values()) {
        const where = `task ${task.id} (${task.key})`;
        assert.equal(task.state, 'succeeded', where);
        const output = task.output as SleepOutput;
        // The stored output names the one execution whose completion the store accepted.
        const writer = returns.filter((e) => e.task === task.id && e.run === output.run);
        assert.equal(writer.length, 1, `${where}: its output comes from exactly one execution that returned`);
        assert.equal(writer[0]!.pid, output.pid, where);
        assert.equal(writer[0]!.attempt, output.attempt, where);
        assert.equal(task.attempts, output.attempt, `${where}: no attempt was claimed after the accepted one`);
        // At most one worker was told its completion was accepted, and it is the one stored (the
        // victim may have committed a completion and died before logging the answer).
        const acks = settled.filter((e) => e.task === task.id && e.outcome === 'succeeded');
        assert.ok(
          acks.length === 1 ? acks[0]!.run === output.run : acks.length === 0 && output.pid === victim.pid,
          `${where}: one accepted completion, got ${JSON.stringify(acks)} for output ${JSON.stringify(output)}`,
        );
        // Any other execution that returned had its result refused, or died with the victim before settling.
        for (const r of returns.filter((e) => e.task === task.id && e.run !== output.run)) {
          const answer = settled.filter((e) => e.run === r.run);
          if (answer.length === 1 && answer[0]!.outcome === 'lost') refused++;
          else assert.ok(r.pid === victim.pid && answer.length === 0, `${where}: a second execution returned: ${JSON.stringify({ r, answer })}`);
        }
        for (const e of task.errors) assert.equal(e.code, 'lease_expired', `${where}: ${JSON.stringify(e)}`);
      }

      const rerunAfterMs: number[] = [];
      for (const k of killed) {
        const task = tasks.get(k.task);
        assert.ok(task, `killed task ${k.task} belongs to a submitted job`);
        const where = `killed task ${task.id} (${task.key})`;
        assert.ok(task.attempts >= 2, `${where}: attempts ${task.attempts}`);
        assert.ok(
          task.errors.some((e) => e.code === 'lease_expired' && e.attempt === k.attempt),
          `${where}: the killed attempt is recorded as lease_expired: ${JSON.stringify(task.errors)}`,
        );
        assert.notEqual((task.output as SleepOutput).pid, victim.pid, `${where}: a survivor completed it`);
        assert.equal(returns.filter((e) => e.task === task.id).length, 1, `${where}: ran to a return exactly once`);
        const rerun = log.find((e) => e.event === 'start' && e.task === task.id && e.attempt > k.attempt);
        assert.ok(rerun, `${where}: a survivor ran it again`);
        rerunAfterMs.push(rerun.at - killedAt);
      }

      const succeeded = [...tasks.values()].filter((task) => task.state === 'succeeded').length;
      assert.equal(succeeded, JOBS * STEPS.length, 'every task succeeded');

      // Leases that expired on a surviving worker (a stalled event loop) are allowed, but worth seeing.
      const runner = new Map(log.filter((e) => e.event === 'start').map((e) => [`${e.task}#${e.attempt}`, e.pid]));
      const expiries = [...tasks.values()].flatMap((task) => task.errors.map((e) => runner.get(`${task.id}#${e.attempt}`)));
      const survivorExpiries = expiries.filter((pid) => pid !== undefined && pid !== victim.pid).length;
      t.diagnostic(
        `${backend.name}: killed ${killed.length} running task(s) in pid ${victim.pid}; re-run ${Math.min(...rerunAfterMs)}-${Math.max(...rerunAfterMs)} ms ` +
          `after the kill; all ${JOBS} jobs done ${doneAt - killedAt} ms after it; lease expiries ${expiries.length} ` +
          `(on survivors ${survivorExpiries}); refused results ${refused}`,
      );
      for (const s of survivors) {
        for (const line of s.stderr.join('').split('\n').filter(Boolean).slice(-10)) t.diagnostic(`worker ${s.pid}: ${line}`);
      }
    });
  });
}
