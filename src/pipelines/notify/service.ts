/**
 * Notifications as clients see them: a job's delivery log, redelivery, and the tenant's webhook
 * endpoint. Used by the HTTP API.
 */
import { EarshotError } from '../../core/errors.js';
import type { Json } from '../../core/job.js';
import type { Engine } from '../../engine/engine.js';
import type { DeliveryAttempt, DeliveryRecord } from '../../ports/store.js';
import { defaultWebhookEvents } from './events.js';
import { checkTargets, NOTIFICATION, type NotifyDeps } from './notify.js';

export interface NotificationServiceOptions {
  engine: Engine;
  notify: Pick<NotifyDeps, 'mailer' | 'webhooks' | 'tenantWebhooks'>;
}

export class NotificationService {
  constructor(private readonly o: NotificationServiceOptions) {}

  async deliveries(tenantId: string, jobId: string): Promise<(DeliveryRecord & { attemptLog: DeliveryAttempt[] })[]> {
    await this.o.engine.getJob(jobId, tenantId);
    return this.o.engine.store.listDeliveries(jobId, tenantId);
  }

  /** Sends a delivery again (the same event, body and delivery id), with a fresh retry window. */
  async redeliver(tenantId: string, jobId: string, deliveryId: string): Promise<DeliveryRecord> {
    const delivery = await this.o.engine.store.getDelivery(deliveryId, tenantId);
    if (!delivery || delivery.jobId !== jobId) throw new EarshotError('not_found', 'no such delivery', { details: { delivery_id: deliveryId } });
    const now = this.o.engine.clock.now();
    await this.o.engine.store.reopenDelivery(deliveryId, now);
    await this.o.engine.submit({
      tenantId,
      kind: NOTIFICATION,
      input: { delivery_id: deliveryId, since: now } as unknown as Json,
      priority: 'high',
      idempotencyKey: `delivery:${deliveryId}:${now}`,
      internal: true,
    });
    return (await this.o.engine.store.getDelivery(deliveryId, tenantId))!;
  }

  webhook(tenantId: string) {
    return this.o.notify.tenantWebhooks.describe(tenantId);
  }

  async setWebhook(tenantId: string, url: string | null, events: string[] | undefined) {
    const list = events && events.length > 0 ? [...new Set(events)] : [...defaultWebhookEvents];
    await checkTargets(this.o.notify, { webhookEvents: list, ...(url ? { webhookUrl: url } : {}) });
    await this.o.notify.tenantWebhooks.put(tenantId, url, list);
    return this.o.notify.tenantWebhooks.describe(tenantId);
  }

  /** A new secret; the old one keeps signing alongside it for `keepPreviousSeconds` (0: it stops now). */
  async rotateSecret(tenantId: string, keepPreviousSeconds = 0) {
    await this.o.notify.tenantWebhooks.rotate(tenantId, keepPreviousSeconds);
    return this.o.notify.tenantWebhooks.describe(tenantId);
  }
}
