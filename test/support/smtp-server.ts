/**
 * A real SMTP server on 127.0.0.1 (smtp-server), for the mailer's contract suite and end-to-end tests
 * of e-mail notifications. It keeps every accepted message, parsed with mailparser, and can fail on
 * purpose: 451 to the first N messages, 550 to chosen recipients, 535 to a wrong password.
 * Plain text by default (STARTTLS disabled, AUTH allowed without TLS); `tls` makes it offer STARTTLS
 * or speak implicit TLS, with the self-signed certificate of test-tls.ts.
 */
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { TEST_TLS_CERT, TEST_TLS_KEY } from './test-tls.js';

export interface SmtpServerOptions {
  /** Require this login; without it the server takes mail from anyone. */
  auth?: { user: string; pass: string };
  /** Answer `451` (try again later) to the first N messages, then accept. Default 0. */
  failFirst?: number;
  /** Answer `550` to RCPT TO for these addresses. */
  rejectRecipients?: string[];
  /** `starttls`: offer STARTTLS on a plain connection; `implicit`: TLS from the first byte (smtps). Default none. */
  tls?: 'starttls' | 'implicit';
}

export interface CapturedMessage {
  /** The From header as text (`Earshot <earshot@localhost>`). */
  from: string;
  /** Envelope recipients the server accepted. */
  to: string[];
  /** The envelope sender (MAIL FROM). */
  mailFrom: string;
  subject: string;
  text: string;
  html: string | undefined;
  /** Header values as sent (unfolded), by lower-case name; the last one wins for repeated names. */
  headers: Record<string, string>;
  messageId: string | undefined;
  /** The message as it came over the wire. */
  raw: string;
  /** Whether the session was encrypted (STARTTLS or implicit TLS). */
  secure: boolean;
}

export interface TestSmtpServer {
  /** `smtp://user:pass@127.0.0.1:PORT` (credentials percent-encoded; `smtps://` with implicit TLS), or without credentials. */
  url: string;
  port: number;
  messages: CapturedMessage[];
  /** Resolves once `n` messages have arrived; rejects after `timeoutMs`. */
  waitForMessages(n: number, timeoutMs?: number): Promise<CapturedMessage[]>;
  close(): Promise<void>;
}

function smtpError(responseCode: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode });
}

/** Starts the server on a free port of 127.0.0.1. */
export async function startSmtpServer(options: SmtpServerOptions = {}): Promise<TestSmtpServer> {
  const messages: CapturedMessage[] = [];
  const arrivals = new EventEmitter();
  const rejected = new Set((options.rejectRecipients ?? []).map((a) => a.toLowerCase()));
  let failuresLeft = options.failFirst ?? 0;

  const server = new SMTPServer({
    logger: false,
    ...(options.tls === undefined ? { disabledCommands: ['STARTTLS'] } : { key: TEST_TLS_KEY, cert: TEST_TLS_CERT }),
    secure: options.tls === 'implicit',
    allowInsecureAuth: true,
    authOptional: options.auth === undefined,
    // No reverse DNS of 127.0.0.1: that would slow every connection down.
    disableReverseLookup: true,
    socketTimeout: 10_000,
    closeTimeout: 200,
    onAuth(auth, _session, callback) {
      const ok = options.auth !== undefined && auth.username === options.auth.user && auth.password === options.auth.pass;
      if (!ok) return callback(smtpError(535, 'Authentication credentials invalid'));
      callback(null, { user: auth.username });
    },
    onRcptTo(address, _session, callback) {
      if (rejected.has(address.address.toLowerCase())) return callback(smtpError(550, `No such user here: ${address.address}`));
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        if (failuresLeft > 0) {
          failuresLeft -= 1;
          return callback(smtpError(451, 'Temporary local problem - please try later'));
        }
        const raw = Buffer.concat(chunks);
        simpleParser(raw)
          .then((parsed) => {
            const headers: Record<string, string> = {};
            for (const { key, line } of parsed.headerLines) headers[key.toLowerCase()] = line.slice(line.indexOf(':') + 1).replace(/\r?\n[ \t]+/g, ' ').trim();
            messages.push({
              from: parsed.from?.text ?? '',
              to: session.envelope.rcptTo.map((r) => r.address),
              mailFrom: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
              subject: parsed.subject ?? '',
              text: parsed.text ?? '',
              html: parsed.html === false ? undefined : parsed.html,
              headers,
              messageId: parsed.messageId,
              raw: raw.toString('utf8'),
              secure: session.secure,
            });
            arrivals.emit('message');
            callback();
          })
          .catch((err: unknown) => callback(err instanceof Error ? err : new Error(String(err))));
      });
    },
  });

  // Connection-level errors (a client that refused our certificate and hung up) are what some tests
  // do on purpose; unheard, an 'error' event would crash the test process.
  server.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;
  const credentials = options.auth ? `${encodeURIComponent(options.auth.user)}:${encodeURIComponent(options.auth.pass)}@` : '';

  return {
    url: `${options.tls === 'implicit' ? 'smtps' : 'smtp'}://${credentials}127.0.0.1:${port}`,
    port,
    messages,
    waitForMessages(n, timeoutMs = 5_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (messages.length < n) return;
          clearTimeout(timer);
          arrivals.off('message', check);
          resolve(messages.slice(0, n));
        };
        const timer = setTimeout(() => {
          arrivals.off('message', check);
          reject(new Error(`expected ${n} messages within ${timeoutMs} ms, got ${messages.length}`));
        }, timeoutMs);
        arrivals.on('message', check);
        check();
      });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
