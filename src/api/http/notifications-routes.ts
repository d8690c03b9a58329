/**
 * Notifications: a job's delivery log and redelivery, and the tenant's own webhook endpoint and
 * signing secret. Every route acts for `request.tenantId`.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { NotificationService } from '../../pipelines/notify/service.js';
import type { WebhookSettings } from '../../pipelines/notify/tenant-webhooks.js';
import { webhookEvents } from '../../pipelines/notify/events.js';
import type { DeliveryAttempt, DeliveryRecord } from '../../ports/store.js';
import { errorResponses } from './errors.js';

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 100 } } } as const;
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function deliveryJson(d: DeliveryRecord & { attemptLog?: DeliveryAttempt[] }) {
  return {
    id: d.id,
    channel: d.channel,
    event: d.event,
    target: d.target,
    state: d.state,
    attempts: d.attempts,
    created_at: iso(d.createdAt),
    updated_at: iso(d.updatedAt),
    delivered_at: iso(d.deliveredAt),
    ...(d.attemptLog
      ? {
          attempt_log: d.attemptLog.map((a) => ({
            attempt: a.attempt,
            at: iso(a.at),
            duration_ms: a.durationMs,
            ok: a.ok,
            status_code: a.statusCode,
            error: a.error,
            response: a.response,
          })),
        }
      : {}),
  };
}

function webhookJson(w: WebhookSettings) {
  return { url: w.url, events: w.events, secret: w.secret, secret_source: w.secretSource, previous_secret_expires_at: iso(w.previousSecretExpiresAt) };
}

export function notificationsRoutes(service: NotificationService): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Params: { id: string } }>(
      '/v1/jobs/:id/deliveries',
      {
        schema: {
          summary: "A job's notifications and every attempt to deliver them",
          tags: ['notifications'],
          params: idParams,
          response: errorResponses(401, 404),
        },
      },
      async (request) => ({ data: (await service.deliveries(request.tenantId, request.params.id)).map(deliveryJson) }),
    );

    app.post<{ Params: { id: string; delivery_id: string } }>(
      '/v1/jobs/:id/deliveries/:delivery_id/redeliver',
      {
        schema: {
          summary: 'Send a notification again',
          description: 'The same event, body and Earshot-Delivery id (receivers deduplicate on it), signed anew, with a fresh 24-hour retry window.',
          tags: ['notifications'],
          params: {
            type: 'object',
            required: ['id', 'delivery_id'],
            properties: { id: { type: 'string', maxLength: 100 }, delivery_id: { type: 'string', maxLength: 100 } },
          },
          response: errorResponses(401, 404),
        },
      },
      async (request, reply) => {
        const d = await service.redeliver(request.tenantId, request.params.id, request.params.delivery_id);
        void reply.code(202);
        return deliveryJson(d);
      },
    );

    app.get('/v1/webhook', { schema: { summary: "The tenant's webhook endpoint and signing secret", tags: ['notifications'], response: errorResponses(401) } }, async (request) =>
      webhookJson(await service.webhook(request.tenantId)),
    );

    app.put<{ Body: { url: string | null; events?: string[] } }>(
      '/v1/webhook',
      {
        schema: {
          summary: "Set the tenant's webhook endpoint",
          description: 'Every job of the tenant sends its events here (besides any webhook_url of its own). `url: null` removes it.',
          tags: ['notifications'],
          body: {
            type: 'object',
            required: ['url'],
            additionalProperties: false,
            properties: {
              url: { type: ['string', 'null'], maxLength: 2000 },
              events: { type: 'array', items: { type: 'string', enum: [...webhookEvents] }, maxItems: 10 },
            },
          },
          response: errorResponses(400, 401, 422),
        },
      },
      async (request) => webhookJson(await service.setWebhook(request.tenantId, request.body.url, request.body.events)),
    );

    app.post<{ Body: { keep_previous_seconds?: number } | undefined }>(
      '/v1/webhook/rotate-secret',
      {
        schema: {
          summary: "Replace the tenant's webhook signing secret",
          description:
            'With `keep_previous_seconds`, webhooks carry a second `v1` signature made with the old secret until then (at most 7 days), so receivers can switch without dropping any. Default 0: the old secret stops at once.',
          tags: ['notifications'],
          body: { type: ['object', 'null'], additionalProperties: false, properties: { keep_previous_seconds: { type: 'integer', minimum: 0, maximum: 7 * 86400 } } },
          response: errorResponses(400, 401),
        },
      },
      async (request) => webhookJson(await service.rotateSecret(request.tenantId, request.body?.keep_previous_seconds ?? 0)),
    );
  };
}
