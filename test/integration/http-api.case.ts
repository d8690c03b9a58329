/**
 * Job flows through the HTTP API, run against every store: submit, follow, list, cancel, retry,
 * dead-letter. Each backend's test file calls `jobFlowCases` once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Store } from '../../src/ports/store.js';
import { FAILING_KIND, call, startApi, waitUntil, type Api } from './http-api.harness.js';

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

export function jobFlowCases(backend: { name: string; create(): Promise<Store> }): void {
  describe(`HTTP API job flows: ${backend.name}`, () => {
    let api: Api;
    const post = (path: string, body?: unknown, headers?: Record<string, string>) =>
      call(api.base, 'POST', path, { ...(body !== undefined ? { body } : {}), ...(headers ? { headers } : {}) });
    const get = (path: string) => call(api.base, 'GET', path);
    const submit = async (input: unknown = { tasks: 2, sleep_ms: 5 }, kind = 'diagnostics') => {
      const res = await post('/v1/jobs', { kind, input });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      return res.body.id as string;
    };

    before(async () => {
      api = await startApi({ store: await backend.create() });
    });
    after(async () => {
      await api.close();
    });

    it('runs a diagnostics job to success and shows its steps and tasks', async () => {
      const created = await post('/v1/jobs', { kind: 'diagnostics', input: { tasks: 3, sleep_ms: 5 }, priority: 'high' });
      assert.equal(created.status, 202);
      const job = created.body;
      assert.match(job.id, /^job_/);
      assert.equal(created.headers.get('location'), `/v1/jobs/${job.id}`);
      assert.ok(['queued', 'running'].includes(job.status));
      assert.equal(job.kind, 'diagnostics');
      assert.equal(job.priority, 'high');
      assert.deepEqual(job.input, { tasks: 3, sleep_ms: 5 });
      assert.match(job.created_at, ISO);
      assert.equal(job.finished_at, null);
      assert.equal(job.error, null);
      assert.deepEqual(job.links, { self: `/v1/jobs/${job.id}`, cancel: `/v1/jobs/${job.id}/cancel`, retry: `/v1/jobs/${job.id}/retry`, results: {} });

      await api.engine.waitFor(job.id, { timeoutMs: 20_000 });
      const done = await get(`/v1/jobs/${job.id}`);
      assert.equal(done.status, 200);
      assert.equal(done.body.status, 'succeeded');
      assert.match(done.body.started_at, ISO);
      assert.match(done.body.finished_at, ISO);
      assert.equal(typeof done.body.timings.queued_ms, 'number');
      assert.equal(typeof done.body.timings.run_ms, 'number');
      const steps = Object.fromEntries(done.body.steps.map((s: { step: string }) => [s.step, s]));
      assert.deepEqual(steps['diagnostics.sleep'], { step: 'diagnostics.sleep', state: 'succeeded', done: 3, total: 3, counts: { succeeded: 3 } });
      assert.equal(steps['diagnostics.plan'].state, 'succeeded');
      assert.equal(steps['diagnostics.gather'].done, 1);
      assert.equal(done.body.tasks.length, 5);
      const gather = done.body.tasks.find((t: { key: string }) => t.key === 'gather');
      assert.equal(gather.step, 'diagnostics.gather');
      assert.equal(gather.state, 'succeeded');
      assert.equal(gather.pool, 'cpu');
      assert.equal(gather.attempts, 1);
      assert.ok(gather.depends_on.includes('plan') && gather.depends_on.includes('sleep-0'));
      assert.deepEqual(gather.errors, []);
      assert.equal(typeof gather.duration_ms, 'number');
    });

    it('answers 404 for a job that does not exist', async () => {
      const res = await get('/v1/jobs/job_nope');
      assert.equal(res.status, 404);
      assert.equal(res.body.error.code, 'not_found');
    });

    it('replays a submission with the same Idempotency-Key', async () => {
      const key = `idem-${backend.name}-${Date.now()}`;
      const first = await post('/v1/jobs', { kind: 'diagnostics', input: { tasks: 1, sleep_ms: 0 } }, { 'idempotency-key': key });
      assert.equal(first.status, 202);
      assert.equal(first.headers.get('idempotent-replayed'), null);
      const second = await post('/v1/jobs', { kind: 'diagnostics', input: { tasks: 1, sleep_ms: 0 } }, { 'idempotency-key': key });
      assert.equal(second.status, 200);
      assert.equal(second.headers.get('idempotent-replayed'), 'true');
      assert.equal(second.body.id, first.body.id);
      const otherKind = await post('/v1/jobs', { kind: FAILING_KIND }, { 'idempotency-key': key });
      assert.equal(otherKind.status, 409);
      assert.equal(otherKind.body.error.code, 'conflict');
    });

    it('refuses an unknown job kind and input the kind rejects', async () => {
      const unknown = await post('/v1/jobs', { kind: 'nope' });
      assert.equal(unknown.status, 400);
      assert.equal(unknown.body.error.code, 'unknown_job_kind');
      assert.ok(unknown.body.error.details.kinds.includes('diagnostics'));
      const badInput = await post('/v1/jobs', { kind: 'diagnostics', input: { tasks: 0 } });
      assert.equal(badInput.status, 400);
      assert.equal(badInput.body.error.code, 'bad_request');
    });

    it('lists jobs with filters and pages with next_before', async () => {
      const ids = [await submit(), await submit(), await submit()];
      for (const id of ids) await api.engine.waitFor(id, { timeoutMs: 20_000 });
      const failed = await submit({}, FAILING_KIND);
      await api.engine.waitFor(failed, { timeoutMs: 20_000 });

      const succeeded = await get('/v1/jobs?status=succeeded&limit=500');
      assert.equal(succeeded.status, 200);
      assert.ok(succeeded.body.data.length >= 3);
      assert.ok(succeeded.body.data.every((j: { status: string }) => j.status === 'succeeded'));
      assert.ok(!succeeded.body.data.some((j: { id: string }) => j.id === failed));
      assert.equal(succeeded.body.next_before, null);

      const byKind = await get(`/v1/jobs?kind=${FAILING_KIND}`);
      assert.deepEqual(
        byKind.body.data.map((j: { id: string }) => j.id),
        [failed],
      );

      // Newest first, one per page, each page strictly older than the last.
      const seen: string[] = [];
      let before: string | null = null;
      for (let page = 0; page < 3; page++) {
        const res = await get(`/v1/jobs?limit=1${before ? `&before=${before}` : ''}`);
        assert.equal(res.status, 200);
        assert.equal(res.body.data.length, 1);
        seen.push(res.body.data[0].id);
        before = res.body.next_before;
        assert.equal(before, res.body.data[0].id);
      }
      assert.deepEqual(seen, [failed, ...ids.slice().reverse()].slice(0, 3));
    });

    it('cancels a running job, and refuses to cancel it twice', async () => {
      const id = await submit({ tasks: 2, sleep_ms: 60_000 });
      // Cancel once the sleeps run, as a user watching the job would; cancelling while `plan` is
      // completing races its fan-out (see the report on the engine), which is not what this tests.
      await waitUntil(async () => (await get(`/v1/jobs/${id}`)).body.tasks.some((t: { step: string; state: string }) => t.step === 'diagnostics.sleep' && t.state === 'running'));
      const cancelled = await post(`/v1/jobs/${id}/cancel`);
      assert.equal(cancelled.status, 202);
      assert.equal(cancelled.body.status, 'cancelled');
      await api.engine.waitFor(id, { settled: true, timeoutMs: 20_000 });
      const again = await post(`/v1/jobs/${id}/cancel`);
      assert.equal(again.status, 409);
      assert.equal(again.body.error.code, 'conflict');
      assert.equal(again.body.error.details.status, 'cancelled');
    });

    it('retries a finished job from a step, and refuses an unknown step or an unfinished job', async () => {
      const id = await submit({ tasks: 2, sleep_ms: 5 });
      const running = await post(`/v1/jobs/${id}/retry`);
      // The job may already be done on a fast machine; only an unfinished one must be refused.
      if (running.status !== 202) assert.equal(running.body.error.code, 'conflict');
      const first = await api.engine.waitFor(id, { settled: true, timeoutMs: 20_000 });
      assert.equal(first.status, 'succeeded');
      const firstGather = first.tasks.find((t) => t.key === 'gather')!;

      const unknown = await post(`/v1/jobs/${id}/retry`, { from_step: 'nope' });
      assert.equal(unknown.status, 422);
      assert.equal(unknown.body.error.code, 'unknown_step');
      assert.ok(unknown.body.error.details.steps.includes('diagnostics.gather'));

      const retried = await post(`/v1/jobs/${id}/retry`, { from_step: 'diagnostics.gather' });
      assert.equal(retried.status, 202, JSON.stringify(retried.body));
      assert.equal(retried.body.id, id);
      const second = await api.engine.waitFor(id, { settled: true, timeoutMs: 20_000 });
      assert.equal(second.status, 'succeeded');
      const plan = second.tasks.find((t) => t.key === 'plan')!;
      assert.equal(plan.finishedAt, first.tasks.find((t) => t.key === 'plan')!.finishedAt, 'upstream results stay');
      assert.ok(second.tasks.find((t) => t.key === 'gather')!.finishedAt! >= firstGather.finishedAt!);

      const badBody = await post(`/v1/jobs/${id}/retry`, { fromStep: 'diagnostics.gather' });
      assert.equal(badBody.status, 400);
    });

    it('shows a task that failed for good in the dead-letter view with its errors', async () => {
      const id = await submit({}, FAILING_KIND);
      await api.engine.waitFor(id, { timeoutMs: 20_000 });
      const job = await get(`/v1/jobs/${id}`);
      assert.equal(job.body.status, 'failed');
      assert.equal(job.body.error.code, 'unprocessable');

      const dead = await get('/v1/dead-letter?limit=10');
      assert.equal(dead.status, 200);
      const entry = dead.body.data.find((t: { job_id: string }) => t.job_id === id);
      assert.ok(entry, 'the dead task is listed');
      assert.equal(dead.body.data[0].job_id, id, 'newest first');
      assert.equal(entry.job_kind, FAILING_KIND);
      assert.equal(entry.step, 'test.broken');
      assert.equal(entry.state, 'dead');
      assert.equal(entry.errors.length, 1);
      assert.equal(entry.errors[0].code, 'unprocessable');
      assert.equal(entry.errors[0].message, 'broken on purpose');
      assert.deepEqual(entry.errors[0].details, { why: 'test' });
      assert.equal(entry.errors[0].attempt, 1);
      assert.match(entry.errors[0].at, ISO);
      assert.equal(entry.links.job, `/v1/jobs/${id}`);

      // Retrying without a body runs what did not succeed; the error history stays.
      const retried = await post(`/v1/jobs/${id}/retry`);
      assert.equal(retried.status, 202, JSON.stringify(retried.body));
      await api.engine.waitFor(id, { settled: true, timeoutMs: 20_000 });
      const again = await get('/v1/dead-letter');
      const task = again.body.data.find((t: { job_id: string }) => t.job_id === id);
      assert.equal(task.errors.length, 2);
    });
  });
}
