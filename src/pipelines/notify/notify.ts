/**
 * Notifications. Every job whose input names a notify_email or webhook_url, or whose tenant has a
 * webhook endpoint, ends with the `notify` finaliser: it runs on success, failure and cancellation,
 * in the `io` pool, and never changes the job's outcome. It records one delivery per target and
 * queues each as its own `notification` job, so a receiver that is down for hours retries on its own
 * schedule (exponential backoff for up to 24 hours) without holding the job open.
 */
import { EarshotError, permanent, retryable, toErrorInfo } from '../../core/errors.js';
import type { Clock } from '../../core/clock.js';
import type { Json } from '../../core/job.js';
import { signWebhook } from '../../core/webhook-signature.js';
import { Engine } from '../../engine/engine.js';
import type { Registry, TaskContext } from '../../engine/registry.js';
import type { BlobStore } from '../../ports/blob-store.js';
import type { Mailer, WebhookSender } from '../../ports/notifier.js';
import type { DeliveryRecord, JobDetail, Store } from '../../ports/store.js';
import { outcomeEmail } from './email.js';
import {
  defaultWebhookEvents,
  hashId,
  isEmailAddress,
  isWebhookEvent,
  jobEvent,
  jobTargets,
  outcomeAt,
  outcomeEvent,
  webhookEvents,
  type EventLink,
  type JobDescriber,
  type JobDescription,
  type JobEvent,
} from './events.js';
import type { TenantWebhooks } from './tenant-webhooks.js';

export const NOTIFICATION = 'notification';
export const NOTIFY_STEPS = { finalise: 'notify.job', deliver: 'notify.deliver' } as const;

export interface NotifyDeps {
  store: Store;
  blobs: BlobStore;
  /** Absent when no mail server is configured: jobs cannot ask for e-mail then. */
  mailer?: Mailer;
  webhooks: WebhookSender;
  tenantWebhooks: TenantWebhooks;
  /** Base of the links in notifications. */
  publicUrl: string;
  /** How long download links in notifications work. */
  linkSeconds: number;
  /** Delay before a delivery's second attempt; it doubles up to 2 hours. Default 10 s. */
  retryInitialMs?: number;
  /** How long a delivery keeps being retried. Default 24 hours. */
  retryWindowMs?: number;
  /** The clock delivery jobs are submitted by. Default the system clock. */
  clock?: Clock;
  /** How each job kind is presented; kinds without one are described by kind and id. */
  describers: Record<string, JobDescriber>;
}

interface DeliverInput {
  delivery_id: string;
  /** The retry window counts from here (the first queueing, or a redelivery). */
  since: number;
}

const DAY_MS = 24 * 3600_000;

export function registerNotify(registry: Registry, deps: NotifyDeps): void {
  const engine = new Engine({ store: deps.store, registry, ...(deps.clock ? { clock: deps.clock } : {}) });
  registry.defineTask({ type: NOTIFY_STEPS.finalise, pool: 'io', retry: { maxAttempts: 5, initialDelayMs: 1000 }, handler: (ctx) => finalise(ctx, deps, engine) });
  registry.defineTask({
    type: NOTIFY_STEPS.deliver,
    pool: 'io',
    // Enough attempts for the window: the window, not the count, ends a delivery's retries.
    retry: { maxAttempts: 60, initialDelayMs: deps.retryInitialMs ?? 10_000, factor: 2, maxDelayMs: 2 * 3600_000 },
    handler: (ctx) => deliver(ctx, deps),
  });
  // Submitted by the finaliser and by redelivery only: a client never names a delivery to send.
  registry.defineJob<DeliverInput>({
    kind: NOTIFICATION,
    public: false,
    plan: (input) => {
      if (typeof input?.delivery_id !== 'string' || typeof input.since !== 'number') throw permanent('bad_request', 'a notification needs delivery_id and since');
      return [{ key: 'deliver', type: NOTIFY_STEPS.deliver }];
    },
    checkReferences: async ({ delivery_id: id }, { tenantId, store }) => {
      if (!(await store.getDelivery(id, tenantId))) throw permanent('not_found', 'no such delivery', { delivery_id: id });
    },
  });
  registry.defineFinaliser({
    key: 'notify',
    type: NOTIFY_STEPS.finalise,
    appliesTo: async (job) => {
      if (job.kind === NOTIFICATION) return false;
      const t = jobTargets(job.input);
      await checkTargets(deps, t);
      if (t.email || t.webhookUrl) return true;
      return Boolean((await deps.tenantWebhooks.endpoint(job.tenantId))?.url);
    },
  });
}

