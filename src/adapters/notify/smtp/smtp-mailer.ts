/**
 * Mailer over SMTP (nodemailer, one connection per message, no pool). The server is one URL:
 *
 * - `smtp://user:pass@host:port` connects in plain text and upgrades with STARTTLS when the server
 *   offers it; port 587 when none is given.
 * - `smtps://user:pass@host:port` speaks TLS from the first byte (implicit TLS); port 465 by default.
 * - User and password are percent-decoded, so a password with `@`, `:` or `/` is written `%40`, `%3A`, `%2F`.
 *   Without them, no AUTH is attempted.
 * - `?tls_reject_unauthorized=false` accepts a certificate that cannot be verified (self-signed, wrong
 *   name): for lab mail servers only, since whoever sits in between could then read the password.
 *
 * We open the TCP connection ourselves and hand it to nodemailer, so that an abort can close it.
 * Whether a failure is worth retrying is decided here: 5xx replies are permanent, 4xx replies and
 * network failures retryable. The password never appears in an error.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { createTransport } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import { EarshotError, permanent, retryable } from '../../../core/errors.js';
import type { EmailMessage, EmailReceipt, Mailer } from '../../../ports/notifier.js';

export interface SmtpMailerOptions {
  /** `smtp://user:pass@host[:587][?tls_reject_unauthorized=false]` or `smtps://user:pass@host[:465]`. */
  url: string;
  /** The From header: `Earshot <earshot@example.com>`. */
  from: string;
  /** Connecting, the server's greeting, and each later wait on the server. Default 30_000. */
  timeoutMs?: number;
}

interface SmtpTarget {
  host: string;
  port: number;
  secure: boolean;
  auth: { user: string; pass: string } | undefined;
  rejectUnauthorized: boolean;
}

/** Reads the URL; errors name what is wrong, never the URL itself (it holds the password). */
export function parseSmtpUrl(raw: string): SmtpTarget {
  const bad = (why: string) => new EarshotError('invalid_config', `the SMTP URL is invalid: ${why}`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw bad('expected smtp://user:pass@host:port or smtps://user:pass@host:port');
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') throw bad('the scheme must be smtp or smtps');
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (host === '') throw bad('it has no host');
  if (url.pathname !== '' && url.pathname !== '/') throw bad('it may not have a path');
  let rejectUnauthorized = true;
  for (const [key, value] of url.searchParams) {
    if (key !== 'tls_reject_unauthorized') throw bad(`unknown parameter ${key}`);
    if (value !== 'true' && value !== 'false') throw bad('tls_reject_unauthorized must be true or false');
    rejectUnauthorized = value === 'true';
  }
  const secure = url.protocol === 'smtps:';
  let auth: SmtpTarget['auth'];
  if (url.username !== '' || url.password !== '') {
    try {
      auth = { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) };
    } catch {
      throw bad('the user or password is not validly percent-encoded');
    }
  }
  return { host, port: url.port === '' ? (secure ? 465 : 587) : Number(url.port), secure, auth, rejectUnauthorized };
}

/** Network failures: the server or the path to it may come back. */
const TRANSIENT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED', 'ESOCKET', 'ECONNECTION', 'EDNS']);
/** nodemailer's own codes for failures that no retry can fix, when the server gave no reply code. */
const PERMANENT_CODES = new Set(['EAUTH', 'ENOAUTH', 'EENVELOPE', 'EMESSAGE', 'EOAUTH2']);

interface SmtpErrorLike {
  code?: string;
  responseCode?: number;
  response?: string;
  command?: string;
  message?: string;
}

/** Turns a nodemailer or socket failure into `email_failed`, with every trace of `secrets` removed. */
function toEmailError(err: unknown, secrets: readonly string[]): EarshotError {
  if (err instanceof EarshotError) return err;
  const e = (err ?? {}) as SmtpErrorLike;
  const redact = (s: string) => secrets.reduce((acc, secret) => (secret === '' ? acc : acc.split(secret).join('***')), s);
  const code = typeof e.code === 'string' ? e.code : undefined;
  const responseCode = typeof e.responseCode === 'number' ? e.responseCode : undefined;
  // The server's reply can name the recipient: it goes in details (redactable), not in the message.
  const details: Record<string, unknown> = {
    ...(responseCode !== undefined ? { response_code: responseCode } : {}),
    ...(code !== undefined ? { smtp_error: code } : {}),
    ...(typeof e.command === 'string' ? { command: e.command } : {}),
    ...(typeof e.response === 'string' ? { response: redact(e.response).slice(0, 500) } : {}),
  };
  const to = typeof e.command === 'string' ? ` to ${e.command}` : '';
  if (responseCode !== undefined && responseCode >= 500) return permanent('email_failed', `the mail server refused the message: it answered ${responseCode}${to}`, details);
  if (responseCode !== undefined && responseCode >= 400) return retryable('email_failed', `the mail server deferred the message: it answered ${responseCode}${to}`, details);
  const text = redact(typeof e.message === 'string' ? e.message : String(err));
  // nodemailer folds TLS failures into ETLS / ESOCKET; a bad certificate will not fix itself.
  if ((code === 'ETLS' || code === 'ESOCKET') && /certificate|self[- ]signed/i.test(text)) {
    return permanent('email_failed', `the mail server's TLS certificate was refused: ${text}`, { ...details, reason: 'tls_certificate' });
  }
  if (code !== undefined && PERMANENT_CODES.has(code)) return permanent('email_failed', `the message cannot be sent: ${text}`, details);
  if (code !== undefined && TRANSIENT_CODES.has(code)) return retryable('email_failed', `could not reach the mail server (${code})`, details);
  return retryable('email_failed', `sending the e-mail failed: ${text}`, details);
}

