/**
 * A webhook receiver on 127.0.0.1 (node:http) that keeps every request it gets, body as the exact
 * text received, and counts TCP connections, so a test can show that a refused webhook never even
 * connected. Answers 200 `ok` unless told otherwise; `'hang'` never answers.
 */
import { EventEmitter } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedWebhook {
  method: string;
  /** Path and query, as requested. */
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface ReceiverReply {
  status: number;
  body?: string;
  headers?: Record<string, string>;
}

export interface WebhookReceiver {
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  requests: ReceivedWebhook[];
  /** TCP connections accepted so far, whether or not a request followed. */
  connections(): number;
  waitForRequests(n: number, timeoutMs?: number): Promise<ReceivedWebhook[]>;
  close(): Promise<void>;
}

/** Starts a receiver; `respond` decides each answer. */
export async function startWebhookReceiver(respond: (req: ReceivedWebhook) => ReceiverReply | 'hang' = () => ({ status: 200, body: 'ok' })): Promise<WebhookReceiver> {
  const requests: ReceivedWebhook[] = [];
  const arrivals = new EventEmitter();
  let connections = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const received: ReceivedWebhook = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(received);
      arrivals.emit('request');
      const reply = respond(received);
      if (reply === 'hang') return;
      res.writeHead(reply.status, reply.headers ?? { 'content-type': 'text/plain' }).end(reply.body ?? '');
    });
  });
  server.on('connection', () => (connections += 1));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    connections: () => connections,
    waitForRequests(n, timeoutMs = 5_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (requests.length < n) return;
          clearTimeout(timer);
          arrivals.off('request', check);
          resolve(requests.slice(0, n));
        };
        const timer = setTimeout(() => {
          arrivals.off('request', check);
          reject(new Error(`expected ${n} webhook requests within ${timeoutMs} ms, got ${requests.length}`));
        }, timeoutMs);
        arrivals.on('request', check);
        check();
      });
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
