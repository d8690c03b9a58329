/**
 * Notification benchmark on the embedded default (SQLite + disk), one process, one worker:
 *
 * 1. Jobs without notifications: N one-task diagnostics jobs, submit to settled.
 * 2. The same jobs with a webhook_url: each ends with the notify finaliser and one delivery job; the
 *    clock stops when the local receiver has every webhook. Latency: from the job's outcome (its last
 *    task finishing) to the receiver reading the request.
 * 3. The same with notify_email to a local SMTP server (smtp-server).
 *
 *   npm run bench:notify -- [--jobs N] [--concurrency N] [--json]
 *
 * What it answers: how much a notification costs a job, and how fast deliveries drain.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createApp, createWorker, LOCAL_TENANT, type App } from '../src/app.js';
import { loadConfig } from '../src/config/config.js';
import { outcomeAt } from '../src/pipelines/notify/events.js';
import { silentLogger } from '../src/ports/logger.js';
import { startSmtpServer } from '../test/support/smtp-server.js';
import { startWebhookReceiver } from '../test/support/webhook-receiver.js';

interface Row {
  scenario: string;
  jobs: number;
  wallSeconds: number;
  jobsPerSecond: number;
  p50Ms: number | null;
  p99Ms: number | null;
}

const { values } = parseArgs({ options: { jobs: { type: 'string', default: '300' }, concurrency: { type: 'string', default: '32' }, json: { type: 'boolean', default: false } } });
const JOBS = Number(values.jobs);
const CONCURRENCY = Number(values.concurrency);
const log = (m: string) => process.stderr.write(`${m}\n`);

const quantile = (xs: number[], q: number) => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor(q * s.length))]!);
};

async function withApp<T>(env: NodeJS.ProcessEnv, fn: (app: App) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'earshot-bench-notify-'));
  const app = await createApp(loadConfig({ 'data-dir': dir, 'log-level': 'silent' }, env), { logger: silentLogger });
  const worker = createWorker(app, { pools: ['cpu', 'io'], concurrency: CONCURRENCY });
  await worker.start();
  try {
    return await fn(app);
  } finally {
    await worker.stop(5000);
    await app.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function submitAll(app: App, input: (i: number) => Record<string, unknown>): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < JOBS; i++) {
    const { job } = await app.engine.submit({ tenantId: LOCAL_TENANT, kind: 'diagnostics', input: { tasks: 1, sleep_ms: 0, ...input(i) } as never });
    ids.push(job.id);
  }
  return ids;
}

/** When each job reached its outcome, as its notification says. */
async function outcomeTimes(app: App, ids: string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const id of ids) out.set(id, outcomeAt(await app.engine.getJob(id)));
  return out;
}

async function plain(): Promise<Row> {
  return withApp({}, async (app) => {
    const start = performance.now();
    const ids = await submitAll(app, () => ({}));
    for (const id of ids) await app.engine.waitFor(id, { settled: true, timeoutMs: 600_000 });
    const wall = (performance.now() - start) / 1000;
    return { scenario: 'no notification', jobs: JOBS, wallSeconds: wall, jobsPerSecond: JOBS / wall, p50Ms: null, p99Ms: null };
  });
}

async function webhooks(): Promise<Row> {
  const arrivals = new Map<string, number>();
  const receiver = await startWebhookReceiver((req) => {
    arrivals.set(JSON.parse(req.body).data.job.id as string, Date.now());
    return { status: 204 };
  });
  try {
    return await withApp({ EARSHOT_WEBHOOK_ALLOWLIST: '127.0.0.1' }, async (app) => {
      const start = performance.now();
      const ids = await submitAll(app, () => ({ webhook_url: `${receiver.url}/bench` }));
      await receiver.waitForRequests(JOBS, 600_000);
      const wall = (performance.now() - start) / 1000;
      const outcomes = await outcomeTimes(app, ids);
      const latencies = ids.map((id) => arrivals.get(id)! - outcomes.get(id)!);
      return { scenario: 'webhook', jobs: JOBS, wallSeconds: wall, jobsPerSecond: JOBS / wall, p50Ms: quantile(latencies, 0.5), p99Ms: quantile(latencies, 0.99) };
    });
  } finally {
    await receiver.close();
  }
}

async function emails(): Promise<Row> {
  const smtp = await startSmtpServer();
  try {
    return await withApp({ EARSHOT_SMTP_URL: smtp.url }, async (app) => {
      const start = performance.now();
      const ids = await submitAll(app, (i) => ({ notify_email: `user${i}@example.test` }));
      const messages = await smtp.waitForMessages(JOBS, 600_000);
      const arrivedAt = Date.now();
      const wall = (performance.now() - start) / 1000;
      const outcomes = await outcomeTimes(app, ids);
      // The test server does not stamp arrivals; the last one bounds every latency from above.
      const byJob = new Map(messages.map((m) => [/Job (job_\w+)/.exec(m.text)?.[1], arrivedAt]));
      const latencies = ids.filter((id) => byJob.has(id)).map((id) => byJob.get(id)! - outcomes.get(id)!);
      return { scenario: 'e-mail (SMTP)', jobs: JOBS, wallSeconds: wall, jobsPerSecond: JOBS / wall, p50Ms: null, p99Ms: quantile(latencies, 1) };
    });
  } finally {
    await smtp.close();
  }
}

log(`${JOBS} jobs per scenario, 1 worker × ${CONCURRENCY} in flight, SQLite + disk`);
const rows: Row[] = [];
for (const [name, run] of [
  ['no notification', plain],
  ['webhook', webhooks],
  ['e-mail', emails],
] as const) {
  log(`running: ${name}`);
  rows.push(await run());
}

if (values.json) {
  process.stdout.write(`${JSON.stringify({ jobs: JOBS, concurrency: CONCURRENCY, rows }, null, 2)}\n`);
} else {
  const header = ['scenario', 'jobs', 'wall s', 'jobs/s', 'latency p50 ms', 'latency p99 ms'];
  const lines = rows.map((r) => [r.scenario, String(r.jobs), r.wallSeconds.toFixed(2), r.jobsPerSecond.toFixed(1), r.p50Ms === null ? '-' : String(r.p50Ms), r.p99Ms === null ? '-' : String(r.p99Ms)]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log([fmt(header), fmt(widths.map((w) => '-'.repeat(w))), ...lines.map(fmt)].join('\n'));
  console.log('\nLatency: from the job\'s outcome to the receiver reading the webhook (e-mail: an upper bound, the last message\'s arrival).');
}
