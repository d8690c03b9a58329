/**
 * Distributed mode is configuration only: an API process and two worker processes share one
 * PostgreSQL database and one S3 bucket, and a job's tasks run on both workers.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { startS3Server, type TestS3Server } from '../support/s3-server.js';
import { postgresTestDatabase, stopTestPostgres } from '../support/stores.js';

const BIN = resolve(import.meta.dirname, '../../bin/earshot.js');

describe('distributed mode: PostgreSQL + S3, one API process, two workers', () => {
  const children: ChildProcess[] = [];
  const dataDir = mkdtempSync(join(tmpdir(), 'earshot-dist-'));
  let s3: TestS3Server;
  let db: { url: string; drop(): Promise<void> };
  let env: NodeJS.ProcessEnv;

  before(async () => {
    s3 = await startS3Server('earshot-dist');
    db = await postgresTestDatabase('dist');
    env = {
      ...process.env,
      EARSHOT_DATABASE_URL: db.url,
      EARSHOT_STORAGE: `s3://${s3.bucket}/deployment-a`,
      EARSHOT_S3_ENDPOINT: s3.endpoint,
      EARSHOT_S3_REGION: s3.region,
      EARSHOT_S3_ACCESS_KEY_ID: s3.accessKeyId,
      EARSHOT_S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      EARSHOT_SIGNING_SECRET: 'a-shared-secret-of-at-least-32-characters',
      // Nothing may land in the embedded data directory in this mode.
      EARSHOT_DATA_DIR: dataDir,
    };
  });

  after(async () => {
    const running = children.filter((c) => c.exitCode === null && c.signalCode === null);
    await Promise.all(
      running.map(
        (c) =>
          new Promise((r) => {
            c.once('exit', r);
            c.kill('SIGTERM');
          }),
      ),
    );
    await db.drop();
    await s3.stop();
    await stopTestPostgres();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** Starts a command and resolves with its first JSON log entry whose message matches. */
  const start = (args: string[], msg: string) =>
    new Promise<{ child: ChildProcess; entry: Record<string, unknown> }>((resolvePromise, reject) => {
      const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d));
      createInterface({ input: child.stdout! }).on('line', (line) => {
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          if (entry.msg === msg) resolvePromise({ child, entry });
        } catch {}
      });
      child.once('exit', (code) => reject(new Error(`earshot ${args[0]} exited with ${code}: ${stderr}`)));
    });

  it('spreads one job over both worker processes and reports it through the API', async () => {
    const keyRun = spawnSync(process.execPath, [BIN, 'keys', 'create', '--tenant', 'acme'], { env, encoding: 'utf8' });
    assert.equal(keyRun.status, 0, keyRun.stderr);
    const key = keyRun.stdout.trim();
    const [{ entry: api }, w1, w2] = await Promise.all([
      start(['serve', '--port', '0', '--workers=false', '--auth', 'on'], 'earshot is listening'),
      start(['worker', '--pools', 'cpu', '--concurrency', '1'], 'worker started'),
      start(['worker', '--pools', 'cpu', '--concurrency', '1'], 'worker started'),
    ]);
    assert.equal(api.database, 'postgres');
    assert.equal(api.storage, 's3');
    const url = String(api.url);
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    const created = await fetch(`${url}/v1/jobs`, { method: 'POST', headers, body: JSON.stringify({ kind: 'diagnostics', input: { tasks: 8, sleep_ms: 150 } }) });
    assert.equal(created.status, 202);
    const { id } = (await created.json()) as { id: string };
    let job: { status: string; tasks: { key: string; state: string }[] } = { status: 'queued', tasks: [] };
    for (let i = 0; i < 150 && job.status !== 'succeeded' && job.status !== 'failed'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      job = (await (await fetch(`${url}/v1/jobs/${id}`, { headers })).json()) as typeof job;
    }
    assert.equal(job.status, 'succeeded');
    assert.equal(job.tasks.length, 10);
    // The gather step lists the processes that ran the sleeps: both workers, never the API process.
    const detail = spawnSync(process.execPath, [BIN, 'jobs', 'show', id], { env, encoding: 'utf8' });
    const gather = (JSON.parse(detail.stdout) as { tasks: { key: string; output: { pids: number[] } }[] }).tasks.find((t) => t.key === 'gather')!;
    assert.deepEqual([...gather.output.pids].sort(), [w1.child.pid, w2.child.pid].sort());
    // The workers leave on SIGTERM with nothing running and exit 0.
    for (const w of [w1.child, w2.child]) {
      const exited = new Promise((r) => w.once('exit', r));
      w.kill('SIGTERM');
      assert.equal(await exited, 0);
    }
    assert.deepEqual(readdirSync(dataDir), []);
  });
});
