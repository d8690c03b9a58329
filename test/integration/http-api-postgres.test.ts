import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import pg from 'pg';
import { startEarshot, testEngines } from '../e2e/transcription.harness.js';
import { startS3Server } from '../support/s3-server.js';
import { postgresTestDatabase, postgresTestStore, stopTestPostgres } from '../support/stores.js';
import { jobFlowCases } from './http-api.case.js';
import { MAX_UPLOAD_BYTES, uploadCases } from './http-api-uploads.case.js';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  await stopTestPostgres();
});

jobFlowCases({
  name: 'postgres',
  async create() {
    const { store, cleanup } = await postgresTestStore('http');
    await store.listening();
    cleanups.push(cleanup);
    return store;
  },
});

let databaseUrl = '';
uploadCases({
  name: 'PostgreSQL + S3',
  objectStore: true,
  async start() {
    const dir = mkdtempSync(join(tmpdir(), 'earshot-http-uploads-'));
    const s3 = await startS3Server('earshot-uploads');
    const db = await postgresTestDatabase('uploads');
    databaseUrl = db.url;
    cleanups.push(async () => {
      await db.drop();
      await s3.stop();
      rmSync(dir, { recursive: true, force: true });
    });
    return startEarshot(
      { 'data-dir': dir, 'database-url': db.url, storage: `s3://${s3.bucket}/http`, 's3-endpoint': s3.endpoint, 's3-region': s3.region, 'max-upload-bytes': String(MAX_UPLOAD_BYTES) },
      { EARSHOT_S3_ACCESS_KEY_ID: s3.accessKeyId, EARSHOT_S3_SECRET_ACCESS_KEY: s3.secretAccessKey, EARSHOT_SIGNING_SECRET: 'x'.repeat(40) },
      { engines: testEngines() },
    );
  },
  async uploadRows() {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      return Number((await client.query<{ n: string }>('SELECT count(*) AS n FROM uploads')).rows[0]!.n);
    } finally {
      await client.end();
    }
  },
});
