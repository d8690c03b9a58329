/**
 * API-key authentication. A key names its tenant; every route behind this hook acts for that tenant
 * only, so another tenant's job is simply not found (404, not 403: we do not confirm it exists).
 */
import type { FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { hashApiKey } from '../../core/api-keys.js';
import { EarshotError } from '../../core/errors.js';
import type { RateLimiter } from '../../core/rate-limit.js';
import type { Store } from '../../ports/store.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The tenant the request acts for; set by the auth hook on every authenticated route. */
    tenantId: string;
  }
}

export interface AuthOptions {
  store: Store;
  authRequired: boolean;
  /** The tenant of every request when authentication is off. */
  localTenant: string;
  /**
   * Failed attempts by client address. Only failures take a token: once an address has none left its
   * further failures are 429 (a key that works still works), so keys cannot be guessed at speed.
   */
  failures?: RateLimiter;
}

/** The key from `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
export function presentedKey(request: FastifyRequest): string | undefined {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
  if (bearer) return bearer[1];
  // Falls through for other schemes too: a proxy in front may use Authorization for itself.
  const header = request.headers['x-api-key'];
  const key = Array.isArray(header) ? header[0] : header;
  return key?.trim() || undefined;
}

/** An onRequest hook: runs before the body is read, so an unauthenticated upload costs nothing. */
export function authenticate(options: AuthOptions): onRequestAsyncHookHandler {
  return async (request) => {
    if (!options.authRequired) {
      request.tenantId = options.localTenant;
      return;
    }
    const refuse = (message: string): never => {
      const waitMs = options.failures?.take(request.ip) ?? 0;
      if (waitMs > 0) throw tooMany('too many failed authentication attempts from this address; slow down', waitMs);
      throw new EarshotError('unauthorized', message);
    };
    const key = presentedKey(request);
    if (key === undefined) return refuse('an API key is required: Authorization: Bearer <key> or X-API-Key: <key>');
    const record = await options.store.findApiKey(hashApiKey(key));
    if (!record || record.revokedAt !== null) return refuse('the API key is unknown or revoked');
    request.tenantId = record.tenantId;
    request.log = request.log.child({ tenant_id: record.tenantId, api_key_id: record.id });
  };
}

/** An onRequest hook after authentication: 429 with Retry-After once a tenant exceeds its rate. */
export function rateLimit(limiter: RateLimiter): onRequestAsyncHookHandler {
  return async (request) => {
    const waitMs = limiter.take(request.tenantId);
    if (waitMs > 0) throw tooMany('too many requests; slow down', waitMs);
  };
}

/** 429 rate_limited; the error mapping sends its wait as Retry-After. */
function tooMany(message: string, waitMs: number): EarshotError {
  return new EarshotError('rate_limited', message, { retryAfterMs: waitMs, details: { retry_after_seconds: Math.ceil(waitMs / 1000) } });
}
