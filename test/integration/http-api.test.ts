/**
 * The HTTP API on SQLite, exercised with fetch the way a client would: the job flows shared with
 * PostgreSQL, plus errors, authentication, metrics, OpenAPI and signed blob URLs.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { FakeClock } from '../../src/core/clock.js';
import { generateApiKey } from '../../src/core/api-keys.js';
import type { Store } from '../../src/ports/store.js';
import { createSqliteStore } from '../../src/adapters/store/sqlite/sqlite-store.js';
import { sqliteTestStore } from '../support/stores.js';
import { startEarshot, testEngines } from '../e2e/transcription.harness.js';
import { jobFlowCases } from './http-api.case.js';
import { MAX_UPLOAD_BYTES, uploadCases } from './http-api-uploads.case.js';
import { call, openEvents, startApi, waitUntil, type Api } from './http-api.harness.js';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function sqliteStore(): Promise<Store> {
  const { store, cleanup } = await sqliteTestStore();
  cleanups.push(cleanup);
  return store;
}

jobFlowCases({ name: 'sqlite', create: sqliteStore });

const uploadsDir = mkdtempSync(join(tmpdir(), 'earshot-http-uploads-'));
cleanups.push(async () => rmSync(uploadsDir, { recursive: true, force: true }));
uploadCases({
  name: 'SQLite + disk',
  objectStore: false,
  start: () => startEarshot({ 'data-dir': uploadsDir, 'max-upload-bytes': String(MAX_UPLOAD_BYTES) }, {}, { engines: testEngines() }),
  async uploadRows() {
    const db = new Database(join(uploadsDir, 'earshot.db'), { readonly: true, fileMustExist: true });
    try {
      return (db.prepare('SELECT count(*) AS n FROM uploads').get() as { n: number }).n;
    } finally {
      db.close();
    }
  },
});

describe('HTTP API: errors, operations and documentation', () => {
  let api: Api;
  before(async () => {
    api = await startApi({ store: await sqliteStore() });
  });
  after(async () => {
    await api.close();
  });

  it('answers liveness and readiness', async () => {
    const health = await call(api.base, 'GET', '/v1/health');
    assert.equal(health.status, 200);
    assert.deepEqual(health.body, { status: 'ok', version: '0.0.0-test' });
    assert.match(health.headers.get('x-request-id') ?? '', /^req_/);
    const ready = await call(api.base, 'GET', '/v1/ready');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { status: 'ready' });
  });

  it('echoes a client request id', async () => {
    const res = await call(api.base, 'GET', '/v1/health', { headers: { 'x-request-id': 'client-chosen-42' } });
    assert.equal(res.headers.get('x-request-id'), 'client-chosen-42');
  });

  it('replaces a client request id that is too long or has unsafe characters with its own', async () => {
    const longest = `trace-${'a'.repeat(122)}`;
    assert.equal((await call(api.base, 'GET', '/v1/health', { headers: { 'x-request-id': longest } })).headers.get('x-request-id'), longest);
    for (const id of [`${longest}b`, 'x'.repeat(8 * 1024), 'two words', '<script>', 'quote"d', 'semi;colon', '']) {
      const res = await call(api.base, 'GET', '/v1/jobs', { headers: { 'x-request-id': id } });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('x-request-id') ?? '', /^req_[0-9a-z]+$/, `${id.slice(0, 40)} was not echoed`);
    }
  });

  it('answers 503 unavailable with Retry-After while SQLite stays locked past its busy timeout', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'earshot-busy-'));
    const path = join(dir, 'earshot.db');
    const store = createSqliteStore({ path, busyTimeoutMs: 50 });
    await store.migrate();
    const busy = await startApi({ store, worker: false });
    // Another process's writer holds the lock (a second connection is one, to SQLite).
    const other = new Database(path);
    try {
      other.exec('BEGIN IMMEDIATE');
      const refused = await call(busy.base, 'POST', '/v1/jobs', { body: { kind: 'diagnostics', input: { tasks: 1 } } });
      assert.equal(refused.status, 503);
      assert.equal(refused.body.error.code, 'unavailable');
      assert.ok(Number(refused.headers.get('retry-after')) >= 1);
      other.exec('ROLLBACK');
      assert.equal((await call(busy.base, 'POST', '/v1/jobs', { body: { kind: 'diagnostics', input: { tasks: 1 } } })).status, 202);
    } finally {
      other.close();
      await busy.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is not ready when the store fails, and hides unexpected errors behind a 500', async () => {
    const down = Object.create(api.store) as Store;
    down.queueCounts = () => Promise.reject(new Error('connection refused'));
    down.listJobs = () => Promise.reject(new Error('secret internals'));
    const broken = await startApi({ store: down, worker: false });
    try {
      const ready = await call(broken.base, 'GET', '/v1/ready');
      assert.equal(ready.status, 503);
      assert.equal(ready.body.error.code, 'unavailable');
      const health = await call(broken.base, 'GET', '/v1/health');
      assert.equal(health.status, 200);
      const list = await call(broken.base, 'GET', '/v1/jobs');
      assert.equal(list.status, 500);
      assert.deepEqual(list.body, { error: { code: 'internal', message: 'internal error', details: null } });
    } finally {
      await broken.close();
    }
  });

  it('answers unknown routes with a JSON 404', async () => {
    const res = await call(api.base, 'GET', '/v1/nothing-here');
    assert.equal(res.status, 404);
    assert.deepEqual(res.body, { error: { code: 'not_found', message: 'no route GET /v1/nothing-here', details: null } });
  });

  it('refuses invalid bodies and queries with bad_request and the list of problems', async () => {
    const res = await call(api.base, 'POST', '/v1/jobs', { body: { input: {}, priority: 'asap', extra: 1 } });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'bad_request');
    const problems = res.body.error.details.problems as { in: string; path: string; message: string }[];
    assert.ok(problems.length >= 3, JSON.stringify(problems));
    assert.ok(problems.every((p) => p.in === 'body'));
    assert.ok(problems.some((p) => p.message.includes("'kind'")));
    assert.ok(problems.some((p) => p.path === '/priority'));

    const query = await call(api.base, 'GET', '/v1/jobs?limit=1000&status=nope');
    assert.equal(query.status, 400);
    assert.equal(query.body.error.details.problems.length, 2);

    const notJson = await fetch(`${api.base}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"kind":' });
    assert.equal(notJson.status, 400);
    assert.equal(((await notJson.json()) as { error: { code: string } }).error.code, 'bad_request');
  });

  it('answers a malformed URL and an unsupported body in the error shape', async () => {
    const badUrl = await call(api.base, 'GET', '/v1/jobs/%E0%A4%A');
    assert.equal(badUrl.status, 400);
    assert.deepEqual(Object.keys(badUrl.body), ['error']);
    assert.equal(badUrl.body.error.code, 'bad_request');
    assert.equal(badUrl.body.error.details, null);
    const xml = await fetch(`${api.base}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body: '<job/>' });
    assert.equal(xml.status, 415);
    assert.equal(((await xml.json()) as { error: { code: string } }).error.code, 'unsupported_media_type');
  });

  it('refuses JSON nested too deep with 400, and keeps serving', async () => {
    const depth = 100_000;
    const deep = `{"kind":"diagnostics","input":{"tasks":1,"sleep_ms":0,"x":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}}`;
    const res = await fetch(`${api.base}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: deep });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { error: { code: string; message: string; details: { max_depth: number } } };
    assert.equal(body.error.code, 'bad_request');
    assert.match(body.error.message, /nested/);
    // Within the limit the body is read: here, to refuse a job kind that does not exist.
    const levels = body.error.details.max_depth - 2;
    const nested = `{"kind":"nope","input":{"x":${'['.repeat(levels)}${']'.repeat(levels)}}}`;
    const read = await call(api.base, 'POST', '/v1/jobs', { body: JSON.parse(nested) });
    assert.equal(read.status, 400);
    assert.equal(read.body.error.code, 'unknown_job_kind');
    assert.equal((await call(api.base, 'GET', '/v1/health')).status, 200);
  });

  it('serves Prometheus metrics with queue depth and task counters after a job ran', async () => {
    const created = await call(api.base, 'POST', '/v1/jobs', { body: { kind: 'diagnostics', input: { tasks: 2, sleep_ms: 0 } } });
    await api.engine.waitFor(created.body.id, { timeoutMs: 20_000 });
    await call(api.base, 'POST', '/v1/jobs', { body: { kind: 'diagnostics', input: { pool: 'nobody' } } });
    const scrape = async () => {
      const res = await fetch(`${api.base}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
      return res.text();
    };
    // Workers report a task just after the store settles it, so the job can finish first: wait for the counters.
    let text = '';
    await waitUntil(async () => /earshot_tasks_total\{type="diagnostics.gather",pool="cpu",outcome="succeeded"\} 1/.test((text = await scrape())));
    assert.match(text, /# TYPE earshot_queue_depth gauge/);
    assert.match(text, /earshot_tasks_total\{type="diagnostics.sleep",pool="cpu",outcome="succeeded"\} 2/);
    assert.match(text, /earshot_task_duration_seconds_count\{type="diagnostics.plan",pool="cpu"\} [12]/);
    assert.match(text, /earshot_workers\{pool="cpu"\} 1/);
    assert.match(text, /earshot_http_requests_total\{method="POST",route="\/v1\/jobs",status="202"\} 2/);
    assert.match(text, /process_cpu_user_seconds_total/);
    // The second job's sleeps wait in a pool no worker takes.
    await waitUntil(async () => /earshot_queue_depth\{pool="nobody",state="ready"\} 4/.test(await scrape()));
  });

  it('publishes an OpenAPI document with the job routes and the auth schemes', async () => {
    const res = await call(api.base, 'GET', '/docs/json');
    assert.equal(res.status, 200);
    const spec = res.body;
    assert.equal(spec.openapi, '3.0.3');
    for (const path of ['/v1/jobs', '/v1/jobs/{id}', '/v1/jobs/{id}/events', '/v1/jobs/{id}/cancel', '/v1/jobs/{id}/retry', '/v1/dead-letter', '/v1/health', '/v1/ready']) {
      assert.ok(spec.paths[path], `${path} is documented`);
    }
    assert.equal(spec.paths['/v1/jobs/{id}/events'].get.tags[0], 'jobs');
    assert.ok(spec.paths['/v1/jobs/{id}/events'].get.responses['200'].content['text/event-stream']);
    assert.ok(spec.paths['/v1/jobs'].post.requestBody);
    assert.deepEqual(Object.keys(spec.components.securitySchemes).sort(), ['apiKey', 'bearer']);
    assert.deepEqual(spec.paths['/v1/health'].get.security, []);
    assert.ok(spec.components.schemas.Job && spec.components.schemas.JobDetail && spec.components.schemas.Error);
    assert.equal(spec.paths['/v1/jobs/{id}'].get.responses['200'].content['application/json'].schema.$ref, '#/components/schemas/JobDetail');
    assert.ok(!Object.keys(spec.paths).some((p) => p.startsWith('/v1/blobs')), 'signed blob URLs are not part of the API surface');
    const ui = await fetch(`${api.base}/docs`, { redirect: 'follow' });
    assert.equal(ui.status, 200);
    await ui.text();
  });
});

describe('HTTP API: authentication', () => {
  let api: Api;
  let keyA: string;
  let keyB: string;
  let revoked: string;

  before(async () => {
    const store = await sqliteStore();
    api = await startApi({ store, authRequired: true });
    const key = async (tenantId: string, id: string) => {
      await store.createTenant({ id: tenantId, name: tenantId, createdAt: 0 });
      const k = generateApiKey();
      await store.createApiKey({ id, tenantId, name: id, prefix: k.prefix, createdAt: 0, revokedAt: null }, k.hash);
      return k.key;
    };
    keyA = await key('tenant_a', 'key_a');
    keyB = await key('tenant_b', 'key_b');
    revoked = await key('tenant_a', 'key_revoked');
    await store.revokeApiKey('key_revoked', 1);
  });
  after(async () => {
    await api.close();
  });

  const as = (key: string) => ({ authorization: `Bearer ${key}` });

  it('refuses requests without a valid key with a JSON 401', async () => {
    for (const headers of [{}, as('es_not-a-real-key-at-all-000000000000'), as(revoked), { authorization: 'Basic dXNlcjpwYXNz' }]) {
      const res = await call(api.base, 'GET', '/v1/jobs', { headers });
      assert.equal(res.status, 401, JSON.stringify(headers));
      assert.equal(res.body.error.code, 'unauthorized');
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
    }
  });

  it('leaves health, readiness and metrics open', async () => {
    assert.equal((await call(api.base, 'GET', '/v1/health')).status, 200);
    assert.equal((await call(api.base, 'GET', '/v1/ready')).status, 200);
    assert.equal((await fetch(`${api.base}/metrics`).then(async (r) => (await r.text(), r.status))), 200);
  });

  it('accepts a key as Bearer or X-API-Key and keeps tenants apart', async () => {
    assert.equal((await call(api.base, 'GET', '/v1/jobs', { headers: as(keyA) })).status, 200);
    assert.equal((await call(api.base, 'GET', '/v1/jobs', { headers: { 'x-api-key': keyA } })).status, 200);
    // A proxy's own Authorization header does not hide the key.
    assert.equal((await call(api.base, 'GET', '/v1/jobs', { headers: { authorization: 'Basic dXNlcjpwYXNz', 'x-api-key': keyA } })).status, 200);

    const created = await call(api.base, 'POST', '/v1/jobs', { headers: as(keyA), body: { kind: 'diagnostics', input: { tasks: 1, sleep_ms: 0 } } });
    assert.equal(created.status, 202);
    const id = created.body.id as string;
    await api.engine.waitFor(id, { timeoutMs: 20_000 });
    assert.equal((await api.store.getJob(id, 'tenant_a'))!.tenantId, 'tenant_a');
    assert.equal(await api.store.getJob(id, 'tenant_b'), undefined);

    assert.equal((await call(api.base, 'GET', `/v1/jobs/${id}`, { headers: as(keyA) })).status, 200);
    const events = await openEvents(api.base, `/v1/jobs/${id}/events`, as(keyA));
    assert.equal(events.status, 200);
    assert.deepEqual((await events.rest()).map((e) => e.event), ['status', 'progress', 'end']);
    assert.equal((await call(api.base, 'GET', `/v1/jobs/${id}/events`)).status, 401);
    for (const [method, path] of [['GET', `/v1/jobs/${id}`], ['GET', `/v1/jobs/${id}/events`], ['POST', `/v1/jobs/${id}/cancel`], ['POST', `/v1/jobs/${id}/retry`]] as const) {
      const res = await call(api.base, method, path, { headers: as(keyB) });
      assert.equal(res.status, 404, `${method} ${path} as tenant B`);
      assert.equal(res.body.error.code, 'not_found');
    }
    const listB = await call(api.base, 'GET', '/v1/jobs', { headers: as(keyB) });
    assert.deepEqual(listB.body.data, []);
    const listA = await call(api.base, 'GET', '/v1/jobs', { headers: as(keyA) });
    assert.deepEqual(
      listA.body.data.map((j: { id: string }) => j.id),
      [id],
    );
  });
});

describe('HTTP API: signed blob URLs', () => {
  let api: Api;
  const clock = new FakeClock(Date.now());
  const key = 'tenants/local/uploads/my file.txt';
  const content = 'hello, signed world';

  before(async () => {
    api = await startApi({ store: await sqliteStore(), worker: false, maxUploadBytes: 1000, blobClock: clock });
  });
  after(async () => {
    await api.close();
  });

  /** Signed URLs name the public base URL; the test server listens elsewhere. */
  const local = (url: string) => {
    const u = new URL(url);
    return `${api.base}${u.pathname}${u.search}`;
  };
  const upload = async (body: string, contentType = 'text/plain', objectKey = key) => {
    const signed = await api.blobs.signUpload(objectKey, { expiresInSeconds: 60, contentType: 'text/plain' });
    return fetch(local(signed.url), { method: 'PUT', headers: { 'content-type': contentType }, body });
  };

  it('uploads through a signed URL and downloads with Range support', async () => {
    const put = await upload(content);
    assert.equal(put.status, 200);
    assert.deepEqual(await put.json(), { key, size_bytes: content.length, content_type: 'text/plain' });

    const signed = await api.blobs.signDownload(key, { expiresInSeconds: 60, downloadName: 'résumé "final".txt' });
    const url = local(signed.url);
    const whole = await fetch(url);
    assert.equal(whole.status, 200);
    assert.equal(await whole.text(), content);
    assert.equal(whole.headers.get('content-type'), 'text/plain');
    assert.equal(whole.headers.get('content-length'), String(content.length));
    assert.equal(whole.headers.get('accept-ranges'), 'bytes');
    assert.equal(whole.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(whole.headers.get('content-disposition'), `attachment; filename="r_sum_ _final_.txt"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22.txt`);

    const part = await fetch(url, { headers: { range: 'bytes=7-12' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 7-12/${content.length}`);
    assert.equal(part.headers.get('content-length'), '6');
    assert.equal(await part.text(), 'signed');

    const tail = await fetch(url, { headers: { range: 'bytes=-5' } });
    assert.equal(tail.status, 206);
    assert.equal(await tail.text(), 'world');

    const past = await fetch(url, { headers: { range: 'bytes=500-' } });
    assert.equal(past.status, 416);
    assert.equal(past.headers.get('content-range'), `bytes */${content.length}`);
    assert.equal(((await past.json()) as { error: { code: string } }).error.code, 'range_not_satisfiable');

    const head = await fetch(url, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(content.length));
  });

  it('refuses tampered, mismatched and expired URLs with 403', async () => {
    await upload(content);
    const signed = local((await api.blobs.signDownload(key, { expiresInSeconds: 60 })).url);
    const refused = async (res: Response, reason: string) => {
      assert.equal(res.status, 403);
      const body = (await res.json()) as { error: { code: string; details: { reason: string } } };
      assert.equal(body.error.code, 'forbidden');
      assert.equal(body.error.details.reason, reason);
    };

    const tampered = new URL(signed);
    tampered.searchParams.set('sig', tampered.searchParams.get('sig')!.replace(/^./, (c) => (c === '0' ? '1' : '0')));
    await refused(await fetch(tampered), 'invalid');
    await refused(await fetch(signed.replace('my%20file.txt', 'other.txt')), 'invalid');
    await refused(await fetch(signed.split('?')[0]!), 'malformed');
    // A download URL does not allow an upload, and an upload must send the signed content type.
    await refused(await fetch(signed, { method: 'PUT', body: 'x' }), 'invalid');
    await refused(await upload('x', 'text/html'), 'invalid');

    clock.advance(61_000);
    await refused(await fetch(signed), 'expired');
  });

  it('refuses uploads over the size limit and keeps nothing', async () => {
    const big = 'x'.repeat(1001);
    const res = await upload(big, 'text/plain', 'tenants/local/uploads/big.bin');
    assert.equal(res.status, 413);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'payload_too_large');
    assert.equal(await api.blobs.stat('tenants/local/uploads/big.bin'), undefined);

    // Without a Content-Length the limit is enforced while streaming.
    const signed = await api.blobs.signUpload('tenants/local/uploads/streamed.bin', { expiresInSeconds: 60, contentType: 'text/plain' });
    const body = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 20; i++) controller.enqueue(new TextEncoder().encode('y'.repeat(100)));
        controller.close();
      },
    });
    const streamed = await fetch(local(signed.url), { method: 'PUT', headers: { 'content-type': 'text/plain' }, body, duplex: 'half' } as RequestInit).catch(
      (err: unknown) => err,
    );
    if (streamed instanceof Response) assert.equal(streamed.status, 413);
    assert.equal(await api.blobs.stat('tenants/local/uploads/streamed.bin'), undefined);
  });
});

describe('HTTP API: rate limiting', () => {
  let api: Api;
  let done: () => Promise<void>;
  before(async () => {
    const { store, cleanup } = await sqliteTestStore();
    api = await startApi({ store, worker: false, rateLimitPerMinute: 5 });
    done = async () => {
      await api.close();
      await cleanup();
    };
  });
  after(() => done());

  it('answers 429 with Retry-After once a tenant spends its minute, and leaves health open', async () => {
    for (let i = 0; i < 5; i++) assert.equal((await call(api.base, 'GET', '/v1/jobs')).status, 200);
    const limited = await fetch(`${api.base}/v1/jobs`);
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    assert.equal(((await limited.json()) as { error: { code: string } }).error.code, 'rate_limited');
    assert.equal((await call(api.base, 'GET', '/v1/health')).status, 200);
  });
});

describe('HTTP API: failed authentication is rate limited per client address', () => {
  let api: Api;
  let key: string;
  let done: () => Promise<void>;
  before(async () => {
    const { store, cleanup } = await sqliteTestStore();
    api = await startApi({ store, worker: false, authRequired: true, authFailuresPerMinute: 3 });
    await store.createTenant({ id: 'tenant_a', name: 'A', createdAt: 0 });
    const k = generateApiKey();
    await store.createApiKey({ id: 'key_a', tenantId: 'tenant_a', name: 'a', prefix: k.prefix, createdAt: 0, revokedAt: null }, k.hash);
    key = k.key;
    done = async () => {
      await api.close();
      await cleanup();
    };
  });
  after(() => done());

  it('answers 401 up to the limit, then 429 with Retry-After; a valid key keeps working', async () => {
    const wrong = { authorization: 'Bearer es_guessed-key-000000000000000000000000' };
    for (let i = 0; i < 3; i++) assert.equal((await call(api.base, 'GET', '/v1/jobs', { headers: wrong })).status, 401);
    for (const headers of [wrong, {}]) {
      const limited = await call(api.base, 'GET', '/v1/jobs', { headers });
      assert.equal(limited.status, 429, JSON.stringify(headers));
      assert.equal(limited.body.error.code, 'rate_limited');
      assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    }
    // Only failures count: the right key is never refused, from this address either.
    for (let i = 0; i < 5; i++) assert.equal((await call(api.base, 'GET', '/v1/jobs', { headers: { authorization: `Bearer ${key}` } })).status, 200);
    assert.equal((await call(api.base, 'GET', '/v1/jobs', { headers: wrong })).status, 429);
  });
});
