/**
 * Job flows through the HTTP API, run against every store: submit, follow, list, cancel, retry,
 * dead-letter. Each backend's test file calls `jobFlowCases` once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Store } from '../../src/ports/store.js';
import { FAILING_KIND, INTERNAL_KIND, call, openEvents, startApi, waitUntil, type Api, type SseEvent } from './http-api.harness.js';

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** Event ids as the API documents them: `MS` or `MS-N`, ordered by MS then N. */
const idOrder = (id: string) => {
  const m = /^(\d+)(?:-(\d+))?$/.exec(id);
  assert.ok(m, `an event id: ${id}`);
  return [Number(m[1]), Number(m[2] ?? 0)] as const;
};
const newer = (a: string, b: string) => {
  const [x, y] = [idOrder(a), idOrder(b)];
  return x[0] > y[0] || (x[0] === y[0] && x[1] > y[1]);
};
const assertIncreasing = (events: SseEvent[], after?: string) => {
  let last = after;
  for (const e of events) {
    if (last !== undefined) assert.ok(newer(e.id, last), `${e.id} after ${last}`);
    last = e.id;
  }
};

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

    it('streams a job\'s events: status, progress as it goes, the final status, then end', async () => {
      const id = await submit({ tasks: 6, sleep_ms: 250 });
      const stream = await openEvents(api.base, `/v1/jobs/${id}/events`);
      assert.equal(stream.status, 200);
      assert.equal(stream.headers.get('content-type'), 'text/event-stream; charset=utf-8');
      assert.equal(stream.headers.get('cache-control'), 'no-cache');
      assert.equal(stream.headers.get('x-accel-buffering'), 'no');
      assert.match(stream.headers.get('x-request-id') ?? '', /^req_/);
      const events = await stream.rest();
      assert.match(stream.text(), /^retry: 2000\n\n/);

      assert.deepEqual(events.slice(0, 2).map((e) => e.event), ['status', 'progress'], 'a snapshot first');
      assertIncreasing(events);
      assert.ok(events.every((e) => e.data.job_id === id));
      const statuses = events.filter((e) => e.event === 'status').map((e) => e.data.status);
      assert.deepEqual(statuses, ['queued', 'running', 'succeeded'].filter((s) => statuses.includes(s)), statuses.join());
      assert.equal(statuses.at(-1), 'succeeded');

      const progress = events.filter((e) => e.event === 'progress').map((e) => e.data);
      assert.ok(progress.length >= 3, `progress events: ${progress.length}`);
      assert.ok(progress.some((p) => p.done > 1 && p.done < p.total), 'progress while the sleeps run');
      assert.ok(progress.some((p) => p.progress.some((t: { step: string }) => t.step === 'diagnostics.sleep')), 'running tasks are listed');
      const last = progress.at(-1);
      assert.equal(last.done, 8);
      assert.equal(last.total, 8);
      assert.deepEqual(last.progress, []);
      assert.deepEqual(last.steps.find((s: { step: string }) => s.step === 'diagnostics.sleep'), { step: 'diagnostics.sleep', state: 'succeeded', done: 6, total: 6, counts: { succeeded: 6 } });

      const end = events.at(-1)!;
      assert.equal(end.event, 'end');
      assert.equal(end.data.status, 'succeeded');
      assert.equal(end.data.error, null);
      assert.match(end.data.finished_at, ISO);

      // Reconnecting with the id of the last event before the end: only the end, newer still.
      const before = events.at(-2)!;
      const resumed = await (await openEvents(api.base, `/v1/jobs/${id}/events`, { 'last-event-id': before.id })).rest();
      assert.deepEqual(resumed.map((e) => e.event), ['end']);
      assertIncreasing(resumed, before.id);
      // From the first event: what was missed collapses into one snapshot of the current state.
      const first = events[0]!;
      const caughtUp = await (await openEvents(api.base, `/v1/jobs/${id}/events?last_event_id=${first.id}`)).rest();
      assert.deepEqual(caughtUp.map((e) => e.event), ['status', 'progress', 'end']);
      assert.equal(caughtUp[0]!.data.status, 'succeeded');
      assert.deepEqual(caughtUp[1]!.data, last);
      assertIncreasing(caughtUp, first.id);
    });

    it('resumes a stream with Last-Event-ID: nothing while the job stands still, then only what changed', async () => {
      // The sleeps wait in a pool no worker takes, so the job stands still until it is cancelled.
      const id = await submit({ tasks: 2, sleep_ms: 0, pool: 'nobody' });
      await waitUntil(async () => (await get(`/v1/jobs/${id}`)).body.steps.some((s: { step: string; state: string }) => s.step === 'diagnostics.plan' && s.state === 'succeeded'));
      const baseline = api.subscriptions();
      const first = await openEvents(api.base, `/v1/jobs/${id}/events`);
      const status = (await first.next())!;
      const progress = (await first.next())!;
      assert.equal(status.event, 'status');
      assert.equal(status.data.status, 'running');
      assert.equal(progress.event, 'progress');
      assert.equal(api.subscriptions(), baseline + 1);
      // The client goes away mid-stream: its watcher and subscription go with it.
      first.close();
      await waitUntil(async () => api.subscriptions() === baseline);

      const resumed = await openEvents(api.base, `/v1/jobs/${id}/events`, { 'last-event-id': progress.id });
      await assert.rejects(resumed.next(300), /no event in time/);
      assert.equal((await post(`/v1/jobs/${id}/cancel`)).status, 202);
      const rest = await resumed.rest();
      assert.deepEqual(rest.map((e) => e.event), ['status', 'progress', 'end']);
      assert.equal(rest[0]!.data.status, 'cancelled');
      assert.equal(rest[0]!.data.error.code, 'cancelled');
      assert.equal(rest[2]!.data.status, 'cancelled');
      assertIncreasing(rest, progress.id);
      await waitUntil(async () => api.subscriptions() === baseline);
    });

    it('answers 404 before any stream for the events of a job that does not exist', async () => {
      const res = await call(api.base, 'GET', '/v1/jobs/job_nope/events');
      assert.equal(res.status, 404);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      assert.deepEqual(res.body, { error: { code: 'not_found', message: 'no such job', details: { job_id: 'job_nope' } } });
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
      assert.equal(otherKind.body.error.details.job_id, first.body.id);
    });

    it('refuses an Idempotency-Key reused with other input or priority with 409, and still replays the identical request', async () => {
      const key = { 'idempotency-key': `idem-params-${backend.name}` };
      const input = { tasks: 1, sleep_ms: 0 };
      const first = await post('/v1/jobs', { kind: 'diagnostics', input }, key);
      assert.equal(first.status, 202);
      for (const [what, body] of [
        ['other input', { kind: 'diagnostics', input: { tasks: 2, sleep_ms: 0 } }],
        ['no input', { kind: 'diagnostics' }],
        ['other priority', { kind: 'diagnostics', input, priority: 'urgent' }],
      ] as const) {
        const res = await post('/v1/jobs', body, key);
        assert.equal(res.status, 409, what);
        assert.deepEqual(res.body.error.details, { job_id: first.body.id, kind: 'diagnostics' }, what);
      }
      // The same request, keys in another order and the default priority spelled out, is the same request.
      const same = await post('/v1/jobs', { priority: 'normal', input: { sleep_ms: 0, tasks: 1 }, kind: 'diagnostics' }, key);
      assert.equal(same.status, 200, JSON.stringify(same.body));
      assert.equal(same.headers.get('idempotent-replayed'), 'true');
      assert.equal(same.body.id, first.body.id);
      const jobs = await get('/v1/jobs?kind=diagnostics&limit=500');
      assert.equal(jobs.body.data.filter((j: { id: string }) => j.id === first.body.id).length, 1);
    });

    it('refuses an internal job kind exactly as an unknown one, and lists only public kinds', async () => {
      const unknown = await post('/v1/jobs', { kind: 'nope' });
      const internal = await post('/v1/jobs', { kind: INTERNAL_KIND });
      assert.equal(internal.status, 400);
      assert.equal(internal.body.error.code, 'unknown_job_kind');
      assert.deepEqual(internal.body.error.details, unknown.body.error.details);
      assert.deepEqual([...internal.body.error.details.kinds].sort(), ['diagnostics', FAILING_KIND].sort());
      assert.deepEqual((await get(`/v1/jobs?kind=${INTERNAL_KIND}`)).body.data, []);
      // The process itself may submit it.
      const own = await api.engine.submit({ tenantId: 'local', kind: INTERNAL_KIND, internal: true });
      assert.equal(own.created, true);
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
