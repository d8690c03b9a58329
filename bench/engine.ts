/**
 * Engine benchmark: no-op task throughput (single-task jobs and a 1→N→1 fan-out DAG), submit rate and
 * wake-up latency, on SQLite and on PostgreSQL, printed as a table with the targets beside them.
 *
 *   npm run bench:engine -- [--only sqlite|postgres] [--tasks N] [--fanout-jobs N] [--fanout-width N]
 *                           [--workers N] [--concurrency N] [--claim-batch N] [--wakeups N] [--fsync-off] [--json]
 *
 * --json prints one JSON document on stdout; progress always goes to stderr. (npm prints its own
 * banner on stdout: use `npm run -s bench:engine -- --json` to pipe it.) PostgreSQL comes from
 * EARSHOT_DATABASE_URL, an empty scratch database, or else a throwaway server (test/support) at
 * PostgreSQL's default durability (fsync on; --fsync-off turns fsync, synchronous_commit and
 * full_page_writes off, as the tests run it). The table prints the server's settings beside the figures.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { keepDefaultDurability } from '../test/support/postgres.js';
import { openPostgres, openSqlite, type BackendName, type BenchBackend } from './engine-backends.js';
import {
  fanOutThroughput,
  singleTaskThroughput,
  wakeUpLatency,
  type LatencyResult,
  type SubmitResult,
  type ThroughputResult,
  type WorkerShape,
} from './engine-scenarios.js';

const TARGETS = {
  tasksPerSecond: { sqlite: 10_000, postgres: 5_000 } satisfies Record<BackendName, number>,
  wakeUpP99Ms: 20,
};

interface Config {
  backends: BackendName[];
  /** Single-task jobs per backend. */
  tasks: Record<BackendName, number>;
  fanoutJobs: number;
  fanoutWidth: number;
  shape: WorkerShape;
  submitParallel: number;
  wakeUps: { samples: number; warmup: number; gapMs: number; pollMs: number; shape: WorkerShape };
  json: boolean;
}

interface BackendResult {
  server: Record<string, string>;
  submit: SubmitResult;
  single: ThroughputResult;
  fanout: ThroughputResult;
  wakeUp: LatencyResult;
}

interface Check {
  backend: BackendName;
  measurement: string;
  value: number;
  unit: string;
  target: string;
  pass: boolean | null;
  setup: string;
}

const log = (message: string) => process.stderr.write(`${message}\n`);

