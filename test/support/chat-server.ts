/**
 * A local OpenAI-compatible chat server (`POST /v1/chat/completions`) scripted per request: each
 * request takes the next behaviour from a queue (an answer, malformed JSON, a hang, 429, 500, a
 * refused response format). It records every request so tests can read what the client sent. In
 * smart mode an empty queue answers with schema-valid notes built from the request, for end-to-end
 * tests of the notes pipeline.
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type ChatBehaviour =
  | { kind: 'answer'; content: string }
  | { kind: 'status'; status: number; message: string; headers?: Record<string, string> }
  | { kind: 'body'; status: number; body: string }
  | { kind: 'hang' };

/** Ready-made behaviours. */
export const reply = {
  /** 200 with this content (objects are sent as JSON text). */
  answer: (content: string | object): ChatBehaviour => ({ kind: 'answer', content: typeof content === 'string' ? content : JSON.stringify(content) }),
  /** 200 with JSON cut short. */
  malformed: (): ChatBehaviour => ({ kind: 'answer', content: '{"title": "Cut short", "summary": "the answer ends her' }),
  /** Never answers (the client must time out or abort). */
  hang: (): ChatBehaviour => ({ kind: 'hang' }),
  tooMany: (retryAfter: string): ChatBehaviour => ({ kind: 'status', status: 429, message: 'Rate limit reached', headers: { 'retry-after': retryAfter } }),
  serverError: (): ChatBehaviour => ({ kind: 'status', status: 500, message: 'The server had an error while processing your request' }),
  /** 401 that echoes the key it got, as careless servers do. */
  unauthorized: (key: string): ChatBehaviour => ({ kind: 'status', status: 401, message: `Incorrect API key provided: ${key}` }),
  unsupportedSchema: (): ChatBehaviour => ({ kind: 'status', status: 400, message: "response_format 'json_schema' is not supported by this server" }),
  /** 200 whose message has no content. */
  noContent: (): ChatBehaviour => ({ kind: 'body', status: 200, body: JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant' }, finish_reason: 'stop' }] }) }),
};

export interface RecordedRequest {
  body: any;
  headers: IncomingHttpHeaders;
}

export interface ChatServer {
  /** The API root to give the client (`http://127.0.0.1:PORT/v1`). */
  baseUrl: string;
  /** Every request, in order of arrival. */
  requests: RecordedRequest[];
  /** Queues behaviours for the next requests. */
  script(...behaviours: ChatBehaviour[]): void;
  close(): Promise<void>;
}

/** Starts a server; with `smart`, requests beyond the script get valid notes built from the request. */
export async function startChatServer(options: { smart?: boolean } = {}): Promise<ChatServer> {
  const queue: ChatBehaviour[] = [];
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      if (req.method !== 'POST' || req.url !== '/v1/chat/completions') return sendJson(res, 404, { error: { message: 'not found' } });
      let body: any;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return sendJson(res, 400, { error: { message: 'the body is not JSON' } });
      }
      requests.push({ body, headers: req.headers });
      const next = queue.shift() ?? (options.smart ? reply.answer(smartNotes(body)) : undefined);
      if (!next) return sendJson(res, 500, { error: { message: 'chat-server: no scripted behaviour left' } });
      switch (next.kind) {
        case 'hang':
          return; // closeAllConnections ends it.
        case 'status':
          return sendJson(res, next.status, { error: { message: next.message, type: 'invalid_request_error' } }, next.headers);
        case 'body':
          return res.writeHead(next.status, { 'content-type': 'application/json' }).end(next.body);
        case 'answer':
          return sendJson(res, 200, completion(body.model, next.content));
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    requests,
    script: (...behaviours) => queue.push(...behaviours),
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (!res.headersSent && !res.destroyed) res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

function completion(model: unknown, content: string) {
  return {
    id: 'chatcmpl-test',
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: typeof model === 'string' ? model : 'unknown',
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 100, completion_tokens: Math.ceil(content.length / 4), total_tokens: 100 + Math.ceil(content.length / 4) },
  };
}

/** Schema-valid notes; override what a test cares about. */
export function sampleNotes(overrides: Record<string, unknown> = {}) {
  return {
    title: 'A walk in the park',
    summary: 'I walked in the park and planned the week.',
    key_points: ['I walked in the park.', 'I planned the week.'],
    action_items: [{ text: 'Call the dentist', owner: null, due: '2025-03-04' }],
    people: ['Ana'],
    places: ['Retiro Park'],
    dates: [{ text: 'next Tuesday', date: null }],
    tags: ['walk', 'planning'],
    mood: 'calm',
    language: 'en',
    ...overrides,
  };
}

/**
 * Notes built from the request: from `<transcript>` the first sentences; from `<partial_notes>` the
 * partial notes put together. The language is the one the system prompt asks for.
 */
function smartNotes(body: any) {
  const messages: { role: string; content: string }[] = Array.isArray(body?.messages) ? body.messages : [];
  const system = messages.find((m) => m.role === 'system')?.content ?? '';
  const user = [...messages].reverse().find((m) => m.role === 'user')?.content ?? '';
  const language = /ISO 639-1 code "([a-z]{2,3})"/.exec(system)?.[1] ?? 'en';
  const partials = /<partial_notes>\n([\s\S]*)\n<\/partial_notes>/.exec(user);
  if (partials) {
    const parts = JSON.parse(partials[1]!) as ReturnType<typeof sampleNotes>[];
    return {
      ...parts[0]!,
      summary: parts.map((p) => p.summary).join(' '),
      key_points: parts.flatMap((p) => p.key_points).slice(0, 50),
      tags: [...new Set(parts.flatMap((p) => p.tags))].slice(0, 8),
      language,
    };
  }
  const transcript = /<transcript>\n([\s\S]*)\n<\/transcript>/.exec(user)?.[1] ?? user;
  const sentences = transcript.split(/(?<=[.!?])\s+/).filter((s) => s.trim() !== '');
  const first = sentences[0] ?? transcript;
  return {
    title: first.length <= 80 ? first : `${first.slice(0, 79)}…`,
    summary: sentences.slice(0, 2).join(' '),
    key_points: sentences.slice(0, 3),
    action_items: [],
    people: [],
    places: [],
    dates: [],
    tags: [...new Set(transcript.toLowerCase().match(/\p{L}{7,}/gu) ?? [])].slice(0, 3),
    mood: null,
    language,
  };
}
