/**
 * A tenant's webhook endpoint and signing secret. The secret is the tenant's own once it has one
 * (generated on first need, or when the endpoint is set or rotated); until then the operator's
 * EARSHOT_WEBHOOK_SECRET signs, when set. Endpoint lookups are cached briefly: every job submission
 * and finished task asks.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../../core/clock.js';
import type { Store, TenantWebhook } from '../../ports/store.js';

const CACHE_MS = 5000;

export const newWebhookSecret = () => `whsec_${randomBytes(24).toString('base64url')}`;

export class TenantWebhooks {
  private readonly cache = new Map<string, { at: number; value: TenantWebhook | undefined }>();

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    /** The operator's default secret (EARSHOT_WEBHOOK_SECRET). */
    private readonly defaultSecret?: string,
  ) {}

  /** The tenant's settings, at most a few seconds old. */
  async endpoint(tenantId: string): Promise<TenantWebhook | undefined> {
    const hit = this.cache.get(tenantId);
    const now = this.clock.now();
    if (hit && now - hit.at < CACHE_MS) return hit.value;
    const value = await this.store.getTenantWebhook(tenantId);
    this.cache.set(tenantId, { at: now, value });
    return value;
  }

  /** The secrets that sign this tenant's webhooks: the current one, and the previous one while it is still honoured. */
  async secrets(tenantId: string): Promise<string[]> {
    const own = await this.store.getTenantWebhook(tenantId);
    if (own) return own.previousSecret && (own.previousExpiresAt ?? 0) > this.clock.now() ? [own.secret, own.previousSecret] : [own.secret];
    if (this.defaultSecret) return [this.defaultSecret];
    this.cache.delete(tenantId);
    return [await this.store.ensureTenantWebhookSecret(tenantId, newWebhookSecret(), this.clock.now())];
  }

  /** Whose secret signs: the tenant's own, or the operator's (which a tenant is not shown). */
  async describe(tenantId: string): Promise<WebhookSettings> {
    const own = await this.store.getTenantWebhook(tenantId);
    if (!own && this.defaultSecret) return { url: null, events: [], secret: null, secretSource: 'operator', previousSecretExpiresAt: null };
    const [secret] = own ? [own.secret] : await this.secrets(tenantId);
    const previous = own?.previousSecret && (own.previousExpiresAt ?? 0) > this.clock.now() ? own.previousExpiresAt : null;
    return { url: own?.url ?? null, events: own?.events ?? [], secret: secret!, secretSource: 'tenant', previousSecretExpiresAt: previous };
  }

  /** Sets (or clears, with null) the endpoint; the tenant keeps its secret, or gets its own now. */
  async put(tenantId: string, url: string | null, events: string[]): Promise<TenantWebhook> {
    const now = this.clock.now();
    const own = await this.store.getTenantWebhook(tenantId);
    const saved = await this.store.putTenantWebhook({
      tenantId,
      url,
      events,
      secret: own?.secret ?? newWebhookSecret(),
      previousSecret: own?.previousSecret ?? null,
      previousExpiresAt: own?.previousExpiresAt ?? null,
      createdAt: own?.createdAt ?? now,
      updatedAt: now,
    });
    this.cache.delete(tenantId);
    return saved;
  }

  /**
   * Replaces the tenant's secret. Webhooks are signed with both (two `v1` entries) for
   * `keepPreviousSeconds`, so receivers can move to the new one without dropping any; 0 ends the old one now.
   */
  async rotate(tenantId: string, keepPreviousSeconds = 0): Promise<TenantWebhook> {
    const now = this.clock.now();
    const own = await this.store.getTenantWebhook(tenantId);
    const previous = own?.secret ?? (this.defaultSecret ? null : await this.store.ensureTenantWebhookSecret(tenantId, newWebhookSecret(), now));
    const keep = keepPreviousSeconds > 0 && previous !== null;
    const saved = await this.store.putTenantWebhook({
      tenantId,
      url: own?.url ?? null,
      events: own?.events ?? [],
      secret: newWebhookSecret(),
      previousSecret: keep ? previous : null,
      previousExpiresAt: keep ? now + keepPreviousSeconds * 1000 : null,
      createdAt: own?.createdAt ?? now,
      updatedAt: now,
    });
    this.cache.delete(tenantId);
    return saved;
  }
}

export interface WebhookSettings {
  url: string | null;
  events: string[];
  secret: string | null;
  secretSource: 'tenant' | 'operator';
  /** Until when the secret before the last rotation still signs; null when it does not. */
  previousSecretExpiresAt: number | null;
}
