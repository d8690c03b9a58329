/**
 * A small HTTP client for a running Earshot server (`--server`): JSON requests, streamed multipart
 * uploads, downloads to files, and Server-Sent Events that reconnect with `Last-Event-ID`. Errors
 * from the server come back as EarshotError with the server's code, message and details.
 */
import { createWriteStream, openAsBlob } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { EarshotError, isErrorCode } from '../core/errors.js';

export interface ClientOptions {
  /** http(s)://host:port, without a trailing slash. */
  serverUrl: string;
  /** Sent as `Authorization: Bearer <key>`. */
  apiKey?: string | undefined;
}

/** One Server-Sent Event. `id` is the last event id in force (it may come from an earlier event). */
export interface SseMessage {
  id: string | undefined;
  event: string;
  data: string;
}

export interface StreamEventsOptions {
  lastEventId?: string;
  signal?: AbortSignal;
  /** The stream is done after an event of this type (no reconnection). Default `end`. */
  endEvent?: string;
  /** Consecutive failed connections before giving up. Default 5. */
  maxFailures?: number;
  /** First reconnection delay, doubled after each failure up to the server's `retry:` hint. Default 250. */
  backoffMs?: number;
}

/**
 * An incremental parser of the `text/event-stream` format (WHATWG HTML, "Server-sent events"): lines
 * end in CRLF, LF or CR; `data:` lines join with LF; a blank line dispatches; `:` starts a comment.
 */
export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private event = '';
  private pendingCr = false;
  /** The last event id in force; it carries over to events without their own. */
  lastEventId: string | undefined;
  /** The reconnection time the server asked for, if it did. */
  retryMs: number | undefined;

  constructor(lastEventId?: string) {
    this.lastEventId = lastEventId;
  }

  push(chunk: string): SseMessage[] {
    const out: SseMessage[] = [];
    let text = chunk;
    // A CR at the end of the last chunk may be the first half of a CRLF.
    if (this.pendingCr && text.startsWith('\n')) text = text.slice(1);
    this.pendingCr = false;
    this.buffer += text;
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buffer);
      if (!m) break;
      if (m[0] === '\r' && m.index === this.buffer.length - 1) this.pendingCr = true;
      const line = this.buffer.slice(0, m.index);
      this.buffer = this.buffer.slice(m.index + m[0].length);
      const message = this.line(line);
      if (message) out.push(message);
    }
    return out;
  }

  private line(line: string): SseMessage | undefined {
    if (line === '') {
      const data = this.data;
      const event = this.event || 'message';
      this.data = [];
      this.event = '';
      return data.length > 0 ? { id: this.lastEventId, event, data: data.join('\n') } : undefined;
    }
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
    else if (field === 'id' && !value.includes('\0')) this.lastEventId = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.retryMs = Number(value);
    return undefined;
  }
}

const wait = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });

export class EarshotClient {
  private readonly base: string;
  private readonly apiKey: string | undefined;

  constructor(options: ClientOptions) {
    this.base = options.serverUrl.replace(/\/+$/, '');
    this.apiKey = options.apiKey;
  }

  /** A path on the server (`/v1/...`) or an absolute URL (signed links). */
  url(path: string): string {
    return /^https?:\/\//.test(path) ? path : `${this.base}${path}`;
  }

