/**
 * The composition root: the only place that chooses adapters. Everything else receives ports.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createDiskBlobStore, type DiskBlobStore } from './adapters/blobs/disk/disk-blob-store.js';
import { createS3BlobStore } from './adapters/blobs/s3/s3-blob-store.js';
import { createAsrEngines, type EngineFactory } from './adapters/asr/asr-engines.js';
import { createOpenAiEngine } from './adapters/asr/openai/openai-engine.js';
import { resolveModelPath } from './adapters/asr/whisper/model-catalog.js';
import { createWhisperEngine } from './adapters/asr/whisper/whisper-engine.js';
import { readWhisperModelInfo, whisperCapabilities } from './adapters/asr/whisper/whisper-model-file.js';
import { createMockEngine, MOCK_CAPABILITIES } from './adapters/asr/mock/mock-engine.js';
import { createPocketsphinxEngine, POCKETSPHINX_CAPABILITIES } from './adapters/asr/pocketsphinx/pocketsphinx-engine.js';
import { createPinoLogger } from './adapters/logger/pino/pino-logger.js';
import { createFfmpegMediaTool } from './adapters/media/ffmpeg/ffmpeg-media-tool.js';
import { createEnergyVad } from './adapters/vad/energy/energy-vad.js';
import { buildHttpServer, createMetrics, type Metrics } from './api/http/index.js';
import { TranscriptionService } from './pipelines/transcribe/service.js';
import type { AsrEngines } from './ports/asr-engine.js';
import type { MediaTool } from './ports/media-tool.js';
import type { FastifyInstance } from 'fastify';
import { createPostgresStore } from './adapters/store/postgres/postgres-store.js';
import { createSqliteStore } from './adapters/store/sqlite/sqlite-store.js';
import type { Config } from './config/config.js';
import { systemClock, type Clock } from './core/clock.js';
import { Engine } from './engine/engine.js';
import { Registry } from './engine/registry.js';
import { Worker } from './engine/worker.js';
import { describers, registerPipelines } from './pipelines/index.js';
import { progressNotifier, type NotifyDeps } from './pipelines/notify/notify.js';
import { NotificationService } from './pipelines/notify/service.js';
import { TenantWebhooks } from './pipelines/notify/tenant-webhooks.js';
import { createSmtpMailer } from './adapters/notify/smtp/smtp-mailer.js';
import { createHttpWebhookSender } from './adapters/notify/webhook/http-webhook-sender.js';
import { createOpenAiCompatibleLlm } from './adapters/llm/openai-compatible/openai-compatible-llm.js';
import type { Llm } from './ports/llm.js';
import type { Mailer } from './ports/notifier.js';
import type { BlobStore } from './ports/blob-store.js';
import { silentLogger, type Logger } from './ports/logger.js';
import type { Store } from './ports/store.js';
import type { Json } from './core/job.js';

/** The tenant that owns everything when authentication is off. */
export const LOCAL_TENANT = 'local';

export interface App {
  config: Config;
  store: Store;
  blobs: BlobStore;
  media: MediaTool;
  engines: AsrEngines;
  transcriptions: TranscriptionService;
  notifications: NotificationService;
  /** Called with every task a worker of this process finished (job.progress webhooks). */
  onTaskFinished?: (task: { jobId: string; type: string; tenantId: string; jobInput: Json; outcome: string }) => void;
  registry: Registry;
  engine: Engine;
  clock: Clock;
  logger: Logger;
  close(): Promise<void>;
}

export interface AppOverrides {
  logger?: Logger;
  clock?: Clock;
  registry?: Registry;
  engines?: AsrEngines;
}

/**
 * The ASR engines this process offers; each loads on first use. Whisper is offered when a model is
 * configured (its capabilities come from the model file's header), the remote engine when its URL is.
 */
export function createEngines(config: Config, logger: Logger = silentLogger): AsrEngines {
  const factories: Record<string, EngineFactory> = {
    // The decoder gets the limits and the work folder of the media tools.
    pocketsphinx: {
      capabilities: POCKETSPHINX_CAPABILITIES,
      create: () => createPocketsphinxEngine({ tmpDir: config.workDir, timeoutMs: config.media.timeoutMs, maxMemoryBytes: config.media.maxMemoryBytes }),
    },
    mock: { capabilities: MOCK_CAPABILITIES, create: () => createMockEngine(config.mock) },
  };
  if (config.whisper.model) {
    const modelPath = resolveModelPath(config.whisper.model, config.modelsDir);
    try {
      factories.whisper = {
        capabilities: whisperCapabilities(readWhisperModelInfo(modelPath)),
        create: () =>
          createWhisperEngine({ modelPath, gpu: config.whisper.gpu, ...(config.whisper.threads ? { threads: config.whisper.threads } : {}) }),
      };
    } catch (err) {
      logger.error({ err, model: config.whisper.model }, 'the whisper model cannot be read; the whisper engine is not available');
    }
  }
  if (config.openaiAsr) {
    const remote = createOpenAiEngine({ baseUrl: config.openaiAsr.baseUrl, model: config.openaiAsr.model, ...(config.openaiAsr.apiKey ? { apiKey: config.openaiAsr.apiKey } : {}) });
    factories.openai = { capabilities: remote.capabilities, create: () => remote };
  }
  return createAsrEngines(config.asrEngine, factories);
}

