/**
 * A real PostgreSQL outage under load: an API process (`earshot serve --workers=false`) and three
 * `earshot worker` processes share a PostgreSQL server of this test's own, which is stopped for 15 s
 * while jobs run and then started again. Every worker must ride it out and resume by itself, the
 * jobs submitted before it must complete exactly once, the API must answer 503 unavailable with
 * Retry-After (never 500) meanwhile, and succeed again afterwards.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { createPostgresStore, type PostgresStore } from '../../src/adapters/store/postgres/postgres-store.js';
import { Engine } from '../../src/engine/engine.js';
import { Registry } from '../../src/engine/registry.js';
import { createDatabase, restartServer, startCluster, stopCluster, stopServer, type Cluster } from '../support/postgres.js';

const BIN = resolve(import.meta.dirname, '../../bin/earshot.js');
const WORKERS = 3;
const JOBS = 6;
const SLEEPS_PER_JOB = 4;
const LOAD_JOBS = 2;
const OUTAGE_MS = 15_000;

interface Proc {
  /** `earshot serve (pid)` */
  name: string;
  child: ChildProcess;
  /** Every JSON log line so far. */
  logs: Record<string, unknown>[];
  stderr: string;
}

/** What a process said last, for a failure message. */
const lastWords = (p: Proc) => [...p.logs.slice(-3).map((e) => JSON.stringify(e)), p.stderr.slice(-2000)].join('\n');

interface Answer {
  /** `edge`: made while the server was going down or coming up, when either answer is right. */
  at: 'before' | 'edge' | 'outage' | 'after';
  route: string;
  status: number;
  code: string | undefined;
  retryAfter: string | null;
}

/** Resolves once `check` holds, looking every 200 ms: the state lives in other processes, with no event to wait on. */
async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(200);
  }
}

