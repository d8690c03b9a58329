/**
 * A local OpenAI-compatible transcription server (`POST /v1/audio/transcriptions`, verbose_json)
 * backed by one of our own engines, so the openai engine can run the AsrEngine contract on real
 * words without a network. It answers like OpenAI: seconds, words at the top level, the language
 * by name.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeWav } from '../../src/core/wav.js';
import { EarshotError } from '../../src/core/errors.js';
import type { AsrEngine } from '../../src/ports/asr-engine.js';

const NAMES: Record<string, string> = { en: 'english', es: 'spanish' };

export interface OpenAiAsrServer {
  /** The API root to give the engine (`http://127.0.0.1:PORT/v1`). */
  baseUrl: string;
  /** When each transcription request arrived (Date.now()), in order. */
  arrivals: number[];
  close(): Promise<void>;
}

/** A canned answer for one request, sent instead of transcribing (a 429 with Retry-After, say). */
export interface CannedAnswer {
  status: number;
  headers?: Record<string, string>;
  body: unknown;
}

/** Serves `engine`; a request without a language is transcribed as `fallbackLanguage` (for engines that cannot detect). */
export async function startOpenAiAsrServer(engine: AsrEngine, fallbackLanguage = 'en', options: { answerFirst?: CannedAnswer[] } = {}): Promise<OpenAiAsrServer> {
  const canned = [...(options.answerFirst ?? [])];
  const arrivals: number[] = [];
  const server: Server = createServer((req, res) => {
    const reply = (status: number, body: unknown) => {
      if (!res.headersSent && !res.destroyed) res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    // The client gave up (an abort, a timeout): stop the work it asked for.
    const gone = new AbortController();
    res.once('close', () => gone.abort());
    void (async () => {
      if (req.method !== 'POST' || req.url !== '/v1/audio/transcriptions') return reply(404, { error: { message: 'not found' } });
      arrivals.push(Date.now());
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const answer = canned.shift();
      if (answer) return void res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers }).end(JSON.stringify(answer.body));
      const form = await new Response(Buffer.concat(chunks), { headers: { 'content-type': req.headers['content-type'] ?? '' } }).formData();
      const file = form.get('file');
      if (!(file instanceof Blob)) return reply(400, { error: { message: 'file is required' } });
      const { pcm, sampleRate } = decodeWav(Buffer.from(await file.arrayBuffer()));
      if (sampleRate !== 16_000) return reply(400, { error: { message: 'expected 16 kHz audio' } });
      const language = typeof form.get('language') === 'string' ? (form.get('language') as string) : fallbackLanguage;
      const prompt = form.get('prompt');
      const result = await engine.transcribe({ pcm, language, signal: gone.signal, ...(typeof prompt === 'string' ? { prompt } : {}) });
      reply(200, {
        task: 'transcribe',
        language: NAMES[result.language] ?? result.language,
        duration: pcm.length / sampleRate,
        text: result.text,
        segments: result.segments.map((s, id) => ({ id, start: s.startMs / 1000, end: s.endMs / 1000, text: ` ${s.text}` })),
        words: result.segments.flatMap((s) => (s.words ?? []).map((w) => ({ word: w.text, start: w.startMs / 1000, end: w.endMs / 1000 }))),
      });
    })().catch((err: unknown) => {
      if (err instanceof EarshotError && err.code === 'unsupported_language') return reply(400, { error: { message: `Unsupported language: ${err.message}`, param: 'language' } });
      reply(500, { error: { message: String(err) } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    arrivals,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