  private async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.apiKey && !/^https?:\/\//.test(path)) headers.set('authorization', `Bearer ${this.apiKey}`);
    let res: Response;
    try {
      res = await fetch(this.url(path), { ...init, headers });
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new EarshotError('unavailable', `cannot reach ${this.base}: ${cause?.code ?? cause?.message ?? (err as Error).message}`, { retryable: true, cause: err });
    }
    if (!res.ok) throw await errorFrom(res);
    return res;
  }

  /** A JSON request; the answer parsed. */
  async requestJson<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.fetch(path, {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    });
    return (await res.json()) as T;
  }

  /**
   * Uploads a file as multipart/form-data (`file` plus `fields`) to `path` (default
   * POST /v1/transcriptions). The file is streamed from disk, never read whole into memory.
   */
  async uploadFile<T = unknown>(file: string, fields: Record<string, string | undefined>, path = '/v1/transcriptions'): Promise<T> {
    const form = new FormData();
    for (const [name, value] of Object.entries(fields)) if (value !== undefined) form.append(name, value);
    // Fields first: the server reads options before the (possibly large) file part.
    form.append('file', await openAsBlob(file), basename(file));
    const res = await this.fetch(path, { method: 'POST', body: form });
    return (await res.json()) as T;
  }

  /** Downloads `path` into `file` (through a temporary file, so a failed download leaves nothing). */
  async download(path: string, file: string): Promise<void> {
    const res = await this.fetch(path);
    const part = `${file}.part`;
    try {
      if (!res.body) throw new EarshotError('unavailable', `empty answer from ${path}`);
      await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), createWriteStream(part));
      await rename(part, file);
    } catch (err) {
      await rm(part, { force: true });
      throw err;
    }
  }

  /**
   * The events of an SSE route. After a dropped connection it reconnects with `Last-Event-ID`, after
   * a short backoff, and gives up (throws) after `maxFailures` attempts in a row without an event.
   * Error answers (404, 401 ...) are thrown at once. Ends after the `endEvent` or on the signal.
   */
  async *streamEvents(path: string, options: StreamEventsOptions = {}): AsyncGenerator<SseMessage, void, undefined> {
    const { signal, endEvent = 'end', maxFailures = 5, backoffMs = 250 } = options;
    let lastEventId = options.lastEventId;
    let retryMs = 2000;
    let failures = 0;
    let lastError: unknown;
    while (!signal?.aborted) {
      if (failures > 0) {
        if (failures >= maxFailures) {
          throw new EarshotError('unavailable', `gave up on the event stream ${path} after ${failures} failed connections: ${(lastError as Error | undefined)?.message ?? 'closed'}`, {
            retryable: true,
            cause: lastError,
          });
        }
        await wait(Math.min(retryMs, backoffMs * 2 ** (failures - 1)), signal);
        if (signal?.aborted) return;
      }
      const parser = new SseParser(lastEventId);
      try {
        const res = await this.fetch(path, {
          headers: { accept: 'text/event-stream', ...(lastEventId ? { 'last-event-id': lastEventId } : {}) },
          ...(signal ? { signal } : {}),
        });
        if (!res.body) throw new EarshotError('unavailable', 'the event stream has no body');
        const decoder = new TextDecoder();
        for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
          for (const message of parser.push(decoder.decode(chunk, { stream: true }))) {
            failures = 0;
            lastEventId = message.id;
            yield message;
            if (message.event === endEvent) return;
          }
          if (parser.retryMs !== undefined) retryMs = parser.retryMs;
        }
        lastError = new Error('the server closed the stream');
      } catch (err) {
        if (signal?.aborted) return;
        // Refusals are final; only connection trouble and 5xx are worth another try.
        if (err instanceof EarshotError && !err.retryable) throw err;
        lastError = err;
      }
      failures++;
    }
  }
}

/** The server's error body as an EarshotError (or a generic one for answers not from Earshot). */
async function errorFrom(res: Response): Promise<EarshotError> {
  const text = await res.text().catch(() => '');
  let body: { error?: { code?: string; message?: string; details?: Record<string, unknown> | null } } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {}
  const e = body.error;
  const retryableStatus = res.status >= 500 || res.status === 429;
  if (e?.code && e.message) {
    return new EarshotError(isErrorCode(e.code) ? e.code : 'http_error', e.message, { retryable: retryableStatus, details: { status: res.status, ...(e.details ?? {}) } });
  }
  return new EarshotError(retryableStatus ? 'unavailable' : 'http_error', `${res.status} ${res.statusText}${text ? `: ${text.slice(0, 200)}` : ''}`, {
    retryable: retryableStatus,
    details: { status: res.status },
  });
}