/** Refuses, at submission, targets that could never be delivered to. */
export async function checkTargets(
  deps: Pick<NotifyDeps, 'mailer' | 'webhooks'>,
  targets: { email?: string | undefined; webhookUrl?: string | undefined; webhookEvents?: string[] | undefined },
): Promise<void> {
  if (targets.email && !deps.mailer) {
    throw new EarshotError('email_unavailable', 'this server sends no e-mail (no mail server is configured)', { details: { setting: 'EARSHOT_SMTP_URL' } });
  }
  if (targets.email && !isEmailAddress(targets.email)) throw permanent('bad_request', 'notify_email is not an e-mail address');
  if (targets.webhookUrl) await deps.webhooks.check(targets.webhookUrl);
  const bad = (targets.webhookEvents ?? []).filter((e) => !isWebhookEvent(e));
  if (bad.length > 0) throw permanent('bad_request', `webhook_events must be among ${webhookEvents.join(', ')}`, { events: bad });
}

export function describe(deps: Pick<NotifyDeps, 'describers'>, job: JobDetail): JobDescription {
  return deps.describers[job.kind]?.(job) ?? { title: job.id, results: [] };
}

/** One webhook delivery per target that wants this event, plus the e-mail for outcomes. */
async function plannedDeliveries(deps: NotifyDeps, job: JobDetail, event: JobEvent): Promise<DeliveryRecord[]> {
  const targets = jobTargets(job.input);
  const now = Date.parse(event.created_at);
  const body = JSON.stringify(event);
  const out: DeliveryRecord[] = [];
  const add = (channel: DeliveryRecord['channel'], target: string) =>
    out.push({
      id: hashId('dlv', event.id, channel, target),
      tenantId: job.tenantId,
      jobId: job.id,
      channel,
      event: event.type,
      target,
      payload: body,
      state: 'pending',
      attempts: 0,
      createdAt: now,
      updatedAt: now,
      deliveredAt: null,
    });
  const wants = (events: readonly string[] | undefined) => (events && events.length > 0 ? events : defaultWebhookEvents).includes(event.type);
  if (targets.webhookUrl && wants(targets.webhookEvents)) add('webhook', targets.webhookUrl);
  const endpoint = await deps.tenantWebhooks.endpoint(job.tenantId);
  if (endpoint?.url && endpoint.url !== targets.webhookUrl && wants(endpoint.events)) add('webhook', endpoint.url);
  if (targets.email && (event.type === 'job.succeeded' || event.type === 'job.failed')) add('email', targets.email);
  return out;
}

/** Records deliveries and queues one notification job each; both are idempotent by delivery id. */
async function queueDeliveries(engine: Engine, deps: NotifyDeps, deliveries: readonly DeliveryRecord[], since: number): Promise<void> {
  if (deliveries.length === 0) return;
  await deps.store.createDeliveries(deliveries);
  for (const d of deliveries) {
    await engine.submit({
      tenantId: d.tenantId,
      kind: NOTIFICATION,
      input: { delivery_id: d.id, since } satisfies DeliverInput as unknown as Json,
      priority: 'high',
      idempotencyKey: `delivery:${d.id}:${since}`,
      internal: true,
    });
  }
}

async function resultLinks(deps: NotifyDeps, description: JobDescription): Promise<Record<string, EventLink>> {
  const links: Record<string, EventLink> = {};
  for (const r of description.results) {
    const signed = await deps.blobs.signDownload(r.key, { expiresInSeconds: deps.linkSeconds, downloadName: r.downloadName });
    links[r.name] = { url: `${deps.publicUrl}${r.apiPath}`, download_url: signed.url, expires_at: new Date(signed.expiresAt).toISOString() };
  }
  return links;
}

async function finalise(ctx: TaskContext, deps: NotifyDeps, engine: Engine): Promise<Json> {
  const job = await deps.store.getJob(ctx.task.jobId, ctx.task.tenantId);
  if (!job) throw permanent('not_found', 'the job is gone');
  const type = outcomeEvent(job.status);
  if (!type) throw retryable('unavailable', `the job is still ${job.status}`);
  const description = describe(deps, job);
  const at = outcomeAt(job);
  const event = jobEvent(type, job, description, {
    id: hashId('evt', job.id, type, String(at)),
    now: at,
    publicUrl: deps.publicUrl,
    ...(job.status === 'succeeded' ? { results: await resultLinks(deps, description) } : {}),
  });
  const deliveries = await plannedDeliveries(deps, job, event);
  await queueDeliveries(engine, deps, deliveries, at);
  return { event: event.id, deliveries: deliveries.map((d) => ({ id: d.id, channel: d.channel })) as unknown as Json };
}

/**
 * Progress events for jobs that asked for `job.progress`: one when a step of the job completes.
 * Called with every task a worker finished; cheap for jobs that did not ask.
 */
