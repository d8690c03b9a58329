/**
 * The HTTP API. It receives the engine and ports from the composition root and builds nothing itself.
 */
import { LogController, fastify, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Engine } from '../../engine/engine.js';
import type { BlobStore } from '../../ports/blob-store.js';
import type { Logger } from '../../ports/logger.js';
import type { Store } from '../../ports/store.js';
import { RateLimiter } from '../../core/rate-limit.js';
import { authenticate, rateLimit } from './auth.js';
import { blobsRoutes } from './blobs-routes.js';
import { registerDocs } from './docs.js';
import { errorSchema, handleError, handleNotFound } from './errors.js';
import { requestId } from './request-id.js';
import { eventsRoutes } from './events-routes.js';
import { jobSchemas } from './job-json.js';
import { registerJsonParser } from './json-body.js';
import { jobsRoutes } from './jobs-routes.js';
import type { Metrics } from './metrics.js';
import { opsRoutes } from './ops-routes.js';
import { transcriptionRoutes } from './transcriptions-routes.js';
import type { TranscriptionService } from '../../pipelines/transcribe/service.js';
import type { NotificationService } from '../../pipelines/notify/service.js';
import { notificationsRoutes } from './notifications-routes.js';

export interface HttpDeps {
  engine: Engine;
  store: Store;
  blobs: BlobStore;
  logger: Logger;
  /** When false every request acts for `localTenant`. */
  authRequired: boolean;
  localTenant: string;
  /** Largest blob upload accepted through signed URLs. */
  maxUploadBytes: number;
  metrics: Metrics;
  version: string;
  /** Requests per minute per tenant on /v1 routes; 0 for no limit. */
  rateLimitPerMinute?: number;
  /** Failed authentications per minute per client address before further failures get 429; 0 for no limit. */
  authFailuresPerMinute?: number;
  /** The transcription routes, when this process offers them. */
  transcriptions?: TranscriptionService;
  /** Delivery logs and the tenant webhook routes. */
  notifications?: NotificationService;
  /** How often job event streams look for progress (ms). Default 1000. */
  eventPollMs?: number;
}

/** Quiet routes: polled by orchestrators and Prometheus, logged at debug only. */
const QUIET_ROUTES = new Set(['/v1/health', '/v1/ready', '/metrics']);

export function buildHttpServer(deps: HttpDeps): FastifyInstance {
  const app = fastify({
    // Our Logger is pino's shape (pino itself in production), which is what Fastify expects.
    loggerInstance: deps.logger as unknown as FastifyBaseLogger,
    // One line per request, written by the onResponse hook below, instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'req_id' }),
    // genReqId reads x-request-id itself, to accept only ids that are safe to echo and to log.
    requestIdHeader: false,
    genReqId: (req) => requestId(req.headers['x-request-id']),
    // allErrors: a 400 lists every problem at once; removeAdditional off: unknown fields are refused, not dropped.
    ajv: { customOptions: { allErrors: true, removeAdditional: false } },
    // Refusals Fastify makes before routing (a malformed URL) go through our one mapping too.
    frameworkErrors: (err, request, reply) => void handleError(err, request, reply),
  });

  app.setErrorHandler(handleError);
  app.setNotFoundHandler(handleNotFound);
  registerJsonParser(app);
  app.addSchema(errorSchema);
  for (const s of jobSchemas) app.addSchema(s);

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.is404 ? 'unmatched' : (request.routeOptions.url ?? 'unmatched');
    deps.metrics.observeHttpRequest(request.method, route, reply.statusCode);
    const fields = { method: request.method, route, status: reply.statusCode, duration_ms: Math.round(reply.elapsedTime) };
    if (QUIET_ROUTES.has(route)) request.log.debug(fields, 'request');
    else request.log.info(fields, 'request');
  });

  registerDocs(app, { version: deps.version, authRequired: deps.authRequired });
  void app.register(opsRoutes({ store: deps.store, metrics: deps.metrics, version: deps.version }));
  void app.register(async (v1) => {
    v1.decorateRequest('tenantId', '');
    v1.addHook(
      'onRequest',
      authenticate({
        store: deps.store,
        authRequired: deps.authRequired,
        localTenant: deps.localTenant,
        ...(deps.authFailuresPerMinute ? { failures: new RateLimiter(deps.authFailuresPerMinute, deps.engine.clock) } : {}),
      }),
    );
    if (deps.rateLimitPerMinute) v1.addHook('onRequest', rateLimit(new RateLimiter(deps.rateLimitPerMinute, deps.engine.clock)));
    await v1.register(jobsRoutes(deps.engine));
    await v1.register(eventsRoutes(deps.engine, deps.eventPollMs ? { pollMs: deps.eventPollMs } : {}));
    if (deps.notifications) await v1.register(notificationsRoutes(deps.notifications));
    if (deps.transcriptions) {
      await v1.register(transcriptionRoutes({ engine: deps.engine, blobs: deps.blobs, service: deps.transcriptions, maxUploadBytes: deps.maxUploadBytes }));
    }
  });
  if (deps.blobs.capabilities.urlTarget === 'api' && deps.blobs.verifySignedUrl) {
    const uploads = deps.transcriptions;
    void app.register(
      blobsRoutes({ blobs: deps.blobs, maxUploadBytes: deps.maxUploadBytes, ...(uploads ? { checkWrite: (key: string) => uploads.checkUploadWrite(key) } : {}) }),
    );
  }
  return app;
}
