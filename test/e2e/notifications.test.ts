/**
 * Notifications end to end on the embedded default (SQLite + disk): a real SMTP server and a real
 * webhook receiver, both started here. E-mails carry signed download links that work until they
 * expire; webhooks are signed, retried with backoff, logged per job and can be sent again.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { verifyWebhookSignature } from '../../src/core/webhook-signature.js';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp-server.js';
import { startWebhookReceiver, type ReceivedWebhook, type WebhookReceiver } from '../support/webhook-receiver.js';
import { form, SENSE, startEarshot, testEngines, type Earshot } from './transcription.harness.js';

const dir = mkdtempSync(join(tmpdir(), 'earshot-notify-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const LINK_SECONDS = 6;

/** The download links of a notification e-mail, by result name ("  txt: https://..."). */
function mailLinks(text: string): Record<string, string> {
  return Object.fromEntries([...text.matchAll(/^ {2}([\w.]+): (http\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
}

function assertSigned(req: ReceivedWebhook, secret: string): void {
  const header = req.headers['earshot-signature'] as string | undefined;
  assert.ok(header, 'Earshot-Signature header');
  assert.ok(verifyWebhookSignature(header, secret, req.body, { nowSeconds: Math.floor(Date.now() / 1000) }), `signature ${header} does not verify`);
  assert.ok(!verifyWebhookSignature(header, secret, `${req.body} `, { nowSeconds: Math.floor(Date.now() / 1000) }), 'a changed body must not verify');
  assert.match(String(req.headers['earshot-delivery']), /^dlv_[0-9a-f]+$/);
  assert.equal(req.headers['earshot-event'], JSON.parse(req.body).type);
}

describe('notifications on the embedded default', () => {
  let smtp: TestSmtpServer;
  let hooks: WebhookReceiver;
  let earshot: Earshot;
  let secret: string;
  /** Answers of the receiver by path: a queue of statuses, then 200. */
  const script = new Map<string, number[]>();

  before(async () => {
    smtp = await startSmtpServer();
    // A status of 0 in a script means: never answer (the sender must time out).
    hooks = await startWebhookReceiver((req) => {
      const status = script.get(req.path)?.shift() ?? 200;
      return status === 0 ? 'hang' : { status, body: 'thanks' };
    });
    earshot = await startEarshot(
      { 'data-dir': dir },
      {
        EARSHOT_SMTP_URL: smtp.url,
        EARSHOT_SMTP_FROM: 'Earshot Test <earshot@example.test>',
        EARSHOT_EMAIL_LINK_SECONDS: String(LINK_SECONDS),
        EARSHOT_WEBHOOK_ALLOWLIST: '127.0.0.1',
        EARSHOT_NOTIFY_RETRY_MS: '400',
        EARSHOT_WEBHOOK_TIMEOUT_MS: '1000',
      },
      { engines: testEngines() },
    );
    // Zero set-up: the tenant's secret is generated on first use and shown to the tenant.
    const webhook = await earshot.call('GET', '/v1/webhook');
    assert.equal(webhook.status, 200);
    assert.equal(webhook.body.secret_source, 'tenant');
    secret = webhook.body.secret;
    assert.match(secret, /^whsec_/);
  });
  after(async () => {
    await earshot?.close();
    await hooks?.close();
    await smtp?.close();
  });

  it('a finished transcription e-mails download links that work until they expire, and sends a signed webhook', async () => {
    const res = await earshot.call(
      'POST',
      '/v1/transcriptions',
      form(SENSE.file, { language: 'en', formats: 'txt,srt', notify_email: 'ann@example.test', webhook_url: `${hooks.url}/ok` }),
    );
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const job = await earshot.waitForJob(res.body.id);
    assert.equal(job.status, 'succeeded');
    assert.ok(job.steps.some((s: { step: string }) => s.step === 'notify.job'), 'the job ends with its notify step');

    const [mail] = await smtp.waitForMessages(1, 30_000);
    assert.deepEqual(mail!.to, ['ann@example.test']);
    assert.match(mail!.from, /earshot@example\.test/);
    assert.match(mail!.subject, /ready/i);
    assert.match(mail!.subject, /sense_and_sensibility/);
    const links = mailLinks(mail!.text);
    assert.deepEqual(Object.keys(links).sort(), ['srt', 'txt']);
    const transcript = (await earshot.call('GET', `/v1/transcriptions/${job.id}?format=txt`)).body as string;
    assert.ok(transcript.length > 20);
    const download = await fetch(links.txt!);
    assert.equal(download.status, 200);
    assert.equal(await download.text(), transcript);

    const [hook] = await hooks.waitForRequests(1, 30_000);
    assertSigned(hook!, secret);
    const event = JSON.parse(hook!.body);
    assert.equal(event.type, 'job.succeeded');
    assert.equal(event.data.job.id, job.id);
    assert.equal(event.data.job.status, 'succeeded');
    assert.equal(event.data.results.txt.url, `${earshot.base}/v1/transcriptions/${job.id}?format=txt`);

    const log = (await earshot.call('GET', `/v1/jobs/${job.id}/deliveries`)).body.data;
    assert.deepEqual(log.map((d: { channel: string; state: string }) => `${d.channel}:${d.state}`).sort(), ['email:delivered', 'webhook:delivered']);
    assert.equal(log.find((d: { channel: string }) => d.channel === 'webhook').id, hook!.headers['earshot-delivery']);

    // After the link's lifetime the same URL is refused.
    await new Promise((r) => setTimeout(r, LINK_SECONDS * 1000 + 1500));
    const late = await fetch(links.txt!);
    assert.equal(late.status, 403);
  });

  it('a failed transcription e-mails the reason and sends a signed job.failed', async () => {
    const before = { mails: smtp.messages.length, hooks: hooks.requests.length };
    const res = await earshot.call(
      'POST',
      '/v1/transcriptions',
      form({ name: 'notes.mp3', bytes: Buffer.from('this is a text file, not audio\n'.repeat(50)) }, { notify_email: 'bob@example.test', webhook_url: `${hooks.url}/failed` }),
    );
    assert.equal(res.status, 202);
    const job = await earshot.waitForJob(res.body.id);
    assert.equal(job.status, 'failed');
    const mails = await smtp.waitForMessages(before.mails + 1, 30_000);
    const mail = mails.at(-1)!;
    assert.deepEqual(mail.to, ['bob@example.test']);
    assert.match(mail.subject, /failed: notes\.mp3/);
    assert.match(mail.text, /unsupported_media/);
    assert.deepEqual(mailLinks(mail.text), {});
    const hook = (await hooks.waitForRequests(before.hooks + 1, 30_000)).at(-1)!;
    assertSigned(hook, secret);
    const event = JSON.parse(hook.body);
    assert.equal(event.type, 'job.failed');
    assert.equal(event.data.job.error.code, 'unsupported_media');
    assert.equal(event.data.results, undefined);
  });

  it('a receiver that fails 3 times gets one successful delivery after backoff, and the log shows all 4 attempts', async () => {
    script.set('/flaky', [500, 503, 500]);
    const start = hooks.requests.length;
    const res = await earshot.call('POST', '/v1/jobs', { kind: 'diagnostics', input: { tasks: 1, sleep_ms: 0, webhook_url: `${hooks.url}/flaky` } });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    await earshot.waitForJob(res.body.id);
    const all = await hooks.waitForRequests(start + 4, 30_000);
    await new Promise((r) => setTimeout(r, 1500)); // nothing more must come
    const received = hooks.requests.slice(start).filter((r) => r.path === '/flaky');
    assert.equal(received.length, 4, 'three failures and one success, no more');
    assert.equal(new Set(received.map((r) => r.headers['earshot-delivery'])).size, 1, 'one delivery id across retries');
    for (const r of all.slice(start)) assertSigned(r, secret);

    const [delivery] = (await earshot.call('GET', `/v1/jobs/${res.body.id}/deliveries`)).body.data;
    assert.equal(delivery.state, 'delivered');
    assert.equal(delivery.attempts, 4);
    assert.deepEqual(
      delivery.attempt_log.map((a: { status_code: number; ok: boolean }) => [a.status_code, a.ok]),
      [
        [500, false],
        [503, false],
        [500, false],
        [200, true],
      ],
    );
    // Exponential backoff (400 ms doubling, less up to half of jitter): the waits grow.
    const at = delivery.attempt_log.map((a: { at: string }) => Date.parse(a.at));
    const gaps = at.slice(1).map((t: number, i: number) => t - at[i]);
    gaps.forEach((gap: number, i: number) => assert.ok(gap >= 0.5 * 400 * 2 ** i - 50, `wait ${i + 1} was ${gap} ms`));

    // Redelivery: the same event and delivery id, one more attempt in the log.
    const again = await earshot.call('POST', `/v1/jobs/${res.body.id}/deliveries/${delivery.id}/redeliver`);
    assert.equal(again.status, 202);
    await hooks.waitForRequests(hooks.requests.length + 1, 15_000);
    const fifth = hooks.requests.at(-1)!;
    assert.equal(fifth.headers['earshot-delivery'], delivery.id);
    assert.equal(fifth.body, received[0]!.body);
    let logged = delivery;
    for (let i = 0; i < 50 && logged.attempts < 5; i++) {
      await new Promise((r) => setTimeout(r, 100));
      [logged] = (await earshot.call('GET', `/v1/jobs/${res.body.id}/deliveries`)).body.data;
    }
    assert.equal(logged.attempts, 5);
    assert.equal(logged.state, 'delivered');
  });

  it('a receiver that does not answer in time is tried again', async () => {
    script.set('/slow', [0]);
    const res = await earshot.call('POST', '/v1/jobs', { kind: 'diagnostics', input: { tasks: 1, sleep_ms: 0, webhook_url: `${hooks.url}/slow` } });
    await earshot.waitForJob(res.body.id);
    let delivery: { state: string; attempt_log: { ok: boolean; error: string | null; duration_ms: number }[] } | undefined;
    for (let i = 0; i < 100 && delivery?.state !== 'delivered'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      [delivery] = (await earshot.call('GET', `/v1/jobs/${res.body.id}/deliveries`)).body.data;
    }
    assert.equal(delivery!.state, 'delivered');
    const [first, second] = delivery!.attempt_log;
    assert.match(first!.error ?? '', /^webhook_unreachable: /);
    assert.ok(first!.duration_ms >= 900, `the first attempt waited for the 1 s timeout (${first!.duration_ms} ms)`);
    assert.equal(second!.ok, true);
  });

  it('a tenant endpoint receives progress when it asks for job.progress', async () => {
    const put = await earshot.call('PUT', '/v1/webhook', { url: `${hooks.url}/tenant`, events: ['job.succeeded', 'job.progress'] });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal(put.body.secret, secret, 'setting the endpoint keeps the secret');
    try {
      const res = await earshot.call('POST', '/v1/jobs', { kind: 'diagnostics', input: { tasks: 2, sleep_ms: 50 } });
      await earshot.waitForJob(res.body.id);
      let events: string[] = [];
      for (let i = 0; i < 100 && !events.includes('job.succeeded'); i++) {
        await new Promise((r) => setTimeout(r, 100));
        events = hooks.requests.filter((r) => r.path === '/tenant').map((r) => JSON.parse(r.body).type);
      }
      const tenantHooks = hooks.requests.filter((r) => r.path === '/tenant');
      for (const r of tenantHooks) assertSigned(r, secret);
      const steps = tenantHooks.filter((r) => JSON.parse(r.body).type === 'job.progress').map((r) => JSON.parse(r.body).data.step);
      assert.deepEqual(steps.sort(), ['diagnostics.gather', 'diagnostics.plan', 'diagnostics.sleep']);
      assert.equal(events.filter((e) => e === 'job.succeeded').length, 1);
    } finally {
      await earshot.call('PUT', '/v1/webhook', { url: null });
    }
  });

  it('refuses webhook URLs on loopback, private and link-local addresses that the allow-list does not name', async () => {
    for (const url of ['http://169.254.169.254/latest/meta-data/', 'http://10.1.2.3/hook', 'http://[::1]:9/hook', 'http://[::ffff:192.168.1.1]/x', 'ftp://example.test/x']) {
      const res = await earshot.call('POST', '/v1/transcriptions', form(SENSE.file, { webhook_url: url }));
      assert.equal(res.status, url.startsWith('ftp') ? 400 : 422, `${url}: ${JSON.stringify(res.body)}`);
      if (!url.startsWith('ftp')) assert.equal(res.body.error.code, 'webhook_refused');
    }
    const put = await earshot.call('PUT', '/v1/webhook', { url: 'http://192.168.0.10/hook' });
    assert.equal(put.status, 422);
    assert.equal(put.body.error.code, 'webhook_refused');
    // Jobs submitted by hand are checked too.
    const job = await earshot.call('POST', '/v1/jobs', { kind: 'diagnostics', input: { webhook_url: 'http://172.16.0.1/' } });
    assert.equal(job.status, 422);
  });

  it('rotating the secret: both sign during the overlap asked for, then only the new one', async () => {
    const sendOne = async (path: string) => {
      const start = hooks.requests.length;
      const res = await earshot.call('POST', '/v1/jobs', { kind: 'diagnostics', input: { tasks: 1, sleep_ms: 0, webhook_url: `${hooks.url}${path}` } });
      await earshot.waitForJob(res.body.id);
      return (await hooks.waitForRequests(start + 1, 15_000)).at(-1)!;
    };
    const verifies = (hook: ReceivedWebhook, key: string) =>
      verifyWebhookSignature(hook.headers['earshot-signature'] as string, key, hook.body, { nowSeconds: Math.floor(Date.now() / 1000) });

    const overlapping = await earshot.call('POST', '/v1/webhook/rotate-secret', { keep_previous_seconds: 3600 });
    assert.equal(overlapping.status, 200, JSON.stringify(overlapping.body));
    assert.notEqual(overlapping.body.secret, secret);
    assert.ok(Date.parse(overlapping.body.previous_secret_expires_at) > Date.now() + 3500_000);
    const during = await sendOne('/rotating');
    assert.equal((during.headers['earshot-signature'] as string).split(',').filter((p) => p.startsWith('v1=')).length, 2);
    assert.ok(verifies(during, secret), 'receivers still on the old secret accept it');
    assertSigned(during, overlapping.body.secret);

    const abrupt = await earshot.call('POST', '/v1/webhook/rotate-secret');
    assert.equal(abrupt.body.previous_secret_expires_at, null);
    const after = await sendOne('/rotated');
    assertSigned(after, abrupt.body.secret);
    assert.ok(!verifies(after, overlapping.body.secret));
    assert.ok(!verifies(after, secret));
    secret = abrupt.body.secret;
  });
});

describe('notifications without a mail server', () => {
  it('refuses notify_email at submission with email_unavailable', async () => {
    const other = mkdtempSync(join(tmpdir(), 'earshot-nomail-'));
    const earshot = await startEarshot({ 'data-dir': other }, {}, { engines: testEngines() });
    try {
      const res = await earshot.call('POST', '/v1/transcriptions', form(SENSE.file, { notify_email: 'ann@example.test' }));
      assert.equal(res.status, 422);
      assert.equal(res.body.error.code, 'email_unavailable');
    } finally {
      await earshot.close();
      rmSync(other, { recursive: true, force: true });
    }
  });
});