function parseConfig(argv: string[]): Config {
  const { values } = parseArgs({
    args: argv,
    options: {
      only: { type: 'string' },
      tasks: { type: 'string' },
      'fanout-jobs': { type: 'string' },
      'fanout-width': { type: 'string' },
      workers: { type: 'string' },
      concurrency: { type: 'string' },
      'claim-batch': { type: 'string' },
      wakeups: { type: 'string' },
      'fsync-off': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const int = (name: string, value: string | undefined, fallback: number) => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} needs a positive integer, got "${value}"`);
    return n;
  };
  if (values.only !== undefined && values.only !== 'sqlite' && values.only !== 'postgres') {
    throw new Error(`--only takes sqlite or postgres, got "${values.only}"`);
  }
  const concurrency = int('concurrency', values.concurrency, 128);
  keepDefaultDurability(!values['fsync-off']);
  return {
    backends: values.only ? [values.only] : ['sqlite', 'postgres'],
    tasks: { sqlite: int('tasks', values.tasks, 20_000), postgres: int('tasks', values.tasks, 10_000) },
    fanoutJobs: int('fanout-jobs', values['fanout-jobs'], 50),
    fanoutWidth: int('fanout-width', values['fanout-width'], 100),
    shape: { workers: int('workers', values.workers, 1), concurrency, claimBatch: int('claim-batch', values['claim-batch'], concurrency) },
    submitParallel: 32,
    wakeUps: { samples: int('wakeups', values.wakeups, 200), warmup: 10, gapMs: 15, pollMs: 5000, shape: { workers: 1, concurrency: 4, claimBatch: 4 } },
    json: values.json,
  };
}

async function benchBackend(name: BackendName, config: Config): Promise<BackendResult> {
  const backend: BenchBackend = name === 'sqlite' ? await openSqlite() : await openPostgres(log);
  try {
    log(`${name}: submitting ${config.tasks[name]} single-task jobs, then running them`);
    const { submit, run: single } = await singleTaskThroughput(backend, { jobs: config.tasks[name], shape: config.shape, submitParallel: config.submitParallel });
    log(`${name}: ${Math.round(single.tasksPerSecond)} tasks/s; fan-out, ${config.fanoutJobs} jobs of 1→${config.fanoutWidth}→1`);
    const fanout = await fanOutThroughput(backend, { jobs: config.fanoutJobs, width: config.fanoutWidth, shape: config.shape, submitParallel: config.submitParallel });
    log(`${name}: ${Math.round(fanout.tasksPerSecond)} tasks/s; wake-up latency, ${config.wakeUps.samples} jobs`);
    const wakeUp = await wakeUpLatency(backend, config.wakeUps);
    log(`${name}: wake-up p99 ${wakeUp.p99Ms.toFixed(2)} ms`);
    return { server: backend.server, submit, single, fanout, wakeUp };
  } finally {
    await backend.close();
  }
}

function shapeText(s: WorkerShape): string {
  return `${s.workers} worker${s.workers === 1 ? '' : 's'} × concurrency ${s.concurrency}, claimBatch ${s.claimBatch}`;
}

function checks(name: BackendName, r: BackendResult, config: Config): Check[] {
  const minRate = TARGETS.tasksPerSecond[name];
  const shape = shapeText(config.shape);
  const rate = (measurement: string, t: ThroughputResult, setup: string): Check => ({
    backend: name, measurement, value: t.tasksPerSecond, unit: 'tasks/s', target: `≥ ${minRate.toLocaleString('en-US')}`, pass: t.tasksPerSecond >= minRate, setup,
  });
  const wake = (measurement: string, value: number, target?: number): Check => ({
    backend: name, measurement, value, unit: 'ms', target: target === undefined ? '' : `< ${target}`, pass: target === undefined ? null : value < target,
    setup: `${r.wakeUp.samples} jobs ${r.wakeUp.gapMs} ms apart, pollMs ${config.wakeUps.pollMs}`,
  });
  return [
    { backend: name, measurement: 'submit, single-task jobs', value: r.submit.jobsPerSecond, unit: 'jobs/s', target: '', pass: null, setup: `${r.submit.jobs} jobs, ${r.submit.parallel} parallel submitters` },
    rate('no-op, single-task jobs', r.single, `${r.single.tasks} tasks; ${shape}`),
    rate(`no-op, 1→${config.fanoutWidth}→1 fan-out`, r.fanout, `${r.fanout.jobs} jobs × ${config.fanoutWidth + 2} tasks; ${shape}`),
    wake('wake-up latency p50', r.wakeUp.p50Ms),
    wake('wake-up latency p99', r.wakeUp.p99Ms, TARGETS.wakeUpP99Ms),
    wake('wake-up latency max', r.wakeUp.maxMs),
  ];
}

function formatValue(c: Check): string {
  return c.unit === 'ms' ? `${c.value.toFixed(2)} ms` : `${Math.round(c.value).toLocaleString('en-US')} ${c.unit}`;
}

/** A plain-text table: console.table would add an index column and quote every string. */
function table(rows: readonly Check[]): string {
  const header = ['backend', 'measurement', 'result', 'target', 'pass', 'setup'];
  const cells = rows.map((c) => [c.backend, c.measurement, formatValue(c), c.target, c.pass === null ? '' : c.pass ? 'PASS' : 'FAIL', c.setup]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((v, i) => (i === 2 ? v.padStart(widths[i]!) : v.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

function machine() {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
  };
}

async function main(): Promise<void> {
  const config = parseConfig(process.argv.slice(2));
  const results: Partial<Record<BackendName, BackendResult>> = {};
  for (const name of config.backends) results[name] = await benchBackend(name, config);
  const rows = config.backends.flatMap((name) => checks(name, results[name]!, config));
  const info = machine();
  if (config.json) {
    const { json: _json, ...settings } = config;
    process.stdout.write(`${JSON.stringify({ machine: info, config: settings, targets: TARGETS, results, checks: rows }, null, 2)}\n`);
    return;
  }
  process.stdout.write(`Earshot engine benchmark — ${info.cpus} × ${info.cpuModel}, ${info.memoryGiB} GiB, node ${info.node}\n`);
  for (const name of config.backends) {
    const server = Object.entries(results[name]!.server).map(([k, v]) => `${k} ${v}`).join(', ');
    process.stdout.write(`${name}: ${server}\n`);
  }
  process.stdout.write(`\n${table(rows)}\n`);
}

main().catch((err: unknown) => {
  log(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
