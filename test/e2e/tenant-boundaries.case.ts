/**
 * Tenant boundaries against a hostile tenant, and what an idempotency key is bound to, through the
 * real app (auth on, two tenants, a real webhook receiver). Run against SQLite + disk and against
 * PostgreSQL + S3.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateApiKey } from '../../src/core/api-keys.js';
import { newId } from '../../src/core/ids.js';
import { encodeWav } from '../../src/core/wav.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';
import { form, type Earshot } from './transcription.harness.js';

/** What the app under test needs beyond its storage: auth on, webhooks to 127.0.0.1 allowed. */
export const boundaryFlags = { auth: 'on' } as const;
export const boundaryEnv = { EARSHOT_WEBHOOK_ALLOWLIST: '127.0.0.1' } as const;

export function tenantBoundaryCases(name: string, start: () => Promise<Earshot>): void {
  describe(`tenant boundaries and idempotency keys: ${name}`, () => {
    let e: Earshot;
    let hooks: WebhookReceiver;
    const keys: Record<'a' | 'b', Record<string, string>> = { a: {}, b: {} };
    const as = (t: 'a' | 'b') => keys[t];
    const uploadBlobs = async (tenant: string) => (await e.app.blobs.list(`tenants/${tenant}/uploads/`)).length;

    before(async () => {
      hooks = await startWebhookReceiver();
      e = await start();
      for (const t of ['a', 'b'] as const) {
        const tenantId = `tenant_${t}`;
        await e.app.store.createTenant({ id: tenantId, name: tenantId, createdAt: 0 });
        const k = generateApiKey();
        await e.app.store.createApiKey({ id: `key_${t}`, tenantId, name: t, prefix: k.prefix, createdAt: 0, revokedAt: null }, k.hash);
        keys[t] = { authorization: `Bearer ${k.key}` };
      }
    });
    after(async () => {
      await e?.close();
      await hooks?.close();
    });

    /** A job of tenant A that sends one webhook; resolves with the job id and its delivery id once it arrived. */
    const deliveredToA = async (path: string) => {
      const start = hooks.requests.length;
      const res = await e.call('POST', '/v1/jobs', { kind: 'diagnostics', input: { tasks: 1, sleep_ms: 0, webhook_url: `${hooks.url}${path}` } }, as('a'));
      assert.equal(res.status, 202, JSON.stringify(res.body));
      const hook = (await hooks.waitForRequests(start + 1, 30_000)).at(-1)!;
      return { jobId: res.body.id as string, deliveryId: String(hook.headers['earshot-delivery']) };
    };
    const receivedBy = (deliveryId: string) => hooks.requests.filter((r) => r.headers['earshot-delivery'] === deliveryId).length;

    it('refuses a client\'s notification job as an unknown kind, lists only public kinds, and delivers nothing', async () => {
      const a = await deliveredToA('/a');
      const res = await e.call('POST', '/v1/jobs', { kind: 'notification', input: { delivery_id: a.deliveryId, since: 0 } }, as('b'));
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'unknown_job_kind');
      assert.deepEqual([...res.body.error.details.kinds].sort(), ['diagnostics', 'transcription']);
      // Not even the tenant that owns the delivery may queue it by hand.
      assert.equal((await e.call('POST', '/v1/jobs', { kind: 'notification', input: { delivery_id: a.deliveryId, since: 0 } }, as('a'))).status, 400);
      assert.deepEqual((await e.call('GET', '/v1/jobs', undefined, as('b'))).body.data, []);
      assert.deepEqual(await e.app.engine.listJobs({ tenantId: 'tenant_b' }), []);
      // The docs offer the public kinds only.
      const submitDoc = (await e.call('GET', '/docs/json')).body.paths['/v1/jobs'].post;
      assert.match(submitDoc.description, /Kinds: diagnostics, transcription\./);
      assert.doesNotMatch(JSON.stringify(submitDoc), /notification/);
      assert.equal(receivedBy(a.deliveryId), 1);
    });

    it('keeps a tenant\'s deliveries out of another\'s reach, at the API and in the delivery step', async () => {
      const a = await deliveredToA('/a2');
      assert.equal((await e.call('GET', `/v1/jobs/${a.jobId}/deliveries`, undefined, as('b'))).status, 404);
      const own = await e.call('POST', '/v1/jobs', { kind: 'diagnostics', input: { tasks: 1, sleep_ms: 0 } }, as('b'));
      const redeliver = await e.call('POST', `/v1/jobs/${own.body.id}/deliveries/${a.deliveryId}/redeliver`, undefined, as('b'));
      assert.equal(redeliver.status, 404);
      assert.equal(redeliver.body.error.code, 'not_found');

      // Code of this process that names another tenant's delivery is refused at submission...
      await assert.rejects(
        e.app.engine.submit({ tenantId: 'tenant_b', kind: 'notification', input: { delivery_id: a.deliveryId, since: Date.now() }, internal: true }),
        (err: { code?: string }) => err.code === 'not_found',
      );
      // ...and a notification job stored for B anyway (straight into the store) finds no delivery to send.
      const now = Date.now();
      const { job } = await e.app.store.submitJob(
        {
          id: newId('job', now),
          tenantId: 'tenant_b',
          kind: 'notification',
          priority: 0,
          idempotencyKey: null,
          requestFingerprint: null,
          input: { delivery_id: a.deliveryId, since: now },
          tasks: [{ id: newId('task', now), key: 'deliver', type: 'notify.deliver', pool: 'io', input: null, dependsOn: [], alwaysRun: false, maxAttempts: 1 }],
        },
        now,
      );
      const done = await e.app.engine.waitFor(job.id, { settled: true, timeoutMs: 30_000 });
      assert.equal(done.status, 'failed');
      assert.equal(done.error?.code, 'not_found');
      assert.equal(done.tasks[0]!.output, null);
      assert.equal(receivedBy(a.deliveryId), 1, 'A\'s receiver got its delivery once');
    });

    it('refuses a job whose input names another tenant\'s upload, with 404 as for a missing one', async () => {
      const upload = await e.call('POST', '/v1/uploads', { filename: 'a.wav', content_type: 'audio/wav' }, as('a'));
      assert.equal(upload.status, 201, JSON.stringify(upload.body));
      const input = { source: { uploadId: upload.body.upload_id }, language: 'en', engine: 'pocketsphinx', formats: ['txt'] };
      const stolen = await e.call('POST', '/v1/jobs', { kind: 'transcription', input }, as('b'));
      assert.equal(stolen.status, 404, JSON.stringify(stolen.body));
      assert.deepEqual(stolen.body.error, { code: 'not_found', message: 'no such upload', details: { upload_id: upload.body.upload_id } });
      const missing = await e.call('POST', '/v1/jobs', { kind: 'transcription', input: { ...input, source: { uploadId: 'upl_0nothing' } } }, as('b'));
      assert.equal(missing.status, 404);
      assert.deepEqual((await e.call('GET', '/v1/jobs?kind=transcription', undefined, as('b'))).body.data, []);
      // The owner may.
      const own = await e.call('POST', '/v1/jobs', { kind: 'transcription', input }, as('a'));
      assert.equal(own.status, 202, JSON.stringify(own.body));
    });

    it('replays an identical multipart transcription under one key, without keeping its second upload', async () => {
      const wav = encodeWav(new Int16Array(16000), 16000);
      const key = { ...as('a'), 'idempotency-key': `tx-${name}` };
      const send = (fields: Record<string, string>) => e.call('POST', '/v1/transcriptions', form({ name: 'quiet.wav', bytes: wav, type: 'audio/wav' }, fields), key);
      const first = await send({ language: 'en', formats: 'txt' });
      assert.equal(first.status, 202, JSON.stringify(first.body));
      const stored = await uploadBlobs('tenant_a');

      const again = await send({ language: 'en', formats: 'txt' });
      assert.equal(again.status, 200, JSON.stringify(again.body));
      assert.equal(again.headers.get('idempotent-replayed'), 'true');
      assert.equal(again.body.id, first.body.id);
      assert.equal(await uploadBlobs('tenant_a'), stored, 'the replay keeps no second upload');

      const otherOptions = await send({ language: 'en', formats: 'txt,srt' });
      assert.equal(otherOptions.status, 409, JSON.stringify(otherOptions.body));
      assert.equal(otherOptions.body.error.code, 'conflict');
      assert.equal(otherOptions.body.error.details.job_id, first.body.id);
      const otherFile = await e.call('POST', '/v1/transcriptions', form({ name: 'other.wav', bytes: wav, type: 'audio/wav' }, { language: 'en', formats: 'txt' }), key);
      assert.equal(otherFile.status, 409);
      assert.equal(await uploadBlobs('tenant_a'), stored, 'a refused request keeps no upload');

      const otherKind = await e.call('POST', '/v1/jobs', { kind: 'diagnostics', input: {} }, key);
      assert.equal(otherKind.status, 409);
      assert.equal(otherKind.body.error.details.job_id, first.body.id);
      // Keys are per tenant: B's same key is B's own.
      const b = await e.call('POST', '/v1/jobs', { kind: 'diagnostics', input: {} }, { ...as('b'), 'idempotency-key': `tx-${name}` });
      assert.equal(b.status, 202);
    });

    it('binds a key first used for a diagnostics job to it: a transcription with that key is refused', async () => {
      const key = { ...as('b'), 'idempotency-key': `diag-${name}` };
      const diag = await e.call('POST', '/v1/jobs', { kind: 'diagnostics', input: { tasks: 1, sleep_ms: 0 } }, key);
      assert.equal(diag.status, 202);
      const stored = await uploadBlobs('tenant_b');
      const tx = await e.call('POST', '/v1/transcriptions', form({ name: 'quiet.wav', bytes: encodeWav(new Int16Array(16000), 16000), type: 'audio/wav' }, { language: 'en' }), key);
      assert.equal(tx.status, 409, JSON.stringify(tx.body));
      assert.equal(tx.body.error.code, 'conflict');
      assert.equal(tx.body.error.details.job_id, diag.body.id);
      assert.equal(await uploadBlobs('tenant_b'), stored);
    });
  });
}
