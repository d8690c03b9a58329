/**
 * The notification tables (tenant webhook settings, deliveries and their attempt log), kept apart
 * from the engine's SQL in sql-store.ts. The engine never reads them: deliveries are ordinary jobs.
 */
import type { DeliveryAttempt, DeliveryRecord, DeliveryState, TenantWebhook } from '../../../ports/store.js';
import { placeholders, type Row, type SqlDriver } from './driver.js';
import { fromJson } from './rows.js';

const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

function webhookFromRow(r: Row): TenantWebhook {
  return {
    tenantId: String(r.tenant_id),
    url: strOrNull(r.url),
    events: fromJson<string[]>(r.events) ?? [],
    secret: String(r.secret),
    previousSecret: strOrNull(r.previous_secret),
    previousExpiresAt: numOrNull(r.previous_expires_at),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

function deliveryFromRow(r: Row): DeliveryRecord {
  return {
    id: String(r.id),
    tenantId: String(r.tenant_id),
    jobId: String(r.job_id),
    channel: r.channel as DeliveryRecord['channel'],
    event: String(r.event),
    target: String(r.target),
    payload: String(r.payload),
    state: r.state as DeliveryState,
    attempts: Number(r.attempts),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    deliveredAt: numOrNull(r.delivered_at),
  };
}

function attemptFromRow(r: Row): DeliveryAttempt {
  return {
    attempt: Number(r.attempt),
    at: Number(r.at),
    durationMs: Number(r.duration_ms),
    ok: Number(r.ok) === 1,
    statusCode: numOrNull(r.status_code),
    error: strOrNull(r.error),
    response: strOrNull(r.response),
  };
}

export class NotificationSql {
  constructor(private readonly db: SqlDriver) {}

  async getTenantWebhook(tenantId: string): Promise<TenantWebhook | undefined> {
    const r = (await this.db.all('SELECT * FROM tenant_webhooks WHERE tenant_id = ?', [tenantId]))[0];
    return r ? webhookFromRow(r) : undefined;
  }

  async putTenantWebhook(w: TenantWebhook): Promise<TenantWebhook> {
    await this.db.run(
      `INSERT INTO tenant_webhooks (tenant_id, url, events, secret, previous_secret, previous_expires_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (tenant_id) DO UPDATE SET url = excluded.url, events = excluded.events, secret = excluded.secret,
         previous_secret = excluded.previous_secret, previous_expires_at = excluded.previous_expires_at, updated_at = excluded.updated_at`,
      [w.tenantId, w.url, JSON.stringify(w.events), w.secret, w.previousSecret, w.previousExpiresAt, w.createdAt, w.updatedAt],
    );
    return (await this.getTenantWebhook(w.tenantId))!;
  }

  async ensureTenantWebhookSecret(tenantId: string, candidate: string, now: number): Promise<string> {
    await this.db.run(
      'INSERT INTO tenant_webhooks (tenant_id, url, events, secret, created_at, updated_at) VALUES (?, NULL, ?, ?, ?, ?) ON CONFLICT (tenant_id) DO NOTHING',
      [tenantId, '[]', candidate, now, now],
    );
    return (await this.getTenantWebhook(tenantId))!.secret;
  }

  async createDeliveries(deliveries: readonly DeliveryRecord[]): Promise<void> {
    for (const d of deliveries) {
      await this.db.run(
        `INSERT INTO deliveries (id, tenant_id, job_id, channel, event, target, payload, state, attempts, created_at, updated_at, delivered_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
        [d.id, d.tenantId, d.jobId, d.channel, d.event, d.target, d.payload, d.state, d.attempts, d.createdAt, d.updatedAt, d.deliveredAt],
      );
    }
  }

  async getDelivery(deliveryId: string, tenantId: string): Promise<DeliveryRecord | undefined> {
    const r = (await this.db.all('SELECT * FROM deliveries WHERE id = ? AND tenant_id = ?', [deliveryId, tenantId]))[0];
    return r ? deliveryFromRow(r) : undefined;
  }

  async listDeliveries(jobId: string, tenantId: string): Promise<(DeliveryRecord & { attemptLog: DeliveryAttempt[] })[]> {
    const rows = await this.db.all('SELECT * FROM deliveries WHERE job_id = ? AND tenant_id = ? ORDER BY created_at, id', [jobId, tenantId]);
    const deliveries = rows.map(deliveryFromRow);
    if (deliveries.length === 0) return [];
    const attempts = await this.db.all(
      `SELECT * FROM delivery_attempts WHERE delivery_id IN ${placeholders(deliveries.length)} ORDER BY delivery_id, attempt`,
      deliveries.map((d) => d.id),
    );
    return deliveries.map((d) => ({ ...d, attemptLog: attempts.filter((a) => String(a.delivery_id) === d.id).map(attemptFromRow) }));
  }

  async recordDeliveryAttempt(deliveryId: string, a: Omit<DeliveryAttempt, 'attempt'>, state: DeliveryState): Promise<number> {
    return this.db.transaction(async (q) => {
      const row = (await q.all(`SELECT attempts FROM deliveries WHERE id = ?${this.db.rowLock}`, [deliveryId]))[0];
      const attempt = Number(row?.attempts ?? 0) + 1;
      await q.run(
        'INSERT INTO delivery_attempts (delivery_id, attempt, at, duration_ms, ok, status_code, error, response) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        [deliveryId, attempt, a.at, Math.round(a.durationMs), a.ok ? 1 : 0, a.statusCode, a.error, a.response],
      );
      await q.run('UPDATE deliveries SET attempts = ?, state = ?, updated_at = ?, delivered_at = ? WHERE id = ?', [
        attempt,
        state,
        a.at,
        state === 'delivered' ? a.at : null,
        deliveryId,
      ]);
      return attempt;
    });
  }

  async reopenDelivery(deliveryId: string, now: number): Promise<boolean> {
    return (await this.db.run("UPDATE deliveries SET state = 'pending', updated_at = ? WHERE id = ?", [now, deliveryId])) > 0;
  }
}
