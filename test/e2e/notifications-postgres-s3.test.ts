/**
 * Notifications in distributed mode (PostgreSQL + S3): the e-mail's download link is a pre-signed
 * S3 URL, the webhook is signed, and the delivery log lives in PostgreSQL.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { verifyWebhookSignature } from '../../src/core/webhook-signature.js';
import { startS3Server, type TestS3Server } from '../support/s3-server.js';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp-server.js';
import { postgresTestDatabase, stopTestPostgres } from '../support/stores.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';
import { form, SENSE, startEarshot, testEngines, type Earshot } from './transcription.harness.js';

const dir = mkdtempSync(join(tmpdir(), 'earshot-notify-dist-'));
let s3: TestS3Server | undefined;
let db: { url: string; drop(): Promise<void> } | undefined;
let smtp: TestSmtpServer | undefined;
let hooks: WebhookReceiver | undefined;
let earshot: Earshot | undefined;
after(async () => {
  await earshot?.close();
  await hooks?.close();
  await smtp?.close();
  await db?.drop();
  await s3?.stop();
  await stopTestPostgres();
  rmSync(dir, { recursive: true, force: true });
});

it('PostgreSQL + S3: a finished transcription e-mails an S3 download link and sends a signed webhook', async () => {
  s3 = await startS3Server('earshot-notify');
  db = await postgresTestDatabase('notify');
  smtp = await startSmtpServer();
  hooks = await startWebhookReceiver();
  const secret = 'whsec_operator_secret_for_tests';
  earshot = await startEarshot(
    { 'data-dir': dir, 'database-url': db.url, storage: `s3://${s3.bucket}/e2e`, 's3-endpoint': s3.endpoint, 's3-region': s3.region },
    {
      EARSHOT_S3_ACCESS_KEY_ID: s3.accessKeyId,
      EARSHOT_S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      EARSHOT_SIGNING_SECRET: 'x'.repeat(40),
      EARSHOT_SMTP_URL: smtp.url,
      EARSHOT_WEBHOOK_SECRET: secret,
      EARSHOT_WEBHOOK_ALLOWLIST: '127.0.0.1',
    },
    { engines: testEngines() },
  );
  // The operator's secret signs; a tenant is not shown it.
  const webhook = (await earshot.call('GET', '/v1/webhook')).body;
  assert.deepEqual([webhook.secret, webhook.secret_source], [null, 'operator']);

  const res = await earshot.call('POST', '/v1/transcriptions', form(SENSE.file, { language: 'en', formats: 'txt', notify_email: 'ops@example.test', webhook_url: `${hooks.url}/dist` }));
  assert.equal(res.status, 202, JSON.stringify(res.body));
  const job = await earshot.waitForJob(res.body.id);
  assert.equal(job.status, 'succeeded');

  const [mail] = await smtp.waitForMessages(1, 30_000);
  const link = /^ {2}txt: (http\S+)$/m.exec(mail!.text)?.[1];
  assert.ok(link?.startsWith(s3.endpoint), `an S3 link: ${link}`);
  const transcript = (await earshot.call('GET', `/v1/transcriptions/${job.id}?format=txt`)).body as string;
  assert.equal(await (await fetch(link!)).text(), transcript);

  const [hook] = await hooks.waitForRequests(1, 30_000);
  assert.ok(verifyWebhookSignature(hook!.headers['earshot-signature'] as string, secret, hook!.body, { nowSeconds: Math.floor(Date.now() / 1000) }));
  assert.equal(JSON.parse(hook!.body).type, 'job.succeeded');

  const log = (await earshot.call('GET', `/v1/jobs/${job.id}/deliveries`)).body.data;
  assert.deepEqual(log.map((d: { channel: string; state: string; attempts: number }) => `${d.channel}:${d.state}:${d.attempts}`).sort(), ['email:delivered:1', 'webhook:delivered:1']);
});
