/**
 * The Llm port against the openai-compatible adapter, talking to a local scripted chat server: the
 * wire format, the json_object fallback, and how every failure maps to a code and a retry flag.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createOpenAiCompatibleLlm } from '../../src/adapters/llm/openai-compatible/openai-compatible-llm.js';
import { EarshotError } from '../../src/core/errors.js';
import type { ChatJsonRequest } from '../../src/ports/llm.js';
import { reply, sampleNotes, startChatServer, type ChatServer } from '../support/chat-server.js';

const KEY = 'sk-test-secret-4242';
const schema = { name: 'notes', schema: { type: 'object', properties: { title: { type: 'string' } }, required: ['title'], additionalProperties: false } };
const request = (extra: Partial<ChatJsonRequest> = {}): ChatJsonRequest => ({
  messages: [
    { role: 'system', content: 'You write notes.' },
    { role: 'user', content: 'Hello.' },
  ],
  schema,
  ...extra,
});

/** The rejection of `promise`, which must reject. */
async function failure(promise: Promise<unknown>): Promise<any> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail('expected a rejection');
}

describe('Llm: openai-compatible', () => {
  let server: ChatServer;
  before(async () => {
    server = await startChatServer();
  });
  after(async () => {
    await server.close();
  });
  beforeEach(() => {
    server.requests.length = 0;
  });
  const llm = (timeoutMs = 5_000) => createOpenAiCompatibleLlm({ baseUrl: `${server.baseUrl}/`, apiKey: KEY, model: 'test-model', timeoutMs });

  it('sends a json_schema request and returns the content, model and usage', async () => {
    const notes = sampleNotes();
    server.script(reply.answer(notes));
    const answer = await llm().chatJson(request({ temperature: 0.3, maxTokens: 500 }));
    assert.deepEqual(JSON.parse(answer.content), notes);
    assert.equal(answer.model, 'test-model');
    assert.equal(answer.usage?.promptTokens, 100);
    const [sent] = server.requests;
    assert.equal(sent!.headers.authorization, `Bearer ${KEY}`);
    assert.equal(sent!.body.model, 'test-model');
    assert.equal(sent!.body.temperature, 0.3);
    assert.equal(sent!.body.max_tokens, 500);
    assert.deepEqual(sent!.body.messages, request().messages);
    assert.deepEqual(sent!.body.response_format, { type: 'json_schema', json_schema: { name: 'notes', schema: schema.schema, strict: true } });
  });

  it('sends no authorization header without a key', async () => {
    server.script(reply.answer('{}'));
    await createOpenAiCompatibleLlm({ baseUrl: server.baseUrl, model: 'm', timeoutMs: 5_000 }).chatJson(request());
    assert.equal(server.requests[0]!.headers.authorization, undefined);
  });

  it('falls back to json_object with the schema in the system prompt, and remembers it', async () => {
    const client = llm();
    server.script(reply.unsupportedSchema(), reply.answer('{"title":"a"}'), reply.answer('{"title":"b"}'));
    assert.equal((await client.chatJson(request())).content, '{"title":"a"}');
    assert.equal((await client.chatJson(request())).content, '{"title":"b"}');
    const formats = server.requests.map((r) => r.body.response_format.type);
    assert.deepEqual(formats, ['json_schema', 'json_object', 'json_object']);
    const fallback = server.requests[1]!.body.messages;
    assert.equal(fallback.length, 2, 'the schema joins the first system message');
    assert.match(fallback[0].content, /^You write notes\.\n\n.*JSON Schema/s);
    assert.ok(fallback[0].content.includes(JSON.stringify(schema.schema)));
  });

  it('drops the temperature for models that accept only their default, and remembers it', async () => {
    const client = llm();
    server.script(
      { kind: 'status', status: 400, message: "Unsupported value: 'temperature' does not support 0 with this model. Only the default (1) value is supported." },
      reply.answer('{"title":"a"}'),
      reply.answer('{"title":"b"}'),
    );
    await client.chatJson(request());
    await client.chatJson(request());
    assert.deepEqual(
      server.requests.map((r) => r.body.temperature),
      [0, undefined, undefined],
    );
  });

  it('does not retry other refusals', async () => {
    server.script({ kind: 'status', status: 400, message: "Invalid schema for response_format 'notes': 'required' is missing" });
    const err = await failure(llm().chatJson(request()));
    assert.equal(err.code, 'llm_failed');
    assert.equal(server.requests.length, 1);
  });

  it('times out as llm_unavailable, retryable', async () => {
    server.script(reply.hang());
    const started = Date.now();
    const err = await failure(llm(300).chatJson(request()));
    assert.ok(err instanceof EarshotError);
    assert.equal(err.code, 'llm_unavailable');
    assert.equal(err.retryable, true);
    assert.equal(err.details?.reason, 'timeout');
    assert.ok(Date.now() - started < 3_000);
  });

  it('maps 429 to llm_unavailable with retryAfterMs, from seconds or an HTTP date', async () => {
    server.script(reply.tooMany('7'), reply.tooMany(new Date(Date.now() + 30_000).toUTCString()));
    const seconds = await failure(llm().chatJson(request()));
    assert.equal(seconds.code, 'llm_unavailable');
    assert.equal(seconds.retryable, true);
    assert.equal(seconds.retryAfterMs, 7000);
    const date = await failure(llm().chatJson(request()));
    assert.ok(date.retryAfterMs > 25_000 && date.retryAfterMs <= 30_000, String(date.retryAfterMs));
  });

  it('maps 5xx to llm_unavailable, retryable', async () => {
    server.script(reply.serverError());
    const err = await failure(llm().chatJson(request()));
    assert.equal(err.code, 'llm_unavailable');
    assert.equal(err.retryable, true);
    assert.equal(err.details.status, 500);
  });

  it('maps 401 to llm_failed, permanent, with the server message but never the key', async () => {
    server.script(reply.unauthorized(KEY));
    const err = await failure(llm().chatJson(request()));
    assert.equal(err.code, 'llm_failed');
    assert.equal(err.retryable, false);
    assert.equal(err.details.status, 401);
    assert.match(err.details.message, /Incorrect API key provided/);
    assert.ok(!JSON.stringify({ message: err.message, details: err.details, stack: err.stack }).includes(KEY));
  });

  it('maps a 200 without content to llm_failed', async () => {
    server.script(reply.noContent());
    const err = await failure(llm().chatJson(request()));
    assert.equal(err.code, 'llm_failed');
    assert.equal(err.retryable, false);
  });

  it('maps a refused connection to llm_unavailable', async () => {
    const gone = await startChatServer();
    await gone.close();
    const err = await failure(createOpenAiCompatibleLlm({ baseUrl: gone.baseUrl, apiKey: KEY, model: 'm', timeoutMs: 2_000 }).chatJson(request()));
    assert.equal(err.code, 'llm_unavailable');
    assert.equal(err.retryable, true);
    assert.equal(err.details.reason, 'network');
    assert.ok(!String(err.message).includes(KEY));
  });

  it("rejects with the caller's abort, not llm_unavailable", async () => {
    server.script(reply.hang());
    const controller = new AbortController();
    const pending = llm().chatJson(request({ signal: controller.signal }));
    setTimeout(() => controller.abort(), 50);
    const err = await failure(pending);
    assert.equal(err.name, 'AbortError');
    assert.ok(!(err instanceof EarshotError));

    const reason = new Error('shutting down');
    const aborted = await failure(llm().chatJson(request({ signal: AbortSignal.abort(reason) })));
    assert.equal(aborted, reason, 'an aborted signal is rethrown as its reason, before any request');
    assert.equal(server.requests.length, 1);
  });

  it('refuses a base URL that is not http(s)', () => {
    assert.throws(() => createOpenAiCompatibleLlm({ baseUrl: 'ftp://example.com/v1', model: 'm', timeoutMs: 1000 }), { code: 'invalid_config' });
    assert.throws(() => createOpenAiCompatibleLlm({ baseUrl: 'not a url', model: 'm', timeoutMs: 1000 }), { code: 'invalid_config' });
  });
});
