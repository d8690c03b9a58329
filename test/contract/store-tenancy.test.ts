/**
 * The Store's reads by id take the tenant, on both databases: a job, delivery or upload of another
 * tenant is not found (an empty tenant id included), and removing another tenant's upload does
 * nothing. Also what the store keeps of an idempotency key's request fingerprint.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { NewJob, Store } from '../../src/ports/store.js';
import { postgresTestStore, sqliteTestStore, stopTestPostgres } from '../support/stores.js';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups) await c();
  await stopTestPostgres();
});

let seq = 0;
const newJob = (tenantId: string, overrides: Partial<NewJob> = {}): NewJob => {
  seq++;
  return {
    id: `job_t${seq}`,
    tenantId,
    kind: 'test',
    priority: 0,
    idempotencyKey: null,
    requestFingerprint: null,
    input: {},
    tasks: [{ id: `task_t${seq}`, key: 'only', type: 'step', pool: 'nobody', input: null, dependsOn: [], alwaysRun: false, maxAttempts: 1 }],
    ...overrides,
  };
};

for (const [name, create] of [
  ['sqlite', sqliteTestStore],
  ['postgres', () => postgresTestStore('tenancy')],
] as const) {
  describe(`store reads by tenant: ${name}`, () => {
    let store: Store;
    const ready = (async () => {
      const s = await create();
      cleanups.push(s.cleanup);
      store = s.store;
    })();

    it('finds a job only for its own tenant; null reads across tenants', async () => {
      await ready;
      const { job } = await store.submitJob(newJob('tenant_a'), 1000);
      assert.equal((await store.getJob(job.id, 'tenant_a'))?.id, job.id);
      assert.equal(await store.getJob(job.id, 'tenant_b'), undefined);
      assert.equal(await store.getJob(job.id, ''), undefined);
      assert.equal((await store.getJob(job.id, null))?.tenantId, 'tenant_a');
    });

    it('finds a delivery and a job\'s delivery log only for their own tenant', async () => {
      await ready;
      const base = { jobId: 'job_d', channel: 'webhook', event: 'job.succeeded', target: 'https://hooks.example/x', payload: '{}', state: 'pending', attempts: 0, createdAt: 1, updatedAt: 1, deliveredAt: null } as const;
      await store.createDeliveries([{ ...base, id: 'dlv_t1', tenantId: 'tenant_a' }]);
      assert.equal((await store.getDelivery('dlv_t1', 'tenant_a'))?.id, 'dlv_t1');
      assert.equal(await store.getDelivery('dlv_t1', 'tenant_b'), undefined);
      assert.equal(await store.getDelivery('dlv_t1', ''), undefined);
      assert.equal((await store.listDeliveries('job_d', 'tenant_a')).length, 1);
      assert.deepEqual(await store.listDeliveries('job_d', 'tenant_b'), []);
      assert.deepEqual(await store.listDeliveries('job_d', ''), []);
    });

    it('finds and removes an upload only for its own tenant', async () => {
      await ready;
      const upload = { id: 'upl_t1', tenantId: 'tenant_a', blobKey: 'tenants/tenant_a/uploads/upl_t1/source', filename: null, contentType: null, sizeBytes: 4, jobId: null, createdAt: 1, expiresAt: 2 };
      await store.createUpload(upload);
      assert.equal(await store.getUpload('upl_t1', 'tenant_b'), undefined);
      assert.equal(await store.deleteUpload('upl_t1', 'tenant_b'), false);
      assert.deepEqual(await store.getUpload('upl_t1', 'tenant_a'), upload);
      assert.equal(await store.deleteUpload('upl_t1', 'tenant_a'), true);
      assert.equal(await store.getUpload('upl_t1', 'tenant_a'), undefined);
      assert.equal(await store.deleteUpload('upl_t1', 'tenant_a'), false);
    });

    it('keeps the fingerprint a key was first used with and hands it back on a repeat', async () => {
      await ready;
      const first = await store.submitJob(newJob('tenant_a', { idempotencyKey: 'k1', requestFingerprint: 'f1' }), 1000);
      assert.deepEqual([first.created, first.requestFingerprint], [true, 'f1']);
      const again = await store.submitJob(newJob('tenant_a', { idempotencyKey: 'k1', requestFingerprint: 'f2', kind: 'other' }), 1001);
      assert.deepEqual([again.created, again.job.id, again.job.kind, again.requestFingerprint], [false, first.job.id, 'test', 'f1']);
      const otherTenant = await store.submitJob(newJob('tenant_b', { idempotencyKey: 'k1', requestFingerprint: 'f2' }), 1002);
      assert.deepEqual([otherTenant.created, otherTenant.requestFingerprint], [true, 'f2']);
    });
  });
}
