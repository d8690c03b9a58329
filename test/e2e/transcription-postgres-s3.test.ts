import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { startS3Server, type TestS3Server } from '../support/s3-server.js';
import { postgresTestDatabase, stopTestPostgres } from '../support/stores.js';
import { transcriptionCases } from './transcription.case.js';
import { startEarshot, testEngines } from './transcription.harness.js';

const dir = mkdtempSync(join(tmpdir(), 'earshot-e2e-dist-'));
let s3: TestS3Server | undefined;
let db: { drop(): Promise<void> } | undefined;
after(async () => {
  await db?.drop();
  await s3?.stop();
  await stopTestPostgres();
  rmSync(dir, { recursive: true, force: true });
});

transcriptionCases('PostgreSQL + S3', async () => {
  s3 = await startS3Server('earshot-e2e');
  const pg = await postgresTestDatabase('e2e');
  db = pg;
  return startEarshot(
    { 'data-dir': dir, 'database-url': pg.url, storage: `s3://${s3.bucket}/e2e`, 's3-endpoint': s3.endpoint, 's3-region': s3.region },
    { EARSHOT_S3_ACCESS_KEY_ID: s3.accessKeyId, EARSHOT_S3_SECRET_ACCESS_KEY: s3.secretAccessKey, EARSHOT_SIGNING_SECRET: 'x'.repeat(40) },
    { engines: testEngines() },
  );
});