export function progressNotifier(deps: NotifyDeps, engine: Engine): (task: { jobId: string; type: string; tenantId: string; jobInput: Json; outcome: string }) => void {
  return (task) => {
    if (task.outcome !== 'succeeded' || task.type.startsWith('notify.')) return;
    void (async () => {
      const own = jobTargets(task.jobInput);
      const endpoint = await deps.tenantWebhooks.endpoint(task.tenantId);
      const asked = (own.webhookUrl && own.webhookEvents?.includes('job.progress')) || (endpoint?.url && endpoint.events.includes('job.progress'));
      if (!asked) return;
      const job = await deps.store.getJob(task.jobId, task.tenantId);
      const step = job?.steps.find((s) => s.step === task.type);
      if (!job || !step || step.done !== step.total || job.finishedAt !== null) return;
      const description = describe(deps, job);
      const event = jobEvent('job.progress', job, description, { id: hashId('evt', job.id, 'job.progress', step.step, String(job.startedAt)), now: engine.clock.now(), publicUrl: deps.publicUrl, step: step.step });
      const deliveries = (await plannedDeliveries(deps, job, event)).filter((d) => d.channel === 'webhook');
      await queueDeliveries(engine, deps, deliveries, Date.parse(event.created_at));
    })().catch(() => {
      // Progress events are best effort; outcomes are what the finaliser guarantees.
    });
  };
}

const statusOk = (status: number) => status >= 200 && status < 300;

async function deliver(ctx: TaskContext, deps: NotifyDeps): Promise<Json> {
  const { delivery_id: id, since } = ctx.task.jobInput as unknown as DeliverInput;
  // Only the job's own tenant's delivery: an id from elsewhere is as good as none.
  const delivery = await deps.store.getDelivery(id, ctx.task.tenantId);
  if (!delivery) throw permanent('not_found', 'the delivery is gone');
  if (delivery.state === 'delivered' && delivery.updatedAt >= since) return { delivery_id: id, state: 'delivered' };
  const lastChance = ctx.clock.now() - since >= (deps.retryWindowMs ?? DAY_MS) || ctx.task.attempt >= ctx.task.maxAttempts;
  const started = ctx.clock.now();
  const log = (ok: boolean, fields: { statusCode?: number; error?: string; response?: string }, final: boolean) =>
    deps.store.recordDeliveryAttempt(
      id,
      { at: started, durationMs: ctx.clock.now() - started, ok, statusCode: fields.statusCode ?? null, error: fields.error ?? null, response: fields.response ?? null },
      ok ? 'delivered' : final ? 'failed' : 'pending',
    );
  try {
    const result = delivery.channel === 'webhook' ? await sendWebhook(ctx, deps, delivery) : await sendEmail(ctx, deps, delivery);
    if (statusOk(result.statusCode)) {
      const attempt = await log(true, result, true);
      return { delivery_id: id, state: 'delivered', attempt };
    }
    await log(false, result, lastChance);
    const error = new EarshotError('webhook_failed', `the receiver answered ${result.statusCode}`, { retryable: true, details: { status: result.statusCode } });
    throw lastChance ? permanent(error.code, `${error.message}; no more attempts`, error.details) : error;
  } catch (err) {
    if (err instanceof EarshotError && err.code === 'webhook_failed') throw err;
    if (ctx.signal.aborted) throw err;
    const info = toErrorInfo(err);
    const final = lastChance || !info.retryable;
    await log(false, { error: `${info.code}: ${info.message}` }, final);
    throw final ? permanent(info.code, info.message, info.details) : err;
  }
}

async function sendWebhook(ctx: TaskContext, deps: NotifyDeps, d: DeliveryRecord): Promise<{ statusCode: number; response: string }> {
  const secrets = await deps.tenantWebhooks.secrets(d.tenantId);
  const t = Math.floor(ctx.clock.now() / 1000);
  const res = await deps.webhooks.post({
    url: d.target,
    body: d.payload,
    headers: {
      'content-type': 'application/json',
      'earshot-signature': signWebhook(secrets, t, d.payload),
      'earshot-delivery': d.id,
      'earshot-event': d.event,
    },
    signal: ctx.signal,
  });
  return { statusCode: res.status, response: res.bodyExcerpt };
}

async function sendEmail(ctx: TaskContext, deps: NotifyDeps, d: DeliveryRecord): Promise<{ statusCode: number; response: string }> {
  if (!deps.mailer) throw permanent('email_unavailable', 'no mail server is configured (EARSHOT_SMTP_URL)');
  const event = JSON.parse(d.payload) as JobEvent;
  const links: Record<string, { url: string; expiresAt: number }> = {};
  if (event.data.job.status === 'succeeded') {
    const job = await deps.store.getJob(d.jobId, d.tenantId);
    // The links are signed now, so they work for the whole configured time from the moment the mail leaves.
    for (const r of job ? describe(deps, job).results : []) {
      const signed = await deps.blobs.signDownload(r.key, { expiresInSeconds: deps.linkSeconds, downloadName: r.downloadName });
      links[r.name] = { url: signed.url, expiresAt: signed.expiresAt };
    }
  }
  const receipt = await deps.mailer.send(outcomeEmail(d.target, event, links, { 'X-Earshot-Delivery': d.id, 'X-Earshot-Event': d.event }), { signal: ctx.signal });
  if (receipt.accepted.length === 0) throw permanent('email_failed', 'the mail server accepted no recipient', { rejected: receipt.rejected });
  return { statusCode: 250, response: `accepted ${receipt.messageId}` };
}
