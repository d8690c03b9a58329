/**
 * Throwaway PostgreSQL for tests and benchmarks.
 *
 * - `npm test` (scripts/test.sh) starts ONE server for the whole run via postgres-cli.ts and
 *   exports EARSHOT_TEST_DATABASE_URL; every test-file process then reuses it.
 * - Without that variable, startPostgres() starts a private server for this process, so a
 *   single test file or a benchmark still runs on its own.
 * - Each test file gets its own database (createDatabase), usually cloned from a template
 *   that holds the migrated schema (templateDatabase), which is much faster than migrating.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

export const DATABASE_URL_ENV = 'EARSHOT_TEST_DATABASE_URL';

export interface PostgresServer {
  /** URL of the maintenance database; use createDatabase() for a database of your own. */
  url: string;
  stop(): Promise<void>;
}

/** A cluster this code created: its URL and the temp dir holding data, socket and log. */
export interface Cluster {
  url: string;
  dir: string;
}

const DIR_PREFIX = 'earshot-pg-';
// Durability is pointless for throwaway test data and costs most of the time.
const NOT_DURABLE = ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off'];
const SETTINGS = [
  'max_connections=200', // several test files run at once, each with its own pools
];
let durable = false;

/** Throwaway servers started from now on run at PostgreSQL's default durability (fsync on), as benchmarks compare. */
export function keepDefaultDurability(on = true): void {
  durable = on;
}

// ---------------------------------------------------------------- running the binaries

// PostgreSQL refuses to run as root, so as root everything runs as the `postgres` user.
const asRoot = process.getuid?.() === 0;

function findBinDir(): string {
  try {
    const dir = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8', stdio: 'pipe' }).trim();
    if (fs.existsSync(path.join(dir, 'initdb'))) return dir;
  } catch {
    // no pg_config: fall through
  }
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root)
    ? fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb')))
    : [];
  versions.sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(root, versions[0], 'bin') : ''; // '' = rely on PATH
}

function runPg(binDir: string, cmd: string, args: string[], cwd: string): void {
  const exe = binDir ? path.join(binDir, cmd) : cmd;
  const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', exe, ...args]] : [exe, args];
  // cwd: the postgres user may not be allowed into the caller's working directory.
  const r = spawnSync(file, argv, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) {
    const why = r.error?.message ?? `exit ${r.status ?? r.signal}`;
    throw new Error(`${cmd} failed (${why}):\n${r.stdout ?? ''}${r.stderr ?? ''}`);
  }
}

function postgresUser(): { uid: number; gid: number } {
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    throw new Error('running as root needs a `postgres` system user (apt-get install postgresql)');
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function waitUntilReady(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = new pg.Client({ connectionString: url });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query('SELECT 1');
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`PostgreSQL at ${url} not ready: ${String(err)}`);
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      await client.end().catch(() => {});
    }
  }
}