export function createStore(config: Config, logger: Logger): Store {
  return config.database.kind === 'postgres'
    ? createPostgresStore({ url: config.database.url, logger })
    : createSqliteStore({ path: config.database.path });
}

/** The signing secret from config, or one generated once into the data directory (embedded mode). */
function signingSecret(config: Config): string {
  if (config.signingSecret) return config.signingSecret;
  const file = join(config.dataDir, '.secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(config.dataDir, { recursive: true });
  const secret = randomBytes(32).toString('hex');
  writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  return secret;
}

export function createBlobStore(config: Config, clock: Clock): BlobStore | DiskBlobStore {
  const s = config.storage;
  if (s.kind === 'disk') return createDiskBlobStore({ rootDir: s.rootDir, publicBaseUrl: config.publicUrl, signingSecret: signingSecret(config), clock });
  return createS3BlobStore({
    bucket: s.bucket,
    prefix: s.prefix,
    region: s.region,
    forcePathStyle: s.forcePathStyle,
    clock,
    ...(s.endpoint ? { endpoint: s.endpoint } : {}),
    ...(s.publicEndpoint ? { publicEndpoint: s.publicEndpoint } : {}),
    ...(s.accessKeyId ? { accessKeyId: s.accessKeyId } : {}),
    ...(s.secretAccessKey ? { secretAccessKey: s.secretAccessKey } : {}),
  });
}

/** Builds the adapters and the engine, and applies migrations. */
export async function createApp(config: Config, overrides: AppOverrides = {}): Promise<App> {
  const logger = overrides.logger ?? createPinoLogger({ level: config.logLevel });
  const clock = overrides.clock ?? systemClock;
  const store = createStore(config, logger);
  await store.migrate();
  await store.createTenant({ id: LOCAL_TENANT, name: 'Local', createdAt: clock.now() });
  const blobs = createBlobStore(config, clock);
  const media = createFfmpegMediaTool({
    timeoutMs: config.media.timeoutMs,
    maxMemoryBytes: config.media.maxMemoryBytes,
    maxDurationSeconds: config.media.maxDurationSeconds,
    workDir: config.workDir,
    logger,
  });
  const engines = overrides.engines ?? createEngines(config, logger);
  const mailer: Mailer | undefined = config.smtp ? createSmtpMailer({ url: config.smtp.url, from: config.smtp.from }) : undefined;
  const webhooks = createHttpWebhookSender({ allowlist: config.webhooks.allowlist, timeoutMs: config.webhooks.timeoutMs });
  const tenantWebhooks = new TenantWebhooks(store, clock, config.webhooks.secret);
  const notify: Omit<NotifyDeps, 'describers'> = {
    store,
    blobs,
    webhooks,
    tenantWebhooks,
    publicUrl: config.publicUrl,
    linkSeconds: config.emailLinkSeconds,
    retryInitialMs: config.notifyRetryMs,
    clock,
    ...(mailer ? { mailer } : {}),
  };
  const llm: Llm | undefined = config.llm
    ? createOpenAiCompatibleLlm({ baseUrl: config.llm.baseUrl, model: config.llm.model, timeoutMs: config.llm.timeoutMs, ...(config.llm.apiKey ? { apiKey: config.llm.apiKey } : {}) })
    : undefined;
  const registry =
    overrides.registry ??
    registerPipelines(new Registry(), {
      blobs,
      media,
      vad: createEnergyVad(),
      engines,
      workDir: config.workDir,
      chunkSeconds: config.chunkSeconds,
      notify,
      ...(llm ? { llm } : {}),
    });
  const engine = new Engine({ store, registry, clock });
  const notifications = new NotificationService({ engine, notify });
  const transcriptions = new TranscriptionService({ engine, store, blobs, engines, maxUploadBytes: config.maxUploadBytes });
  return {
    config,
    store,
    blobs,
    media,
    engines,
    transcriptions,
    notifications,
    onTaskFinished: progressNotifier({ ...notify, describers }, engine),
    registry,
    engine,
    clock,
    logger,
    async close() {
      await engines.close();
      await mailer?.close();
      await blobs.close();
      await store.close();
    },
  };
}

/** A worker for this process's pools and concurrency. */
export function createWorker(app: App, options: { pools?: string[]; concurrency?: number } = {}): Worker {
  const worker = new Worker({
    store: app.store,
    registry: app.registry,
    clock: app.clock,
    logger: app.logger,
    pools: options.pools ?? app.config.pools,
    concurrency: options.concurrency ?? app.config.concurrency,
    leaseMs: app.config.leaseMs,
  });
  const onTask = app.onTaskFinished;
  if (onTask) worker.on('task', onTask);
  return worker;
}

/** The HTTP API over this app's engine and ports. */
export function createHttpServer(app: App, metrics: Metrics = createMetrics({ store: app.store }), version = '0.0.0'): FastifyInstance {
  return buildHttpServer({
    engine: app.engine,
    store: app.store,
    blobs: app.blobs,
    logger: app.logger,
    authRequired: app.config.authRequired,
    localTenant: LOCAL_TENANT,
    maxUploadBytes: app.config.maxUploadBytes,
    metrics,
    version,
    rateLimitPerMinute: app.config.rateLimitPerMinute,
    authFailuresPerMinute: app.config.authFailuresPerMinute,
    transcriptions: app.transcriptions,
    notifications: app.notifications,
  });
}
