/**
 * WebhookSender on node:http / node:https (not fetch, whose connection we could not pin). One POST per
 * call, on a fresh connection, no redirects followed: a 3xx is just a status for the caller.
 *
 * The target is checked where it is connected to, so a DNS answer cannot change between check and
 * connect (DNS rebinding): an IP-literal host is checked before the request (Node never calls `lookup`
 * for one), and a host name is resolved inside the request's own `lookup`, which refuses the whole
 * request if ANY address is not public (address-policy.ts) and hands the socket only the addresses it
 * checked. TLS still verifies the certificate against the host name.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import { EarshotError, permanent, retryable } from '../../../core/errors.js';
import type { WebhookRequest, WebhookResponse, WebhookSender } from '../../../ports/notifier.js';
import { checkAddress, parseAllowlist, type Allowlist } from './address-policy.js';

export interface HttpWebhookSenderOptions {
  /** Host names, IPs and CIDRs that may be reached although not public (see parseAllowlist). Default none. */
  allowlist?: readonly string[];
  /** One whole attempt: resolving, connecting, sending and the response's status and excerpt. */
  timeoutMs: number;
  /** Default `Earshot-Webhooks/1`; a `User-Agent` among the request's headers wins. */
  userAgent?: string;
  /** How much of the response body is read for `bodyExcerpt`; the rest is never read. Default 4096. */
  maxResponseBytes?: number;
  /** All addresses of a host name. Default `dns.lookup(host, { all: true })`; tests give their own. */
  resolveHost?: (hostname: string) => Promise<LookupAddress[]>;
}