// ---------------------------------------------------------------- stopping, synchronously

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Stops a cluster and deletes its dir. Sends SIGQUIT to the postmaster, which is exactly what
 * `pg_ctl stop -m immediate` does, but without spawning anything, so it also works from an
 * 'exit' handler and needs no runuser (root may signal the postgres user's processes).
 */
export function stopCluster(dir: string): void {
  let pid = 0;
  try {
    pid = Number(fs.readFileSync(path.join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    // never started, or already stopped cleanly
  }
  if (pid > 0 && isAlive(pid)) {
    process.kill(pid, 'SIGQUIT');
    for (let i = 0; i < 200 && isAlive(pid); i++) sleepSync(50);
    if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  }
  fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
}

// Clusters this process must not leave behind if it exits without calling stop().
const owned = new Set<string>();
let handlersInstalled = false;

function stopOwned(): void {
  for (const dir of owned) {
    try {
      stopCluster(dir);
    } catch {
      // best effort while exiting
    }
  }
  owned.clear();
}

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', stopOwned);
  // A fatal signal skips 'exit' handlers; clean up, then let the signal take its usual effect
  // unless someone else (e.g. the test harness) also listens and will handle it.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      stopOwned();
      process.removeListener(sig, onSignal);
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}

/**
 * Removes clusters whose owner process died without cleaning up (e.g. SIGKILL), so a killed
 * run leaks a server only until the next run. Dirs without an owner.pid are never touched
 * (one may be being created right now by another process).
 */
function sweepAbandoned(): void {
  for (const name of fs.readdirSync(os.tmpdir())) {
    if (!name.startsWith(DIR_PREFIX)) continue;
    const dir = path.join(os.tmpdir(), name);
    try {
      const owner = Number(fs.readFileSync(path.join(dir, 'owner.pid'), 'utf8'));
      if (owner > 0 && !isAlive(owner)) stopCluster(dir);
    } catch {
      // not ours to judge, or gone already
    }
  }
}

// ---------------------------------------------------------------- starting

/**
 * initdb + start a fresh cluster in a new temp dir. It is stopped when `ownerPid` (normally
 * this process) exits; `detached` clusters (started by postgres-cli.ts for a whole test run)
 * survive this process and must be stopped with stopCluster(dir).
 */
export async function startCluster(ownerPid: number, detached = false): Promise<Cluster> {
  sweepAbandoned();
  const binDir = findBinDir();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), DIR_PREFIX));
  owned.add(dir); // also covers a crash half-way through starting
  installExitHandlers();
  try {
    fs.writeFileSync(path.join(dir, 'owner.pid'), `${ownerPid}\n`);
    if (asRoot) {
      const { uid, gid } = postgresUser();
      fs.chownSync(dir, uid, gid);
    }
    const data = path.join(dir, 'data');
    const initdbArgs = ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'];
    runPg(binDir, 'initdb', initdbArgs, dir);

    // The free port can be taken between probing and binding; retry with another one.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      try {
        runPg(binDir, 'pg_ctl', pgCtlStartArgs(dir, port), dir);
      } catch (err) {
        if (attempt >= 3) {
          let log = '';
          try {
            log = fs.readFileSync(path.join(dir, 'postgres.log'), 'utf8');
          } catch {
            // pg_ctl failed before postgres wrote anything
          }
          throw new Error(`${(err as Error).message}\n--- postgres.log ---\n${log}`);
        }
        continue;
      }
      const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
      await waitUntilReady(url);
      if (detached) owned.delete(dir);
      return { url, dir };
    }
  } catch (err) {
    owned.delete(dir);
    stopCluster(dir);
    throw err;
  }
}

function pgCtlStartArgs(dir: string, port: number): string[] {
  const opts = [`-c listen_addresses=127.0.0.1 -p ${port} -c unix_socket_directories='${dir}'`, ...[...(durable ? [] : NOT_DURABLE), ...SETTINGS].map((s) => `-c ${s}`)];
  return ['start', '-w', '-t', '60', '-D', path.join(dir, 'data'), '-l', path.join(dir, 'postgres.log'), '-o', opts.join(' ')];
}

/** Like runPg, without blocking the event loop (children of this process keep being served meanwhile). */
function runPgAsync(cmd: string, args: string[], cwd: string): Promise<void> {
  const exe = path.join(findBinDir(), cmd);
  const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', exe, ...args]] : [exe, args];
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (out += d));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} failed (exit ${code}):\n${out}`))));
  });
}

/**
 * Stops a cluster's server and keeps its data (an outage): `pg_ctl stop -m fast`, which ends every
 * session with admin_shutdown (57P01), then refuses connections. Only for a cluster of your own.
 */
export function stopServer(cluster: Cluster): Promise<void> {
  return runPgAsync('pg_ctl', ['stop', '-w', '-m', 'fast', '-D', path.join(cluster.dir, 'data')], cluster.dir);
}

/** Starts a server stopped by stopServer again, on the same port; resolves once it accepts connections. */
export async function restartServer(cluster: Cluster): Promise<void> {
  await runPgAsync('pg_ctl', pgCtlStartArgs(cluster.dir, Number(new URL(cluster.url).port)), cluster.dir);
  await waitUntilReady(cluster.url);
}

// One server per process, shared by all callers; stopped when the last caller stops it.
let shared: { cluster: Promise<Cluster>; refs: number } | undefined;

/** The run-wide server from EARSHOT_TEST_DATABASE_URL if set, else a private one. */
export async function startPostgres(): Promise<PostgresServer> {
  const envUrl = process.env[DATABASE_URL_ENV];
  if (envUrl) return { url: envUrl, stop: async () => {} };

  const s = (shared ??= { cluster: startCluster(process.pid), refs: 0 });
  s.refs++;
  let cluster: Cluster;
  try {
    cluster = await s.cluster;
  } catch (err) {
    if (shared === s) shared = undefined;
    throw err;
  }
  let stopped = false;
  return {
    url: cluster.url,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      if (--s.refs > 0) return;
      if (shared === s) shared = undefined;
      owned.delete(cluster.dir);
      stopCluster(cluster.dir);
    },
  };
}

// ---------------------------------------------------------------- databases

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** URL of database `name` on the same server as `serverUrl`. */
export function databaseUrl(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${encodeURIComponent(name)}`;
  return url.toString();
}

