/**
 * The Store's notification tables on both databases: tenant webhook settings and secrets, deliveries
 * inserted once however often a finaliser runs, and the attempt log.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { DeliveryRecord, Store } from '../../src/ports/store.js';
import { postgresTestStore, sqliteTestStore, stopTestPostgres } from '../support/stores.js';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups) await c();
  await stopTestPostgres();
});

const delivery = (id: string, overrides: Partial<DeliveryRecord> = {}): DeliveryRecord => ({
  id,
  tenantId: 'local',
  jobId: 'job_1',
  channel: 'webhook',
  event: 'job.succeeded',
  target: 'https://hooks.example.com/x',
  payload: '{"type":"job.succeeded"}',
  state: 'pending',
  attempts: 0,
  createdAt: 1000,
  updatedAt: 1000,
  deliveredAt: null,
  ...overrides,
});

for (const [name, create] of [
  ['sqlite', sqliteTestStore],
  ['postgres', () => postgresTestStore('deliveries')],
] as const) {
  describe(`delivery store: ${name}`, () => {
    let store: Store;
    const ready = (async () => {
      const s = await create();
      cleanups.push(s.cleanup);
      store = s.store;
    })();

    it('keeps one secret per tenant, whoever asks first', async () => {
      await ready;
      const [a, b] = await Promise.all([store.ensureTenantWebhookSecret('t1', 'whsec_a', 1), store.ensureTenantWebhookSecret('t1', 'whsec_b', 2)]);
      assert.equal(a, b);
      const saved = await store.putTenantWebhook({ tenantId: 't1', url: 'https://x.example/h', events: ['job.failed'], secret: a, previousSecret: 'whsec_old', previousExpiresAt: 9, createdAt: 1, updatedAt: 3 });
      assert.deepEqual([saved.url, saved.events, saved.secret, saved.previousSecret, saved.previousExpiresAt], ['https://x.example/h', ['job.failed'], a, 'whsec_old', 9]);
      assert.equal((await store.ensureTenantWebhookSecret('t1', 'whsec_c', 4)), a);
      assert.equal(await store.getTenantWebhook('nobody'), undefined);
    });

    it('inserts a delivery once, logs attempts in order, and scopes reads to the tenant', async () => {
      await ready;
      await store.createDeliveries([delivery('dlv_1'), delivery('dlv_2', { channel: 'email', target: 'a@example.test', createdAt: 1001 })]);
      await store.createDeliveries([delivery('dlv_1', { target: 'https://changed.example/' })]);
      assert.equal((await store.getDelivery('dlv_1', 'local'))!.target, 'https://hooks.example.com/x');
      assert.equal(await store.getDelivery('dlv_1', 'other_tenant'), undefined);

      assert.equal(await store.recordDeliveryAttempt('dlv_1', { at: 2000, durationMs: 12, ok: false, statusCode: 500, error: null, response: 'oops' }, 'pending'), 1);
      assert.equal(await store.recordDeliveryAttempt('dlv_1', { at: 3000, durationMs: 8, ok: true, statusCode: 204, error: null, response: '' }, 'delivered'), 2);
      const [first, second] = await store.listDeliveries('job_1', 'local');
      assert.equal(first!.id, 'dlv_1');
      assert.deepEqual([first!.state, first!.attempts, first!.deliveredAt], ['delivered', 2, 3000]);
      assert.deepEqual(first!.attemptLog.map((a) => [a.attempt, a.statusCode, a.ok]), [
        [1, 500, false],
        [2, 204, true],
      ]);
      assert.deepEqual([second!.id, second!.attemptLog], ['dlv_2', []]);
      assert.deepEqual(await store.listDeliveries('job_1', 'other_tenant'), []);

      assert.equal(await store.reopenDelivery('dlv_1', 4000), true);
      assert.equal((await store.getDelivery('dlv_1', 'local'))!.state, 'pending');
      assert.equal(await store.reopenDelivery('dlv_missing', 4000), false);
    });
  });
}