/** Failures on the way to the receiver that may go away: all `webhook_unreachable`, retryable. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ECONNABORTED']);

const defaultResolveHost = (hostname: string): Promise<LookupAddress[]> =>
  new Promise((resolve, reject) => dnsLookup(hostname, { all: true, family: 0 }, (err, addresses) => (err ? reject(err) : resolve(addresses))));

function refused(reason: string, message: string, address?: string): EarshotError {
  return permanent('webhook_refused', message, { reason, ...(address !== undefined ? { address } : {}) });
}

function unreachable(err: unknown): EarshotError {
  if (err instanceof EarshotError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const reason = typeof code === 'string' ? code : 'network_error';
  const why = NETWORK_CODES.has(reason) ? reason : `${reason}: ${err instanceof Error ? err.message : String(err)}`;
  // The URL stays out of the message: receivers often carry a token in it.
  return new EarshotError('webhook_unreachable', `could not reach the webhook receiver (${why})`, { retryable: true, details: { reason }, cause: err });
}

/** The URL, checked for what can be refused before any resolving. */
function parseTarget(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refused('invalid_url', 'the webhook URL is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw refused('scheme', `webhook URLs must be http or https, not ${url.protocol.replace(/:$/, '')}`);
  if (url.username !== '' || url.password !== '') throw refused('credentials', 'webhook URLs may not carry credentials');
  if (url.hostname === '') throw refused('invalid_url', 'the webhook URL has no host');
  return url;
}

/** All addresses of `hostname`, each allowed by the policy; `webhook_refused` naming the first that is not. */
async function resolveChecked(hostname: string, allowlist: Allowlist, resolveHost: (hostname: string) => Promise<LookupAddress[]>): Promise<LookupAddress[]> {
  const addresses = await resolveHost(hostname);
  for (const a of addresses) {
    const verdict = checkAddress(hostname, a.address, allowlist);
    if (!verdict.ok) throw refused(verdict.reason, `the webhook host resolves to a ${verdict.reason} address`, a.address);
  }
  return addresses;
}

/** A `lookup` for the request: resolves, refuses if any address is not allowed, answers with the checked ones. */
function checkedLookup(resolveAllowed: (hostname: string) => Promise<LookupAddress[]>): LookupFunction {
  return (hostname, options, callback) => {
    resolveAllowed(hostname)
      .then((addresses) => {
        const family = options.family === 4 || options.family === 6 ? options.family : 0;
        const usable = family === 0 ? addresses : addresses.filter((a) => a.family === family);
        const first = usable[0];
        if (first === undefined) throw Object.assign(new Error('no address for the webhook host'), { code: 'ENOTFOUND' });
        if (options.all) callback(null, usable);
        else callback(null, first.address, first.family);
      })
      .catch((err: NodeJS.ErrnoException) => callback(err, '', 0));
  };
}

/** A WebhookSender; nothing is contacted until the first post. Throws `invalid_config` on a bad allow-list entry. */
export function createHttpWebhookSender(options: HttpWebhookSenderOptions): WebhookSender {
  const allowlist = parseAllowlist(options.allowlist ?? []);
  const userAgent = options.userAgent ?? 'Earshot-Webhooks/1';
  const maxResponseBytes = options.maxResponseBytes ?? 4096;
  const resolveHost = options.resolveHost ?? defaultResolveHost;
  const resolveAllowed = (hostname: string) => resolveChecked(hostname, allowlist, resolveHost);
  const lookup = checkedLookup(resolveAllowed);

  /** The URL and its host, or `webhook_refused`; an IP-literal host is checked here, since Node never calls `lookup` for one. */
  const target = (raw: string): { url: URL; host: string } => {
    const url = parseTarget(raw);
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    if (isIP(host) !== 0) {
      const verdict = checkAddress(host, host, allowlist);
      if (!verdict.ok) throw refused(verdict.reason, `the webhook URL is a ${verdict.reason} address`, host);
    }
    return { url, host };
  };

  const check = async (raw: string): Promise<void> => {
    const { host } = target(raw);
    if (isIP(host) !== 0) return;
    // Only what is known to be refused is refused: a name that does not resolve now (or not within the
    // timeout) may resolve when the webhook is sent, and is checked again then.
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), options.timeoutMs)));
    const checked = resolveAllowed(host).catch((err: unknown) => {
      if (err instanceof EarshotError) throw err;
      return 'unresolved' as const;
    });
    try {
      await Promise.race([checked, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  };

  const post = async (request: WebhookRequest): Promise<WebhookResponse> => {
    const { signal } = request;
    signal?.throwIfAborted();
    const started = performance.now();
    const { url, host } = target(request.url);
    // Later keys replace earlier ones whatever their case, so the caller's User-Agent wins and ours
    // is the only Content-Length.
    const headers: OutgoingHttpHeaders = { 'user-agent': userAgent, ...request.headers, 'content-length': Buffer.byteLength(request.body) };

    return await new Promise<WebhookResponse>((resolve, reject) => {
      let settled = false;
      let status: number | undefined;
      let excerpt = '';
      let bytesRead = 0;
      const decoder = new StringDecoder('utf8');

      const finish = (settle: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        settle();
        // Whatever is left of the response, or of a connection still being made, is not wanted.
        req?.destroy();
      };
      const answer = () =>
        finish(() => resolve({ status: status!, durationMs: Math.round(performance.now() - started), bodyExcerpt: excerpt }));
      const fail = (err: unknown) => finish(() => reject(err));
      const onAbort = () => fail(signal!.reason);
      // The receiver that answered but never finishes its body still answered.
      const timer = setTimeout(
        () => (status !== undefined ? answer() : fail(retryable('webhook_unreachable', `the webhook receiver did not answer within ${options.timeoutMs} ms`, { reason: 'timeout' }))),
        options.timeoutMs,
      );
      signal?.addEventListener('abort', onAbort, { once: true });

      const onResponse = (res: IncomingMessage) => {
        status = res.statusCode ?? 0;
        res.on('error', () => answer());
        res.on('close', answer);
        res.on('end', answer);
        if (maxResponseBytes <= 0) return answer();
        res.on('data', (chunk: Buffer) => {
          const take = chunk.subarray(0, maxResponseBytes - bytesRead);
          bytesRead += take.length;
          // The decoder holds back a character cut in half at the limit.
          excerpt += decoder.write(take);
          if (bytesRead >= maxResponseBytes) answer();
        });
      };

      let req: ReturnType<typeof httpRequest> | undefined;
      try {
        req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(
          { method: 'POST', hostname: host, port: url.port === '' ? undefined : Number(url.port), path: `${url.pathname}${url.search}`, headers, agent: false, lookup },
          onResponse,
        );
      } catch (err) {
        // Node refuses header names or values it cannot send (a newline in a value) before connecting.
        return fail(permanent('webhook_refused', `the webhook request is invalid: ${err instanceof Error ? err.message : String(err)}`, { reason: 'invalid_request' }));
      }
      req.on('error', (err) => fail(unreachable(err)));
      req.end(request.body);
    });
  };

  return { post, check };
}
