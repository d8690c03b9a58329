/**
 * The OpenAI-compatible engine against a local HTTP server that speaks the protocol: what it sends
 * (multipart fields, a valid WAV), how it maps verbose_json, and how each failure is classified.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { EarshotError } from '../../../core/errors.js';
import { decodeWav } from '../../../core/wav.js';
import { createOpenAiEngine, type OpenAiEngineOptions } from './openai-engine.js';

interface Recorded {
  method: string;
  path: string;
  authorization: string | undefined;
  fields: Map<string, string[]>;
  file: { name: string; type: string; bytes: Buffer } | undefined;
}

type Handler = (req: Recorded, res: ServerResponse) => void;

const pcm = Int16Array.from({ length: 16_000 }, (_, i) => Math.round(1000 * Math.sin(i / 7)));

const verbose = {
  task: 'transcribe',
  language: 'english',
  duration: 1,
  text: ' Hello there. General Kenobi.',
  segments: [
    { id: 0, start: 0, end: 0.52, text: ' Hello there.' },
    { id: 1, start: 0.5, end: 1.4, text: ' General Kenobi.' },
  ],
  words: [
    { word: 'Hello', start: 0.0, end: 0.2 },
    { word: 'there', start: 0.2, end: 0.5 },
    { word: 'General', start: 0.55, end: 0.8 },
    { word: 'Kenobi', start: 0.8, end: 1.3 },
  ],
};

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
};

const failure = (status: number, retryable: boolean, code = 'asr_failed') => (err: unknown) => {
  assert.ok(err instanceof EarshotError, String(err));
  assert.equal(err.code, code);
  assert.equal(err.retryable, retryable);
  if (status > 0) assert.equal(err.details?.status, status);
  return true;
};

describe('openai engine', () => {
  let server: Server;
  let baseUrl: string;
  let handler: Handler;
  const requests: Recorded[] = [];

  /** Reads the multipart body the way a server would (undici's multipart parser). */
  const record = async (req: IncomingMessage): Promise<Recorded> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const form = await new Response(Buffer.concat(chunks), { headers: { 'content-type': req.headers['content-type'] ?? '' } }).formData();
    const fields = new Map<string, string[]>();
    let file: Recorded['file'];
    for (const [name, value] of form) {
      if (typeof value === 'string') fields.set(name, [...(fields.get(name) ?? []), value]);
      else file = { name: value.name, type: value.type, bytes: Buffer.from(await value.arrayBuffer()) };
    }
    return { method: req.method!, path: req.url!, authorization: req.headers.authorization, fields, file };
  };

  before(async () => {
    server = createServer((req, res) => {
      void record(req).then(
        (r) => {
          requests.push(r);
          handler(r, res);
        },
        () => res.destroy(),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(() => {
    requests.length = 0;
    handler = (_req, res) => json(res, 200, verbose);
  });

  const engine = (options: Partial<OpenAiEngineOptions> = {}) => createOpenAiEngine({ baseUrl, apiKey: 'sk-test', model: 'whisper-1', ...options });

  it('posts a WAV with the fields of a verbose_json transcription and maps segments and words to ms', async () => {
    const e = engine();
    const result = await e.transcribe({ pcm, language: 'en', prompt: 'Star Wars', temperature: 0.2 });
    const [r] = requests;
    assert.equal(r!.method, 'POST');
    assert.equal(r!.path, '/v1/audio/transcriptions');
    assert.equal(r!.authorization, 'Bearer sk-test');
    assert.deepEqual(Object.fromEntries(r!.fields), {
      model: ['whisper-1'],
      response_format: ['verbose_json'],
      language: ['en'],
      'timestamp_granularities[]': ['word', 'segment'],
      prompt: ['Star Wars'],
      temperature: ['0.2'],
    });
    assert.equal(r!.file?.name, 'audio.wav');
    assert.equal(r!.file?.type, 'audio/wav');
    const wav = decodeWav(r!.file!.bytes);
    assert.equal(wav.sampleRate, 16_000);
    assert.deepEqual(wav.pcm, pcm);

    assert.equal(result.text, 'Hello there. General Kenobi.');
    assert.equal(result.language, 'en');
    assert.deepEqual(result.segments, [
      {
        startMs: 0,
        endMs: 520,
        text: 'Hello there.',
        words: [
          { text: 'Hello', startMs: 0, endMs: 200 },
          { text: 'there', startMs: 200, endMs: 500 },
        ],
      },
      {
        // Starts where the previous one ends, and ends with the audio.
        startMs: 520,
        endMs: 1000,
        text: 'General Kenobi.',
        words: [
          { text: 'General', startMs: 550, endMs: 800 },
          { text: 'Kenobi', startMs: 800, endMs: 1000 },
        ],
      },
    ]);
    await e.close();
  });

  it("leaves the language out for 'auto' and reads the detected one; translates through /audio/translations", async () => {
    const e = engine({ apiKey: undefined });
    handler = (_req, res) => json(res, 200, { ...verbose, language: 'spanish', words: undefined });
    const detected = await e.transcribe({ pcm, language: 'auto' });
    assert.equal(detected.language, 'es');
    assert.equal(requests[0]!.fields.has('language'), false);
    assert.equal(requests[0]!.authorization, undefined);
    const translated = await e.transcribe({ pcm, language: 'es', translate: true });
    assert.equal(requests[1]!.path, '/v1/audio/translations');
    assert.equal(requests[1]!.fields.has('timestamp_granularities[]'), false);
    assert.equal(translated.language, 'en');
    await e.close();
  });

  it('takes a plain json answer and words inside segments', async () => {
    const e = engine({ wordTimestamps: false });
    handler = (_req, res) => json(res, 200, { text: 'Just text.' });
    assert.deepEqual((await e.transcribe({ pcm, language: 'en' })).segments, [{ startMs: 0, endMs: 1000, text: 'Just text.' }]);
    assert.equal(requests[0]!.fields.has('timestamp_granularities[]'), false);
    handler = (_req, res) => json(res, 200, { text: 'Hi', segments: [{ start: 0.1, end: 0.4, text: 'Hi', words: [{ word: ' Hi', start: 0.1, end: 0.3, probability: 0.9 }] }] });
    assert.deepEqual((await e.transcribe({ pcm, language: 'en' })).segments[0]!.words, [{ text: 'Hi', startMs: 100, endMs: 300, confidence: 0.9 }]);
    await e.close();
  });

  it('does not retry what another attempt cannot fix: 401, 403, 404, 400', async () => {
    const e = engine();
    for (const status of [401, 403, 404, 400]) {
      handler = (_req, res) => json(res, status, { error: { message: 'nope', type: 'invalid_request_error' } });
      await assert.rejects(e.transcribe({ pcm, language: 'en' }), failure(status, false));
    }
    await e.close();
  });

  it('says unsupported_language when a 400 is about the language', async () => {
    const e = engine();
    handler = (_req, res) => json(res, 400, { error: { message: "Language 'xx' is not supported.", param: 'language' } });
    await assert.rejects(e.transcribe({ pcm, language: 'xx' }), failure(400, false, 'unsupported_language'));
    await e.close();
  });

  it('retries 429 (with its Retry-After as retryAfterMs) and 5xx', async () => {
    const e = engine();
    handler = (_req, res) => json(res, 429, { error: { message: 'Rate limit reached' } }, { 'retry-after': '7' });
    await assert.rejects(e.transcribe({ pcm, language: 'en' }), (err: unknown) => failure(429, true)(err) && (err as EarshotError).retryAfterMs === 7000);
    handler = (_req, res) => json(res, 500, 'Internal Server Error');
    await assert.rejects(e.transcribe({ pcm, language: 'en' }), failure(500, true));
    await e.close();
  });

  it('retries a bad body, a dropped connection, a refused connection and a timeout', async () => {
    const e = engine({ timeoutMs: 200 });
    handler = (_req, res) => json(res, 200, '<html>oops</html>');
    await assert.rejects(e.transcribe({ pcm, language: 'en' }), failure(0, true));
    handler = (_req, res) => res.destroy();
    await assert.rejects(e.transcribe({ pcm, language: 'en' }), (err: unknown) => failure(0, true)(err) && (err as EarshotError).details?.reason === 'network');
    handler = () => {}; // never answers
    await assert.rejects(e.transcribe({ pcm, language: 'en' }), (err: unknown) => failure(0, true)(err) && (err as EarshotError).details?.reason === 'timeout');
    await e.close();
    const refused = createOpenAiEngine({ baseUrl: 'http://127.0.0.1:9/v1' });
    await assert.rejects(refused.transcribe({ pcm, language: 'en' }), (err: unknown) => failure(0, true)(err) && (err as EarshotError).details?.reason === 'network');
  });

  it('rejects at once with AbortError on abort, and with asr_failed on close', async () => {
    const e = engine();
    handler = () => {};
    const controller = new AbortController();
    const call = e.transcribe({ pcm, language: 'en', signal: controller.signal });
    while (requests.length === 0) await new Promise((r) => setTimeout(r, 5));
    controller.abort('cancelled');
    await assert.rejects(call, { name: 'AbortError' });
    const pending = e.transcribe({ pcm, language: 'en' });
    while (requests.length === 1) await new Promise((r) => setTimeout(r, 5));
    await e.close();
    await assert.rejects(pending, failure(0, true));
    await assert.rejects(e.transcribe({ pcm, language: 'en' }), failure(0, true));
  });

  it('refuses a base URL that is not http(s)', () => {
    assert.throws(() => createOpenAiEngine({ baseUrl: 'ftp://example.com' }), (err: unknown) => err instanceof EarshotError && err.code === 'invalid_config');
  });
});
