/**
 * Routes for operators and orchestrators, all without an API key: liveness, readiness and metrics.
 * `/metrics` is unauthenticated like most Prometheus targets: it shows queue depths and route counts,
 * no user data, but keep it off the public internet (bind a private address or filter it at the proxy).
 */
import type { FastifyPluginAsync } from 'fastify';
import { EarshotError } from '../../core/errors.js';
import type { Store } from '../../ports/store.js';
import { errorResponses } from './errors.js';
import type { Metrics } from './metrics.js';

export interface OpsDeps {
  store: Store;
  metrics: Metrics;
  version: string;
  /** How long readiness waits for the store. Default 2000 ms. */
  readyTimeoutMs?: number;
}

/** Resolves with `work`, or rejects with `unavailable` after `ms`. */
async function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new EarshotError('unavailable', `the store did not answer within ${ms} ms`, { retryable: true })), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function opsRoutes(deps: OpsDeps): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/v1/health',
      {
        schema: {
          summary: 'Liveness: the process answers',
          tags: ['operations'],
          security: [],
          response: { 200: { type: 'object', properties: { status: { type: 'string', enum: ['ok'] }, version: { type: 'string' } } } },
        },
      },
      async () => ({ status: 'ok', version: deps.version }),
    );

    app.get(
      '/v1/ready',
      {
        schema: {
          summary: 'Readiness: the store answers',
          tags: ['operations'],
          security: [],
          response: { 200: { type: 'object', properties: { status: { type: 'string', enum: ['ready'] } } }, ...errorResponses(503) },
        },
      },
      async () => {
        try {
          await within(deps.readyTimeoutMs ?? 2000, deps.store.queueCounts());
        } catch (err) {
          if (err instanceof EarshotError && err.code === 'unavailable') throw err;
          throw new EarshotError('unavailable', 'the store is not answering', { retryable: true, cause: err });
        }
        return { status: 'ready' };
      },
    );

    app.get(
      '/metrics',
      {
        schema: {
          summary: 'Prometheus metrics (text exposition format)',
          tags: ['operations'],
          security: [],
        },
      },
      async (_request, reply) => {
        const { contentType, body } = await deps.metrics.render();
        return reply.type(contentType).send(body);
      },
    );
  };
}