let nameCounter = 0;
/** A database name unique across concurrent test processes (lower case, <= 63 bytes). */
export function uniqueDatabaseName(prefix: string): string {
  const clean = prefix.toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 30);
  return `${clean}_${process.pid}_${Date.now().toString(36)}_${nameCounter++}`;
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const errorCode = (err: unknown) => (err as { code?: string }).code;

/** CREATE DATABASE `name` (optionally from `template`); returns its URL. */
export async function createDatabase(
  serverUrl: string,
  name: string,
  options: { template?: string } = {},
): Promise<string> {
  let sql = `CREATE DATABASE ${quoteIdent(name)}`;
  if (options.template) sql += ` TEMPLATE ${quoteIdent(options.template)}`;
  await withClient(serverUrl, async (c) => {
    // Cloning fails while anyone is connected to the template (e.g. a setup pool that is
    // still closing), so retry "object in use" for a while.
    for (let attempt = 1; ; attempt++) {
      try {
        await c.query(sql);
        return;
      } catch (err) {
        if (errorCode(err) !== '55006' || attempt >= 50) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  });
  return databaseUrl(serverUrl, name);
}

/** DROP DATABASE IF EXISTS, disconnecting any remaining sessions (PostgreSQL 13+). */
export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  await withClient(serverUrl, async (c) => {
    // Template databases cannot be dropped until unmarked.
    const r = await c.query('SELECT 1 FROM pg_database WHERE datname = $1 AND datistemplate', [name]);
    if (r.rowCount) await c.query(`ALTER DATABASE ${quoteIdent(name)} IS_TEMPLATE false`);
    await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
  });
}

const templates = new Map<string, Promise<string>>();

/**
 * Ensures template database `name` exists on the server, running `setup(url)` (e.g. the
 * migrations) into it only if it does not exist yet; returns `name` for
 * createDatabase(..., { template }). `setup` must close its connections before returning.
 *
 * Concurrent callers in this process share one promise; callers in other processes serialise
 * on an advisory lock. A database only counts as done once marked IS_TEMPLATE, so one left
 * half-built by a crashed setup is rebuilt. The template lives as long as the server: on a
 * long-lived EARSHOT_TEST_DATABASE_URL server, put a schema version in `name`.
 */
export function templateDatabase(
  serverUrl: string,
  name: string,
  setup: (url: string) => Promise<void>,
): Promise<string> {
  const key = `${serverUrl}\0${name}`;
  let p = templates.get(key);
  if (!p) {
    p = buildTemplate(serverUrl, name, setup);
    templates.set(key, p);
    p.catch(() => templates.delete(key));
  }
  return p;
}

async function buildTemplate(
  serverUrl: string,
  name: string,
  setup: (url: string) => Promise<void>,
): Promise<string> {
  await withClient(serverUrl, async (c) => {
    await c.query('SELECT pg_advisory_lock(hashtext($1))', [`earshot-template:${name}`]);
    try {
      const r = await c.query<{ datistemplate: boolean }>(
        'SELECT datistemplate FROM pg_database WHERE datname = $1',
        [name],
      );
      if (r.rows[0]?.datistemplate) return;
      if (r.rows[0]) await c.query(`DROP DATABASE ${quoteIdent(name)} WITH (FORCE)`);
      await c.query(`CREATE DATABASE ${quoteIdent(name)}`);
      try {
        await setup(databaseUrl(serverUrl, name));
      } catch (err) {
        await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
        throw err;
      }
      await c.query(`ALTER DATABASE ${quoteIdent(name)} IS_TEMPLATE true`);
    } finally {
      await c.query('SELECT pg_advisory_unlock(hashtext($1))', [`earshot-template:${name}`]);
    }
  });
  return name;
}
