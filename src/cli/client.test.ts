import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EarshotClient, SseParser, type SseMessage } from './client.js';

describe('SseParser', () => {
  it('parses fields, multi-line data, comments and every line ending, across chunk boundaries', () => {
    const text = ': hello\r\nretry: 1500\r\n\r\nid: 7\nevent: status\ndata: {"a":1}\n\ndata: one\rdata: two\r\rid: 8\r\nevent: end\r\ndata\r\n\r\n';
    // Every split point, including between a CR and its LF.
    for (let cut = 0; cut <= text.length; cut++) {
      const parser = new SseParser();
      const got = [...parser.push(text.slice(0, cut)), ...parser.push(text.slice(cut))];
      assert.deepEqual(
        got,
        [
          { id: '7', event: 'status', data: '{"a":1}' },
          { id: '7', event: 'message', data: 'one\ntwo' },
          { id: '8', event: 'end', data: '' },
        ],
        `cut at ${cut}`,
      );
      assert.equal(parser.retryMs, 1500);
    }
  });

  it('keeps the last id, ignores ids with NUL, and dispatches nothing without data', () => {
    const parser = new SseParser('3');
    assert.deepEqual(parser.push('event: x\n\nid: 4\0\ndata: y\n\nretry: soon\n\n'), [{ id: '3', event: 'message', data: 'y' }]);
    assert.equal(parser.retryMs, undefined);
    assert.deepEqual(parser.push('id:5\ndata:z\n\n'), [{ id: '5', event: 'message', data: 'z' }]);
  });
});

describe('EarshotClient against a small server', () => {
  let server: http.Server;
  let client: EarshotClient;
  let handler: (req: http.IncomingMessage, res: http.ServerResponse) => void = () => {};
  const seen: { url: string; headers: http.IncomingHttpHeaders; body: Buffer }[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'earshot-client-'));

  before(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
        handler(req, res);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    client = new EarshotClient({ serverUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, apiKey: 'es_secret' });
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  const sse = (res: http.ServerResponse) => res.writeHead(200, { 'content-type': 'text/event-stream' });
  const collect = async (path: string, options = {}) => {
    const got: SseMessage[] = [];
    for await (const m of client.streamEvents(path, { backoffMs: 1, ...options })) got.push(m);
    return got;
  };

  it('reconnects a dropped event stream with Last-Event-ID and stops after end', async () => {
    seen.length = 0;
    let connection = 0;
    handler = (_req, res) => {
      sse(res);
      if (++connection === 1) {
        res.write('retry: 5\n\nid: 1\nevent: status\ndata: {}\n\nid: 2\nevent: progress\ndata: {}\n\n');
        setTimeout(() => res.destroy(), 20);
      } else {
        res.write('id: 3\nevent: progress\ndata: {}\n\nid: 4\nevent: end\ndata: {}\n\nid: 5\nevent: after\ndata: {}\n\n');
      }
    };
    const got = await collect('/v1/jobs/j/events', { lastEventId: '0' });
    assert.deepEqual(got.map((m) => `${m.id} ${m.event}`), ['1 status', '2 progress', '3 progress', '4 end']);
    assert.deepEqual(seen.map((s) => s.headers['last-event-id']), ['0', '2']);
    assert.ok(seen.every((s) => s.headers.authorization === 'Bearer es_secret' && s.headers.accept === 'text/event-stream'));
  });

  it('gives up after a few failed connections in a row, and does not retry refusals', async () => {
    seen.length = 0;
    handler = (_req, res) => {
      sse(res);
      res.end(': nothing\n\n');
    };
    await assert.rejects(collect('/v1/jobs/j/events', { maxFailures: 3 }), { code: 'unavailable', message: /after 3 failed connections/ });
    assert.equal(seen.length, 3);

    seen.length = 0;
    handler = (_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'not_found', message: 'no such job', details: { job_id: 'j' } } }));
    };
    await assert.rejects(collect('/v1/jobs/j/events'), { code: 'not_found', message: 'no such job', details: { status: 404, job_id: 'j' } });
    assert.equal(seen.length, 1);
  });

  it('maps error answers to EarshotError, and reports a server it cannot reach', async () => {
    handler = (_req, res) => res.writeHead(409, { 'content-type': 'application/json' }).end('{"error":{"code":"conflict","message":"not yet","details":null}}');
    await assert.rejects(client.requestJson('GET', '/v1/x'), { code: 'conflict', message: 'not yet', retryable: false });
    handler = (_req, res) => res.writeHead(502).end('bad gateway');
    await assert.rejects(client.requestJson('GET', '/v1/x'), { code: 'unavailable', retryable: true, message: /^502/ });
    handler = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    assert.deepEqual(await client.requestJson('POST', '/v1/x', { a: 1 }), { ok: true });
    assert.equal(seen.at(-1)!.headers['content-type'], 'application/json');
    assert.equal(seen.at(-1)!.body.toString(), '{"a":1}');
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    await assert.rejects(new EarshotClient({ serverUrl: `http://127.0.0.1:${port}` }).requestJson('GET', '/v1/health'), {
      code: 'unavailable',
      message: `cannot reach http://127.0.0.1:${port}: ECONNREFUSED`,
    });
  });

  it('uploads a file as multipart with its fields, and downloads to a file only when the answer is good', async () => {
    const file = join(dir, 'talk.wav');
    writeFileSync(file, Buffer.alloc(300_000, 7));
    handler = (_req, res) => res.writeHead(202, { 'content-type': 'application/json' }).end('{"id":"job_1"}');
    assert.deepEqual(await client.uploadFile(file, { language: 'en', engine: undefined, formats: 'txt,srt' }), { id: 'job_1' });
    const upload = seen.at(-1)!;
    assert.equal(upload.url, '/v1/transcriptions');
    assert.match(upload.headers['content-type'] ?? '', /^multipart\/form-data; boundary=/);
    assert.equal(Number(upload.headers['content-length']), upload.body.length, 'a known length, not chunked');
    const body = upload.body.toString('latin1');
    assert.match(body, /name="language"\r\n\r\nen\r\n/);
    assert.match(body, /name="formats"\r\n\r\ntxt,srt\r\n/);
    assert.doesNotMatch(body, /name="engine"/);
    assert.match(body, /name="file"; filename="talk.wav"/);
    assert.ok(upload.body.includes(Buffer.alloc(300_000, 7)));
    assert.ok(body.indexOf('name="formats"') < body.indexOf('name="file"'), 'fields before the file');

    handler = (_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('hello world');
    const out = join(dir, 'talk.txt');
    await client.download('/v1/transcriptions/job_1?format=txt', out);
    assert.equal(readFileSync(out, 'utf8'), 'hello world');
    handler = (_req, res) => res.writeHead(409, { 'content-type': 'application/json' }).end('{"error":{"code":"conflict","message":"not finished","details":null}}');
    const missing = join(dir, 'other.txt');
    await assert.rejects(client.download('/v1/transcriptions/job_2?format=txt', missing), { code: 'conflict' });
    assert.equal(existsSync(missing), false);
    assert.equal(existsSync(`${missing}.part`), false);
  });
});
