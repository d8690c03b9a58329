/**
 * A real Earshot for end-to-end tests: the app as `earshot serve` builds it (createApp +
 * createHttpServer + a worker), on whatever configuration the test gives, listening on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { createAsrEngines } from '../../src/adapters/asr/asr-engines.js';
import { createMockEngine, MOCK_CAPABILITIES } from '../../src/adapters/asr/mock/mock-engine.js';
import { createPocketsphinxEngine, POCKETSPHINX_CAPABILITIES } from '../../src/adapters/asr/pocketsphinx/pocketsphinx-engine.js';
import { createApp, createHttpServer, createWorker, type App, type AppOverrides } from '../../src/app.js';
import { loadConfig, type Flags } from '../../src/config/config.js';
import { wordErrorRate } from '../../src/core/wer.js';
import { silentLogger } from '../../src/ports/logger.js';
import { startS3Server, type TestS3Server } from '../support/s3-server.js';
import { SPEECH_DIR } from '../support/speech.js';
import { postgresTestDatabase, stopTestPostgres } from '../support/stores.js';

export interface Earshot {
  app: App;
  base: string;
  /** fetch against the server, JSON body parsed when there is one. */
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; headers: Headers }>;
  waitForJob(id: string, timeoutMs?: number): Promise<any>;
  close(): Promise<void>;
}

/** A port free right now, so signed URLs can name the port before the server listens. */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

export async function startEarshot(flags: Flags, env: NodeJS.ProcessEnv = {}, overrides: AppOverrides = {}): Promise<Earshot> {
  const port = await freePort();
  const config = loadConfig({ port: String(port), 'log-level': 'silent', ...flags }, env);
  const app = await createApp(config, { logger: silentLogger, ...overrides });
  const server = createHttpServer(app);
  const worker = createWorker(app, { pools: ['cpu', 'io', 'asr'], concurrency: 4 });
  await worker.start();
  await server.listen({ host: '127.0.0.1', port });
  const base = `http://127.0.0.1:${port}`;
  const call: Earshot['call'] = async (method, path, body, headers = {}) => {
    const init: RequestInit = { method, headers: { ...headers } };
    if (body instanceof FormData) init.body = body;
    else if (body !== undefined) {
      init.body = JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] = 'application/json';
    }
    const res = await fetch(`${base}${path}`, init);
    const text = await res.text();
    let parsed: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('json') && text) parsed = JSON.parse(text);
    return { status: res.status, body: parsed, headers: res.headers };
  };
  return {
    app,
    base,
    call,
    async waitForJob(id, timeoutMs = 120_000) {
      await app.engine.waitFor(id, { settled: true, timeoutMs });
      return (await call('GET', `/v1/jobs/${id}`)).body;
    },
    async close() {
      await server.close();
      await worker.stop(2000);
      await app.close();
    },
  };
}

/**
 * Earshot in distributed mode: a PostgreSQL database and an S3-protocol server of its own (both
 * started by `start`, with the test engines), plus any other flags and environment. `stop` drops and
 * stops what `start` made; the caller closes the Earshot itself.
 */
export function distributedEarshot(prefix: string, flags: Flags = {}, env: NodeJS.ProcessEnv = {}): { start(): Promise<Earshot>; stop(): Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), `earshot-${prefix}-`));
  let s3: TestS3Server | undefined;
  let db: { drop(): Promise<void> } | undefined;
  return {
    async start() {
      s3 = await startS3Server(`earshot-${prefix}`);
      const pg = await postgresTestDatabase(prefix);
      db = pg;
      return startEarshot(
        { 'data-dir': dir, 'database-url': pg.url, storage: `s3://${s3.bucket}/e2e`, 's3-endpoint': s3.endpoint, 's3-region': s3.region, ...flags },
        { EARSHOT_S3_ACCESS_KEY_ID: s3.accessKeyId, EARSHOT_S3_SECRET_ACCESS_KEY: s3.secretAccessKey, EARSHOT_SIGNING_SECRET: 'x'.repeat(40), ...env },
        { engines: testEngines() },
      );
    },
    async stop() {
      await db?.drop();
      await s3?.stop();
      await stopTestPostgres();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A multipart form with a file from shared/speech (or given bytes) and options. */
export function form(file: string | { name: string; bytes: Buffer; type?: string }, fields: Record<string, string> = {}): FormData {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) f.append(k, v);
  if (typeof file === 'string') f.append('file', new Blob([readFileSync(resolve(SPEECH_DIR, file))], { type: 'audio/wav' }), file.split('/').pop());
  else f.append('file', new Blob([file.bytes], { type: file.type ?? 'application/octet-stream' }), file.name);
  return f;
}

/** Asserts a transcript is close to its reference by word error rate. */
export function assertWer(reference: string, hypothesis: string, max: number): number {
  const { wer } = wordErrorRate(reference, hypothesis);
  assert.ok(wer <= max, `WER ${wer.toFixed(3)} > ${max}: "${hypothesis}" vs "${reference}"`);
  return wer;
}

export const SENSE = {
  file: 'pocketsphinx/sense_and_sensibility_01_austen_64kb-0870.wav',
  reference: 'and mister john dashwood had then leisure to consider how much there might be prudently in his power to do for them',
};

/** The real engines, except that `mock` always fails (to see retries and the dead letter). */
export const testEngines = () =>
  createAsrEngines('pocketsphinx', {
    pocketsphinx: { capabilities: POCKETSPHINX_CAPABILITIES, create: () => createPocketsphinxEngine() },
    mock: { capabilities: MOCK_CAPABILITIES, create: () => createMockEngine({ errorRate: 1 }) },
  });

