/**
 * Live job events on real SQLite: `watchJob` driven step by step through the store on a fake clock
 * (so event ids are known exactly), and the SSE route's framing, keep-alives and shutdown.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fastify, type FastifyInstance } from 'fastify';
import { errorSchema } from '../../src/api/http/errors.js';
import { eventsRoutes } from '../../src/api/http/events-routes.js';
import { FakeClock } from '../../src/core/clock.js';
import type { Json } from '../../src/core/job.js';
import { Engine } from '../../src/engine/engine.js';
import { compareEventIds, formatEventId, parseEventId, watchJob, type JobEvent } from '../../src/engine/job-events.js';
import { Registry } from '../../src/engine/registry.js';
import type { ClaimedTask, Store } from '../../src/ports/store.js';
import { sqliteTestStore } from '../support/stores.js';
import { countingSubscriptions } from './http-api.harness.js';

const T0 = 1_000_000;
const TENANT = 'tenant_a';

describe('job event ids', () => {
  it('parse, format and order as versions with an in-stream counter', () => {
    assert.deepEqual(parseEventId('1700000000000'), { ms: 1_700_000_000_000, seq: 0 });
    assert.deepEqual(parseEventId('1700000000000-2'), { ms: 1_700_000_000_000, seq: 2 });
    for (const bad of ['', 'abc', '12-', '-1', '1.5', '1-2-3']) assert.equal(parseEventId(bad), undefined, bad);
    assert.equal(formatEventId({ ms: 5, seq: 0 }), '5');
    assert.equal(formatEventId({ ms: 5, seq: 3 }), '5-3');
    const sorted = ['9', '10', '10-1', '10-2', '11'].map((id) => parseEventId(id)!);
    for (let i = 1; i < sorted.length; i++) assert.ok(compareEventIds(sorted[i - 1]!, sorted[i]!) < 0);
  });
});

describe('watchJob on SQLite', () => {
  let inner: Store;
  let store: Store;
  let subscriptions: () => number;
  let cleanup: () => Promise<void>;
  let engine: Engine;
  const clock = new FakeClock(T0);

  before(async () => {
    ({ store: inner, cleanup } = await sqliteTestStore());
    ({ store, count: subscriptions } = countingSubscriptions(inner));
    await store.createTenant({ id: TENANT, name: 'A', createdAt: 0 });
    const registry = new Registry();
    for (const type of ['a', 'b']) registry.defineTask({ type, handler: async () => null });
    engine = new Engine({ store, registry, clock });
  });
  after(() => cleanup());

  /** A job of two tasks, b after a, in a pool of its own so that claims take only its tasks. */
  const submit = async (pool: string) => {
    clock.set(T0);
    const { job } = await engine.submit({
      tenantId: TENANT,
      kind: 'test',
      tasks: [
        { key: 'a', type: 'a', pool },
        { key: 'b', type: 'b', pool, dependsOn: ['a'] },
      ],
    });
    return job.id;
  };
  const claim = async (pool: string, now: number): Promise<ClaimedTask> => {
    const [task] = await store.claim({ workerId: 'w1', pools: [pool], limit: 1, leaseMs: 60_000, now });
    assert.ok(task, 'a task to claim');
    return task;
  };
  const beat = (t: ClaimedTask, now: number, progress?: Json) => store.heartbeat([{ taskId: t.id, leaseToken: t.leaseToken, ...(progress ? { progress } : {}) }], 60_000, now);
  const complete = (t: ClaimedTask, now: number) => store.complete([{ taskId: t.id, leaseToken: t.leaseToken, output: null }], now);

  /** Pulls events one at a time; `none` checks that nothing comes for a while. */
  const reader = (events: AsyncIterable<JobEvent>) => {
    const iterator = events[Symbol.asyncIterator]();
    let pending: Promise<IteratorResult<JobEvent>> | undefined;
    const pull = () => (pending ??= iterator.next());
    return {
      async next(): Promise<JobEvent | undefined> {
        const r = await pull();
        pending = undefined;
        return r.done ? undefined : r.value;
      },
      async none(ms: number): Promise<void> {
        const r = await Promise.race([pull(), new Promise<'quiet'>((resolve) => setTimeout(() => resolve('quiet'), ms))]);
        assert.equal(r, 'quiet', `expected no event, got ${JSON.stringify(r)}`);
      },
      return: () => iterator.return?.(),
    };
  };
  const brief = (e: JobEvent | undefined) => e && [e.id, e.type, e.type === 'progress' ? `${e.data.done}/${e.data.total}` : e.data.status];

  it('starts with a snapshot, follows changes, numbers same-millisecond changes, and ends with end', async () => {
    const id = await submit('p1');
    const baseline = subscriptions();
    const controller = new AbortController();
    const r = reader(watchJob(engine, id, { tenantId: TENANT, signal: controller.signal, pollMs: 10 }));

    assert.deepEqual(brief(await r.next()), [`${T0}`, 'status', 'queued']);
    const progress = await r.next();
    assert.deepEqual(brief(progress), [`${T0}-1`, 'progress', '0/2']);
    assert.equal(subscriptions(), baseline + 1);
    assert.ok(progress?.type === 'progress');
    assert.deepEqual(progress.data.steps.map((s) => [s.step, s.state]), [['a', 'pending'], ['b', 'pending']]);
    assert.deepEqual(progress.data.progress, []);

    // Claimed in the same millisecond as the submission: the version did not move, the counter does.
    const a = await claim('p1', T0);
    assert.deepEqual(brief(await r.next()), [`${T0}-2`, 'status', 'running']);
    const running = await r.next();
    assert.deepEqual(brief(running), [`${T0}-3`, 'progress', '0/2']);
    assert.ok(running?.type === 'progress');
    assert.deepEqual(running.data.progress, [{ task_id: a.id, key: 'a', step: 'a', progress: null }]);

    // Heartbeat progress is not published: the poll finds it.
    await beat(a, T0 + 500, { decoded_seconds: 12 });
    const reported = await r.next();
    assert.deepEqual(brief(reported), [`${T0 + 500}`, 'progress', '0/2']);
    assert.ok(reported?.type === 'progress');
    assert.deepEqual(reported.data.progress[0]?.progress, { decoded_seconds: 12 });
    // A heartbeat that changes nothing visible sends nothing.
    await beat(a, T0 + 600);
    await r.none(100);

    await complete(a, T0 + 700);
    assert.deepEqual(brief(await r.next()), [`${T0 + 700}`, 'progress', '1/2']);
    const b = await claim('p1', T0 + 750);
    await complete(b, T0 + 800);
    // The watcher may or may not see b running in between; either way the job ends the same.
    const rest: JobEvent[] = [];
    for (let e = await r.next(); e; e = await r.next()) rest.push(e);
    if (rest.length > 3) assert.deepEqual(rest.slice(0, -3).map(brief), [[`${T0 + 750}`, 'progress', '1/2']]);
    assert.deepEqual(rest.slice(-3).map(brief), [
      [`${T0 + 800}`, 'status', 'succeeded'],
      [`${T0 + 800}-1`, 'progress', '2/2'],
      [`${T0 + 800}-2`, 'end', 'succeeded'],
    ]);
    const end = rest.at(-1)!;
    assert.ok(end.type === 'end');
    assert.equal(end.data.finished_at, new Date(T0 + 800).toISOString());
    assert.equal(subscriptions(), baseline, 'the subscription ends with the iteration');

    // Resuming the settled job.
    const resume = async (lastEventId: string) => {
      const events: JobEvent[] = [];
      for await (const e of watchJob(engine, id, { tenantId: TENANT, signal: controller.signal, pollMs: 10, lastEventId })) events.push(e);
      return events.map(brief);
    };
    assert.deepEqual(await resume(`${T0 + 800}-1`), [[`${T0 + 800}-2`, 'end', 'succeeded']], 'current: only the end');
    assert.deepEqual(await resume(`${T0 + 800}`), [[`${T0 + 800}-1`, 'end', 'succeeded']], 'an id of the current state is current');
    assert.deepEqual(await resume(`${T0 + 700}`), [
      [`${T0 + 800}`, 'status', 'succeeded'],
      [`${T0 + 800}-1`, 'progress', '2/2'],
      [`${T0 + 800}-2`, 'end', 'succeeded'],
    ], 'older: one snapshot');
    assert.deepEqual(await resume('not-an-id'), await resume(`${T0 + 700}`), 'an id that is not ours counts as none');
    assert.equal(subscriptions(), baseline);
  });

  it('sends nothing to a resumed watch until the job changes, then only the change', async () => {
    const id = await submit('p2');
    const a = await claim('p2', T0 + 100);
    const controller = new AbortController();
    const r = reader(watchJob(engine, id, { tenantId: TENANT, signal: controller.signal, pollMs: 10, lastEventId: `${T0 + 100}` }));
    await r.none(150);
    await complete(a, T0 + 200);
    // Still running: a progress event, no status.
    assert.deepEqual(brief(await r.next()), [`${T0 + 200}`, 'progress', '1/2']);
    await r.none(50);
    controller.abort();
    assert.equal(await r.next(), undefined, 'the abort ends the iteration quietly');
  });

  it('refuses an unknown job and another tenant\'s job before any event, and leaks no subscription', async () => {
    const id = await submit('p3');
    const baseline = subscriptions();
    const signal = new AbortController().signal;
    for (const [jobId, tenantId] of [['job_nope', TENANT], [id, 'tenant_b']] as const) {
      const iterator = watchJob(engine, jobId, { tenantId, signal })[Symbol.asyncIterator]();
      await assert.rejects(iterator.next(), { code: 'not_found' });
    }
    assert.equal(subscriptions(), baseline);
  });

  it('releases its subscription and timer when the consumer stops or the signal aborts', async () => {
    const id = await submit('p4');
    await claim('p4', T0 + 100);
    const baseline = subscriptions();
    for await (const e of watchJob(engine, id, { signal: new AbortController().signal, pollMs: 10 })) {
      assert.equal(e.type, 'status');
      break;
    }
    assert.equal(subscriptions(), baseline);

    const controller = new AbortController();
    const r = reader(watchJob(engine, id, { signal: controller.signal, pollMs: 60_000 }));
    await r.next();
    await r.next();
    assert.equal(subscriptions(), baseline + 1);
    // Waiting on a one-minute poll; the abort must end it now, or this test (and the process) would hang.
    const ended = r.next();
    controller.abort();
    assert.equal(await ended, undefined);
    assert.equal(subscriptions(), baseline);
  });

  describe('GET /v1/jobs/:id/events (the route on its own)', () => {
    let app: FastifyInstance;
    let base: string;
    before(async () => {
      app = fastify();
      app.addSchema(errorSchema);
      app.decorateRequest('tenantId', '');
      app.addHook('onRequest', async (request) => {
        request.tenantId = TENANT;
      });
      await app.register(eventsRoutes(engine, { pollMs: 10, keepAliveMs: 30, retryMs: 1234 }));
      await app.listen({ host: '127.0.0.1', port: 0 });
      base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    });
    after(() => app.close());

    it('frames events, sends keep-alive comments, and lets the server close with a stream open', async () => {
      const id = await submit('p5');
      await claim('p5', T0 + 100);
      // A keep-alive agent that never drops idle sockets: a connection left open would hold close() forever.
      const agent = new http.Agent({ keepAlive: true });
      let text = '';
      const ended = new Promise<void>((resolve, reject) => {
        http
          .get(`${base}/v1/jobs/${id}/events`, { agent }, (res) => {
            assert.equal(res.statusCode, 200);
            assert.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8');
            assert.equal(res.headers['cache-control'], 'no-cache');
            assert.equal(res.headers['x-accel-buffering'], 'no');
            assert.equal(res.headers.connection, 'keep-alive');
            res.setEncoding('utf8');
            res.on('data', (d: string) => (text += d));
            res.on('end', resolve);
          })
          .on('error', reject);
      });
      while (!text.includes(': keep-alive\n\n')) await new Promise((r) => setTimeout(r, 10));
      assert.match(text, /^retry: 1234\n\n/);
      assert.match(text, new RegExp(`\nid: ${T0 + 100}\nevent: status\ndata: \\{"job_id":"${id}","status":"running","error":null,"finished_at":null\\}\n\n`));
      assert.match(text, new RegExp(`\nid: ${T0 + 100}-1\nevent: progress\ndata: \\{"job_id":"${id}","steps":\\[`));

      const closed = app.close().then(() => 'closed');
      const timeout = new Promise((r) => setTimeout(() => r('still open'), 5000).unref());
      assert.equal(await Promise.race([closed, timeout]), 'closed');
      await ended;
      agent.destroy();
    });
  });
});