describe('a PostgreSQL outage of 15 s under load', () => {
  let cluster: Cluster;
  let dbUrl: string;
  let dataDir: string;
  let env: NodeJS.ProcessEnv;
  const procs: Proc[] = [];

  before(async () => {
    // A server of our own: stopping the shared one would break the test files running beside this one.
    cluster = await startCluster(process.pid);
    dbUrl = await createDatabase(cluster.url, 'outage');
    const setup = createPostgresStore({ url: dbUrl, maxConnections: 1 });
    await setup.migrate();
    await setup.close();
    dataDir = mkdtempSync(join(tmpdir(), 'earshot-outage-'));
    env = {
      ...process.env,
      EARSHOT_DATABASE_URL: dbUrl,
      EARSHOT_DATA_DIR: dataDir,
      EARSHOT_SIGNING_SECRET: 'a-shared-secret-of-at-least-32-characters',
      EARSHOT_LOG_LEVEL: 'info',
    };
  });

  after(async () => {
    await Promise.all(
      procs
        .filter((p) => p.child.exitCode === null && p.child.signalCode === null)
        .map((p) => new Promise((r) => (p.child.once('exit', r), p.child.kill('SIGTERM')))),
    );
    if (cluster) stopCluster(cluster.dir);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  /** Starts `earshot ARGS` and resolves with it once it logs `ready`. */
  const start = (args: string[], ready: string) =>
    new Promise<Proc>((resolvePromise, reject) => {
      const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      const proc: Proc = { name: `earshot ${args[0]} (${child.pid})`, child, logs: [], stderr: '' };
      procs.push(proc);
      child.stderr!.on('data', (d: Buffer) => (proc.stderr += d));
      createInterface({ input: child.stdout! }).on('line', (line) => {
        let entry: Record<string, unknown>;
        try {
          entry = JSON.parse(line) as Record<string, unknown>;
        } catch {
          return;
        }
        proc.logs.push(entry);
        if (entry.msg === ready) resolvePromise(proc);
      });
      child.once('exit', (code) => reject(new Error(`earshot ${args[0]} exited with ${code}: ${proc.stderr}`)));
    });

  it('workers live through it, work completes exactly once, and the API answers 503 with Retry-After meanwhile', { timeout: 300_000 }, async (t) => {
    const [api, ...workers] = await Promise.all([
      start(['serve', '--port', '0', '--workers=false'], 'earshot is listening'),
      ...Array.from({ length: WORKERS }, () => start(['worker', '--pools', 'cpu', '--concurrency', '2'], 'worker started')),
    ]);
    const base = api.logs.find((e) => e.msg === 'earshot is listening')!.url as string;
    const answers: Answer[] = [];
    let phase: Answer['at'] = 'before';
    const ask = async (route: string, init?: RequestInit): Promise<Response> => {
      const at = phase;
      const name = `${init?.method ?? 'GET'} ${route.replace(/job_[\w-]+/, ':id')}`;
      const res = await fetch(`${base}${route}`, init).catch((err: unknown) => err as Error);
      if (res instanceof Error) {
        // No answer at all: the API process is gone. Recorded, so the assertions say so.
        answers.push({ at, route: name, status: 0, code: `no answer: ${String(res.cause ?? res.message)}`, retryAfter: null });
        return new Response(null, { status: 599 });
      }
      const text = await res.text();
      let code: string | undefined;
      try {
        code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
      } catch {}
      answers.push({ at, route: name, status: res.status, code, retryAfter: res.headers.get('retry-after') });
      return new Response(text, { status: res.status, headers: res.headers });
    };
    // Every submission carries its own Idempotency-Key, as a client that means to retry does: a
    // submission that committed just as the connection broke may have been answered 503 all the same.
    const submissions = new Map<string, { body: string; accepted: boolean }>();
    const send = async (key: string) => {
      const entry = submissions.get(key)!;
      const res = await ask('/v1/jobs', { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': key }, body: entry.body });
      if (res.status === 202 || res.status === 200) entry.accepted = true;
      return res;
    };
    const submit = (tasks = SLEEPS_PER_JOB, sleepMs = 2500) => {
      const key = `outage-${submissions.size}`;
      submissions.set(key, { body: JSON.stringify({ kind: 'diagnostics', input: { tasks, sleep_ms: sleepMs } }), accepted: false });
      return send(key);
    };
    /** Each job submitted before the outage, with the number of sleeps it spawns. */
    const jobs: { id: string; sleeps: number }[] = [];
    const submitted = async (tasks?: number, sleepMs?: number) => {
      const res = await submit(tasks, sleepMs);
      assert.equal(res.status, 202, await res.clone().text());
      jobs.push({ id: ((await res.json()) as { id: string }).id, sleeps: tasks ?? SLEEPS_PER_JOB });
    };

    // Work in flight when the server goes: 24 sleeps of 2.5 s on 6 slots take about 10 s, and two jobs
    // of 1000 short sleeps keep every worker settling tasks, in transactions, when the connections break.
    for (let i = 0; i < JOBS; i++) await submitted();
    const jobIds = jobs.map((j) => j.id);
    const sleepsRunning = async () => {
      const res = await ask(`/v1/jobs/${jobIds[0]}`);
      const job = (await res.json()) as { steps?: { step: string; counts: Record<string, number> }[] };
      return (job.steps ?? []).some((s) => s.step === 'diagnostics.sleep' && (s.counts.running ?? 0) > 0);
    };
    await until('the first job runs its sleeps', sleepsRunning);
    for (let i = 0; i < LOAD_JOBS; i++) await submitted(1000, 1);

    // The outage. Requests keep coming throughout; only those made while the server is wholly down must be 503.
    let down = false;
    let stopped = false;
    const traffic = (async () => {
      while (!stopped) {
        const wasDown = down;
        const from = answers.length;
        await Promise.all([submit(), ask('/v1/jobs'), ask(`/v1/jobs/${jobIds[1]}`), ask('/v1/ready')]);
        for (const a of answers.slice(from)) a.at = wasDown && down ? 'outage' : 'edge';
        await sleep(100); // pacing, not waiting for anything
      }
    })();
    await stopServer(cluster);
    down = true;
    await sleep(OUTAGE_MS);
    down = false;
    await restartServer(cluster);
    stopped = true;
    await traffic;
    phase = 'after';
    for (const p of [api, ...workers]) assert.deepEqual([p.child.exitCode, p.child.signalCode], [null, null], `${p.name} outlived the outage: ${lastWords(p)}`);

    const during = answers.filter((a) => a.at === 'outage');
    assert.ok(during.length >= 20, `only ${during.length} requests during the outage`);
    assert.deepEqual(
      during.filter((a) => a.status !== 503 || a.code !== 'unavailable' || !(Number(a.retryAfter) >= 1)),
      [],
      'every request while the database was down got 503 unavailable with Retry-After',
    );
    assert.deepEqual(answers.filter((a) => a.status === 500), [], 'no request got a 500, in any phase');
    assert.ok(during.some((a) => a.route === 'POST /v1/jobs'), 'submissions were refused during the outage');
    t.diagnostic(`${during.length} requests while the database was down, ${answers.filter((a) => a.at === 'edge').length} while it went down or came up`);

    // After it: the API answers again, and the workers take new work by themselves.
    await until('the API answers again', async () => (await ask('/v1/jobs')).status === 200);
    assert.equal((await ask('/v1/ready')).status, 200);
    const later = await submit();
    assert.equal(later.status, 202);
    const laterId = ((await later.json()) as { id: string }).id;

    const store: PostgresStore = createPostgresStore({ url: dbUrl, maxConnections: 2 });
    try {
      const engine = new Engine({ store, registry: new Registry() });
      for (const { id, sleeps } of [...jobs, { id: laterId, sleeps: SLEEPS_PER_JOB }]) {
        const job = await engine.waitFor(id, { timeoutMs: 120_000 });
        assert.equal(job.status, 'succeeded', `job ${id}: ${JSON.stringify(job.error)}`);
        // Exactly once: one plan, the sleeps it spawned once, one gather that saw each of them once.
        const keys = job.tasks.map((t) => t.key).sort();
        assert.deepEqual(keys, ['gather', 'plan', ...Array.from({ length: sleeps }, (_, i) => `sleep-${i}`)].sort(), `job ${id} tasks`);
        assert.ok(job.tasks.every((t) => t.state === 'succeeded'), `job ${id}: every task succeeded`);
        const gather = job.tasks.find((t) => t.key === 'gather')!;
        assert.equal((gather.output as { tasks: number }).tasks, sleeps, `job ${id}: gather saw each sleep once`);
      }
      // Nothing submitted was lost or doubled: each submission refused during the outage, sent again
      // with its key, is accepted (or replays the job it had in fact created), and there is exactly
      // one job per key.
      for (const [key, entry] of submissions) {
        if (entry.accepted) continue;
        const again = await send(key);
        assert.ok(again.status === 202 || again.status === 200, `${key} sent again: ${again.status} ${await again.clone().text()}`);
      }
      const all = await store.listJobs({ tenantId: 'local', limit: 500 });
      assert.equal(all.length, submissions.size, 'one job per submission');
    } finally {
      await store.close();
    }

    for (const w of workers) {
      assert.deepEqual([w.child.exitCode, w.child.signalCode], [null, null], `${w.name} is alive: ${lastWords(w)}`);
      const said = (msg: RegExp) => w.logs.filter((e) => typeof e.msg === 'string' && msg.test(e.msg)).length;
      // One line per change of state, not one per poll.
      assert.equal(said(/^database unavailable/), 1, `${w.name} logged the outage once`);
      assert.equal(said(/^database back$/), 1, `${w.name} logged the recovery once`);
      assert.equal(said(/^postgres listener lost/), 1, `${w.name} lost its listener once`);
      assert.equal(said(/^postgres listener back$/), 1, `${w.name} listens again`);
    }
  });
});