/** A TCP connection to the server, or the failure to make one; an abort destroys it. */
function connectSocket(target: SmtpTarget, timeoutMs: number, signal: AbortSignal | undefined): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: target.host, port: target.port });
    // Stays for the socket's life: an error between our hand-over and nodemailer's own listener must not crash us.
    socket.on('error', () => {});
    const settle = (err?: unknown) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.off('connect', onConnect);
      socket.off('error', onError);
      if (err === undefined) return resolve(socket);
      socket.destroy();
      reject(err);
    };
    const onConnect = () => settle();
    const onError = (err: Error) => settle(err);
    const onAbort = () => settle(signal!.reason);
    const timer = setTimeout(() => settle(Object.assign(new Error('connection timeout'), { code: 'ETIMEDOUT' })), timeoutMs);
    socket.once('connect', onConnect);
    socket.once('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Settles like `work`, or rejects with the signal's reason as soon as it aborts (then calls `onAbort`). */
function abortable<T>(work: Promise<T>, signal: AbortSignal | undefined, onAbort: () => void): Promise<T> {
  if (signal === undefined) return work;
  return new Promise<T>((resolve, reject) => {
    const abort = () => {
      onAbort();
      reject(signal.reason);
    };
    if (signal.aborted) return abort();
    signal.addEventListener('abort', abort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort));
  });
}

const addressText = (a: string | { address: string }): string => (typeof a === 'string' ? a : a.address);

/** A Mailer; the server is not contacted until the first message. Throws `invalid_config` on a bad URL. */
export function createSmtpMailer(options: SmtpMailerOptions): Mailer {
  const target = parseSmtpUrl(options.url);
  const timeoutMs = options.timeoutMs ?? 30_000;
  const secrets = target.auth ? [target.auth.pass, encodeURIComponent(target.auth.pass)] : [];
  const open = new Set<Socket>();
  let closed = false;

  const send = async (message: EmailMessage, sendOptions: { signal?: AbortSignal } = {}): Promise<EmailReceipt> => {
    const { signal } = sendOptions;
    signal?.throwIfAborted();
    if (closed) throw retryable('email_failed', 'the mailer is closed', { reason: 'closed' });

    // A Message-ID among the headers becomes nodemailer's own, so the message carries exactly one.
    const headers: Record<string, string> = {};
    let messageId: string | undefined;
    for (const [name, value] of Object.entries(message.headers ?? {})) {
      if (name.toLowerCase() === 'message-id') messageId = value;
      else headers[name] = value;
    }

    let socket: Socket | undefined;
    try {
      socket = await connectSocket(target, timeoutMs, signal);
      open.add(socket);
      const transportOptions: SMTPTransport.Options = {
        host: target.host,
        port: target.port,
        secure: target.secure,
        connection: socket,
        ...(target.auth ? { auth: { user: target.auth.user, pass: target.auth.pass } } : {}),
        tls: { rejectUnauthorized: target.rejectUnauthorized },
        connectionTimeout: timeoutMs,
        greetingTimeout: timeoutMs,
        socketTimeout: timeoutMs,
        logger: false,
        debug: false,
      };
      const transport = createTransport(transportOptions);
      const sending = transport.sendMail({
        from: options.from,
        to: message.to,
        subject: message.subject,
        text: message.text,
        ...(message.html !== undefined ? { html: message.html } : {}),
        headers,
        ...(messageId !== undefined ? { messageId } : {}),
        // Our content is strings; never let a value be read as a file path or a URL to fetch.
        disableFileAccess: true,
        disableUrlAccess: true,
      });
      sending.catch(() => {}); // after an abort nobody waits for it any more
      const connection = socket;
      const info = await abortable(sending, signal, () => connection.destroy());
      return { messageId: info.messageId, accepted: info.accepted.map(addressText), rejected: info.rejected.map(addressText) };
    } catch (err) {
      if (signal?.aborted && err === signal.reason) throw err;
      throw toEmailError(err, secrets);
    } finally {
      if (socket) {
        socket.destroy();
        open.delete(socket);
      }
    }
  };

  return {
    send,
    async close() {
      closed = true;
      // Sends still under way fail (retryable) rather than keep the process alive.
      for (const socket of open) socket.destroy();
      open.clear();
    },
  };
}
