/**
 * The one typed configuration schema, and the only place that reads process.env. Every setting has an
 * environment variable, a CLI flag, a default and a line of documentation; `earshot --help` and
 * docs/OPERATIONS.md are written from this table.
 */
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { EarshotError } from '../core/errors.js';

type Kind = 'string' | 'int' | 'bool' | 'list' | 'enum';

interface Setting<K extends Kind = Kind> {
  env: string;
  flag: string;
  kind: K;
  doc: string;
  /** Shown in help; the value used when nothing is set (undefined: unset). */
  default?: string;
  choices?: readonly string[];
  min?: number;
  /** Not printed in help output or error messages. */
  secret?: boolean;
}

export const settings = {
  host: { env: 'EARSHOT_HOST', flag: 'host', kind: 'string', default: '127.0.0.1', doc: 'Address the HTTP API listens on.' },
  port: { env: 'EARSHOT_PORT', flag: 'port', kind: 'int', default: '8080', min: 0, doc: 'Port the HTTP API listens on (0: any free port).' },
  dataDir: { env: 'EARSHOT_DATA_DIR', flag: 'data-dir', kind: 'string', default: './data', doc: 'Embedded mode: where the SQLite file and blobs live.' },
  databaseUrl: {
    env: 'EARSHOT_DATABASE_URL',
    flag: 'database-url',
    kind: 'string',
    doc: 'postgres://user:pass@host:port/db for distributed mode, or sqlite:PATH. Default: sqlite:<data-dir>/earshot.db.',
  },
  storage: {
    env: 'EARSHOT_STORAGE',
    flag: 'storage',
    kind: 'string',
    default: 'disk',
    doc: 'Blob storage: "disk" (<data-dir>/blobs) or s3://bucket/prefix.',
  },
  s3Endpoint: { env: 'EARSHOT_S3_ENDPOINT', flag: 's3-endpoint', kind: 'string', doc: 'S3-compatible endpoint URL (MinIO, R2, ...); AWS when unset.' },
  s3PublicEndpoint: {
    env: 'EARSHOT_S3_PUBLIC_ENDPOINT',
    flag: 's3-public-endpoint',
    kind: 'string',
    doc: 'Endpoint used in pre-signed URLs handed to clients, when it differs from the one workers use.',
  },
  s3Region: { env: 'EARSHOT_S3_REGION', flag: 's3-region', kind: 'string', default: 'us-east-1', doc: 'S3 region.' },
  s3AccessKeyId: { env: 'EARSHOT_S3_ACCESS_KEY_ID', flag: 's3-access-key-id', kind: 'string', secret: true, doc: 'S3 access key (else the AWS default chain).' },
  s3SecretAccessKey: { env: 'EARSHOT_S3_SECRET_ACCESS_KEY', flag: 's3-secret-access-key', kind: 'string', secret: true, doc: 'S3 secret key.' },
  s3ForcePathStyle: {
    env: 'EARSHOT_S3_FORCE_PATH_STYLE',
    flag: 's3-force-path-style',
    kind: 'bool',
    doc: 'Path-style bucket addressing. Default: on when an endpoint is set.',
  },
  publicUrl: { env: 'EARSHOT_PUBLIC_URL', flag: 'public-url', kind: 'string', doc: 'Base URL of links handed to clients. Default: http://<host>:<port>.' },
  auth: {
    env: 'EARSHOT_AUTH',
    flag: 'auth',
    kind: 'enum',
    choices: ['auto', 'on', 'off'],
    default: 'auto',
    doc: 'API keys: "auto" is off on a loopback address and on anywhere else; "off" is refused off loopback.',
  },
  signingSecret: {
    env: 'EARSHOT_SIGNING_SECRET',
    flag: 'signing-secret',
    kind: 'string',
    secret: true,
    doc: 'Secret for signed URLs; every process of a deployment needs the same one. Default: generated into <data-dir>/.secret.',
  },
  workers: { env: 'EARSHOT_WORKERS', flag: 'workers', kind: 'bool', default: 'true', doc: '`serve` also runs workers in the same process.' },
  pools: { env: 'EARSHOT_POOLS', flag: 'pools', kind: 'list', default: 'cpu,io,asr', doc: 'Task pools this process works on.' },
  concurrency: { env: 'EARSHOT_CONCURRENCY', flag: 'concurrency', kind: 'int', min: 1, doc: 'Tasks run at once per process. Default: the number of CPU cores.' },
  leaseMs: { env: 'EARSHOT_LEASE_MS', flag: 'lease-ms', kind: 'int', default: '30000', min: 1000, doc: 'Task lease; a worker silent this long loses its task.' },
  shutdownGraceMs: {
    env: 'EARSHOT_SHUTDOWN_GRACE_MS',
    flag: 'shutdown-grace-ms',
    kind: 'int',
    default: '30000',
    min: 0,
    doc: 'On SIGTERM, how long running tasks may finish before their leases are released.',
  },
  rateLimitPerMinute: {
    env: 'EARSHOT_RATE_LIMIT_PER_MINUTE',
    flag: 'rate-limit-per-minute',
    kind: 'int',
    default: '1200',
    min: 0,
    doc: 'API requests a tenant may make per minute and API process (bursts up to that many); 0: no limit.',
  },
  authFailuresPerMinute: {
    env: 'EARSHOT_AUTH_FAILURES_PER_MINUTE',
    flag: 'auth-failures-per-minute',
    kind: 'int',
    default: '30',
    min: 0,
    doc: 'Requests with a missing, unknown or revoked API key a client address may make per minute and API process (bursts up to that many); past it, further ones get 429. 0: no limit.',
  },
  maxUploadBytes: { env: 'EARSHOT_MAX_UPLOAD_BYTES', flag: 'max-upload-bytes', kind: 'int', default: String(2 * 1024 ** 3), min: 1, doc: 'Largest upload accepted.' },
  asrEngine: {
    env: 'EARSHOT_ASR_ENGINE',
    flag: 'asr-engine',
    kind: 'enum',
    choices: ['whisper', 'pocketsphinx', 'mock', 'openai'],
    default: 'pocketsphinx',
    doc: 'The ASR engine jobs use when they name none (a job may name any engine the workers have).',
  },
  mockLatencyMs: { env: 'EARSHOT_MOCK_LATENCY_MS', flag: 'mock-latency-ms', kind: 'int', default: '0', min: 0, doc: 'Mock engine: time each call takes.' },
  mockWordsPerChunk: {
    env: 'EARSHOT_MOCK_WORDS_PER_CHUNK',
    flag: 'mock-words-per-chunk',
    kind: 'int',
    default: '2',
    min: 0,
    doc: 'Mock engine: words per second of non-silent audio.',
  },
  mockErrorRate: { env: 'EARSHOT_MOCK_ERROR_RATE', flag: 'mock-error-rate', kind: 'string', default: '0', doc: 'Mock engine: probability (0..1) that a call fails (retryable).' },
  mockSeed: { env: 'EARSHOT_MOCK_SEED', flag: 'mock-seed', kind: 'int', default: '1', min: 0, doc: 'Mock engine: seed of its words and failures.' },
  chunkSeconds: {
    env: 'EARSHOT_CHUNK_SECONDS',
    flag: 'chunk-seconds',
    kind: 'int',
    default: '180',
    min: 30,
    doc: 'Long recordings are cut at silences into chunks of about this length, transcribed in parallel.',
  },
  mediaTimeoutMs: { env: 'EARSHOT_MEDIA_TIMEOUT_MS', flag: 'media-timeout-ms', kind: 'int', default: '600000', min: 1000, doc: 'Wall-time limit of one ffmpeg/ffprobe call, and the least one pocketsphinx process gets (it grows to twice the length of the audio).' },
  mediaMaxMemoryBytes: {
    env: 'EARSHOT_MEDIA_MAX_MEMORY_BYTES',
    flag: 'media-max-memory-bytes',
    kind: 'int',
    default: String(2 * 1024 ** 3),
    min: 256 * 1024 ** 2,
    doc: 'Address-space limit of each ffmpeg, ffprobe and pocketsphinx process.',
  },
  maxMediaSeconds: { env: 'EARSHOT_MAX_MEDIA_SECONDS', flag: 'max-media-seconds', kind: 'int', default: '21600', min: 1, doc: 'Longest recording accepted.' },
  workDir: { env: 'EARSHOT_WORK_DIR', flag: 'work-dir', kind: 'string', doc: 'Scratch space for downloads and decoding; ffmpeg and pocketsphinx run in it (cwd and TMPDIR). Default: <data-dir>/work.' },
  modelsDir: { env: 'EARSHOT_MODELS_DIR', flag: 'models-dir', kind: 'string', doc: 'Where whisper models are kept and `earshot models pull` puts them. Default: <data-dir>/models.' },
  modelBaseUrl: {
    env: 'EARSHOT_MODEL_BASE_URL',
    flag: 'model-base-url',
    kind: 'string',
    default: 'https://huggingface.co/ggerganov/whisper.cpp/resolve/main',
    doc: '`earshot models pull` downloads <url>/ggml-<name>.bin from here (a mirror, or a local server).',
  },
  whisperModel: {
    env: 'EARSHOT_WHISPER_MODEL',
    flag: 'whisper-model',
    kind: 'string',
    doc: 'The whisper engine\'s model: a name (base.en: <models-dir>/ggml-base.en.bin) or a path to a ggml file. Unset: no whisper engine.',
  },
  whisperGpu: {
    env: 'EARSHOT_WHISPER_GPU',
    flag: 'whisper-gpu',
    kind: 'enum',
    choices: ['off', 'cuda', 'vulkan'],
    default: 'off',
    doc: 'The whisper.cpp build: CPU, or a GPU build whose npm package must be installed on that machine (see "Whisper models").',
  },
  whisperThreads: { env: 'EARSHOT_WHISPER_THREADS', flag: 'whisper-threads', kind: 'int', min: 1, doc: 'CPU threads of one whisper call. Default: the number of CPU cores, at most 8.' },
  openaiAsrBaseUrl: {
    env: 'EARSHOT_OPENAI_ASR_BASE_URL',
    flag: 'openai-asr-base-url',
    kind: 'string',
    doc: 'An OpenAI-compatible transcription API (https://api.openai.com/v1, http://host:8000/v1). Unset: no openai engine.',
  },
  openaiAsrApiKey: { env: 'EARSHOT_OPENAI_ASR_API_KEY', flag: 'openai-asr-api-key', kind: 'string', secret: true, doc: 'Its API key (sent as a bearer token), if it needs one.' },
  openaiAsrModel: { env: 'EARSHOT_OPENAI_ASR_MODEL', flag: 'openai-asr-model', kind: 'string', default: 'whisper-1', doc: 'Its model id.' },
  smtpUrl: {
    env: 'EARSHOT_SMTP_URL',
    flag: 'smtp-url',
    kind: 'string',
    secret: true,
    doc: 'Mail server for notify_email: smtp://user:pass@host:587 (STARTTLS when offered) or smtps://user:pass@host:465. Unset: no e-mail.',
  },
  smtpFrom: { env: 'EARSHOT_SMTP_FROM', flag: 'smtp-from', kind: 'string', default: 'Earshot <earshot@localhost>', doc: 'Sender of notification e-mails.' },
  emailLinkSeconds: {
    env: 'EARSHOT_EMAIL_LINK_SECONDS',
    flag: 'email-link-seconds',
    kind: 'int',
    default: '604800',
    min: 1,
    doc: 'How long the download links in notification e-mails and webhooks work.',
  },
  webhookSecret: {
    env: 'EARSHOT_WEBHOOK_SECRET',
    flag: 'webhook-secret',
    kind: 'string',
    secret: true,
    doc: 'Signs webhooks of tenants that have no secret of their own. Unset: each tenant gets a generated secret (GET /v1/webhook).',
  },
  webhookAllowlist: {
    env: 'EARSHOT_WEBHOOK_ALLOWLIST',
    flag: 'webhook-allowlist',
    kind: 'list',
    default: '',
    doc: 'Hosts and CIDRs (10.0.0.0/8, hooks.internal) webhooks may reach although they are loopback, private or link-local.',
  },
  notifyRetryMs: {
    env: 'EARSHOT_NOTIFY_RETRY_MS',
    flag: 'notify-retry-ms',
    kind: 'int',
    default: '10000',
    min: 10,
    doc: 'Delay before a failed notification is sent again; it doubles each time, up to 2 hours, for 24 hours.',
  },
  webhookTimeoutMs: { env: 'EARSHOT_WEBHOOK_TIMEOUT_MS', flag: 'webhook-timeout-ms', kind: 'int', default: '10000', min: 100, doc: 'How long one webhook attempt waits for a response.' },
  llmBaseUrl: {
    env: 'EARSHOT_LLM_BASE_URL',
    flag: 'llm-base-url',
    kind: 'string',
    doc: 'An OpenAI-compatible chat-completions API for notes (https://api.openai.com/v1, http://localhost:11434/v1 for Ollama). Unset: extractive notes.',
  },
  llmApiKey: { env: 'EARSHOT_LLM_API_KEY', flag: 'llm-api-key', kind: 'string', secret: true, doc: 'Its API key (sent as a bearer token), if it needs one.' },
  llmModel: { env: 'EARSHOT_LLM_MODEL', flag: 'llm-model', kind: 'string', default: 'gpt-4o-mini', doc: 'Its model id.' },
  llmTimeoutMs: { env: 'EARSHOT_LLM_TIMEOUT_MS', flag: 'llm-timeout-ms', kind: 'int', default: '120000', min: 1000, doc: 'How long one chat-completions call may take.' },
  serverUrl: {
    env: 'EARSHOT_SERVER_URL',
    flag: 'server',
    kind: 'string',
    doc: 'CLI: the Earshot API to talk to (http://host:8080). Unset: commands work on this machine\'s database.',
  },
  apiKey: { env: 'EARSHOT_API_KEY', flag: 'api-key', kind: 'string', secret: true, doc: 'CLI: the API key sent to --server.' },
  logLevel: {
    env: 'EARSHOT_LOG_LEVEL',
    flag: 'log-level',
    kind: 'enum',
    choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'],
    default: 'info',
    doc: 'Log level; logs are JSON lines on stdout.',
  },
} as const satisfies Record<string, Setting>;

export type SettingName = keyof typeof settings;

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  database: { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };
  storage:
    | { kind: 'disk'; rootDir: string }
    | {
        kind: 's3';
        bucket: string;
        prefix: string;
        endpoint: string | undefined;
        publicEndpoint: string | undefined;
        region: string;
        accessKeyId: string | undefined;
        secretAccessKey: string | undefined;
        forcePathStyle: boolean;
      };
  publicUrl: string;
  /** Whether API keys are required. */
  authRequired: boolean;
  signingSecret: string | undefined;
  workers: boolean;
  pools: string[];
  concurrency: number;
  leaseMs: number;
  shutdownGraceMs: number;
  maxUploadBytes: number;
  rateLimitPerMinute: number;
  authFailuresPerMinute: number;
  asrEngine: string;
  mock: { latencyMs: number; wordsPerChunk: number; errorRate: number; seed: number };
  chunkSeconds: number;
  media: { timeoutMs: number; maxMemoryBytes: number; maxDurationSeconds: number };
  workDir: string;
  logLevel: string;
  /** Whisper models: where they live and where `models pull` gets them. */
  modelsDir: string;
  modelBaseUrl: string;
  /** The whisper engine; `model` is a name or a path (adapters/asr/whisper/model-catalog.ts resolveModelPath). */
  whisper: { model: string | undefined; gpu: 'off' | 'cuda' | 'vulkan'; threads: number | undefined };
  /** The remote OpenAI-compatible engine, when a base URL is set. */
  openaiAsr: { baseUrl: string; apiKey: string | undefined; model: string } | undefined;
  /** Notification e-mail, when a mail server is set. */
  smtp: { url: string; from: string } | undefined;
  emailLinkSeconds: number;
  notifyRetryMs: number;
  webhooks: { secret: string | undefined; allowlist: string[]; timeoutMs: number };
  /** The chat model that writes notes, when a base URL is set; otherwise notes are extractive. */
  llm: { baseUrl: string; apiKey: string | undefined; model: string; timeoutMs: number } | undefined;
  /** CLI commands that talk to a running server. */
  client: { serverUrl: string | undefined; apiKey: string | undefined };
}

/** Values from CLI flags, by flag name (`data-dir`), as parseArgs gives them. */
export type Flags = Record<string, string | boolean | undefined>;

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

export function isLoopback(host: string): boolean {
  return LOOPBACK.test(host);
}

/**
 * Reads the configuration from flags, then the environment, then defaults. Collects every problem
 * and throws one `invalid_config` error that names them all.
 */
export function loadConfig(flags: Flags = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const raw = (name: SettingName): string | undefined => {
    const s: Setting = settings[name];
    const fromFlag = flags[s.flag];
    if (fromFlag !== undefined) return String(fromFlag);
    const fromEnv = env[s.env];
    if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
    return s.default;
  };
  const bad = (name: SettingName, why: string) => {
    const s: Setting = settings[name];
    problems.push(`${s.env} / --${s.flag}: ${why}`);
  };
  const str = (name: SettingName) => raw(name);
  const int = (name: SettingName): number | undefined => {
    const v = raw(name);
    if (v === undefined) return undefined;
    const n = Number(v);
    const min = (settings[name] as Setting).min ?? Number.MIN_SAFE_INTEGER;
    if (!Number.isSafeInteger(n) || n < min) {
      bad(name, `expected an integer >= ${min}, got "${v}"`);
      return undefined;
    }
    return n;
  };
  const bool = (name: SettingName): boolean | undefined => {
    const v = raw(name);
    if (v === undefined) return undefined;
    if (/^(1|true|yes|on)$/i.test(v)) return true;
    if (/^(0|false|no|off)$/i.test(v)) return false;
    bad(name, `expected true or false, got "${v}"`);
    return undefined;
  };
  const choice = (name: SettingName): string => {
    const v = raw(name)!;
    const choices = (settings[name] as Setting).choices ?? [];
    if (!choices.includes(v)) bad(name, `expected one of ${choices.join(', ')}, got "${v}"`);
    return v;
  };

  const fraction = (name: SettingName): number => {
    const v = raw(name) ?? '0';
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0 || n > 1) {
      bad(name, `expected a number from 0 to 1, got "${v}"`);
      return 0;
    }
    return n;
  };

  const host = str('host')!;
  const port = int('port') ?? 8080;
  const dataDir = resolve(str('dataDir')!);
  const dbUrl = str('databaseUrl');
  let database: Config['database'] = { kind: 'sqlite', path: resolve(dataDir, 'earshot.db') };
  if (dbUrl !== undefined) {
    if (/^postgres(ql)?:\/\//.test(dbUrl)) database = { kind: 'postgres', url: dbUrl };
    else if (dbUrl.startsWith('sqlite:')) database = { kind: 'sqlite', path: resolve(dbUrl.slice('sqlite:'.length)) };
    else bad('databaseUrl', 'expected postgres://... or sqlite:PATH');
  }

  const storageRaw = str('storage')!;
  let storage: Config['storage'] = { kind: 'disk', rootDir: resolve(dataDir, 'blobs') };
  if (storageRaw.startsWith('s3://')) {
    const [bucket = '', ...rest] = storageRaw.slice('s3://'.length).split('/');
    if (!bucket) bad('storage', 'expected s3://bucket/prefix');
    const endpoint = str('s3Endpoint');
    storage = {
      kind: 's3',
      bucket,
      prefix: rest.filter(Boolean).join('/'),
      endpoint,
      publicEndpoint: str('s3PublicEndpoint'),
      region: str('s3Region')!,
      accessKeyId: str('s3AccessKeyId'),
      secretAccessKey: str('s3SecretAccessKey'),
      forcePathStyle: bool('s3ForcePathStyle') ?? endpoint !== undefined,
    };
  } else if (storageRaw !== 'disk') {
    bad('storage', `expected "disk" or s3://bucket/prefix, got "${storageRaw}"`);
  }

  const auth = choice('auth');
  const authRequired = auth === 'on' || (auth === 'auto' && !isLoopback(host));
  if (auth === 'off' && !isLoopback(host)) bad('auth', `authentication cannot be off on a non-loopback address (${host})`);

  const pools = (str('pools') ?? '').split(',').map((p) => p.trim()).filter(Boolean);
  if (pools.length === 0) bad('pools', 'name at least one pool');
  for (const p of pools) if (!/^[a-z0-9_-]+$/i.test(p)) bad('pools', `bad pool name "${p}"`);

  const openaiAsrBaseUrl = str('openaiAsrBaseUrl');
  if (openaiAsrBaseUrl !== undefined && !/^https?:\/\/[^/]/.test(openaiAsrBaseUrl)) bad('openaiAsrBaseUrl', `expected an http(s) URL, got "${openaiAsrBaseUrl}"`);
  if (!/^https?:\/\/[^/]/.test(str('modelBaseUrl')!)) bad('modelBaseUrl', 'expected an http(s) URL');
  const smtpUrl = str('smtpUrl');
  if (smtpUrl !== undefined && !/^smtps?:\/\/[^/]/.test(smtpUrl)) bad('smtpUrl', 'expected smtp://user:pass@host:port or smtps://...');
  const llmBaseUrl = str('llmBaseUrl');
  if (llmBaseUrl !== undefined && !/^https?:\/\/[^/]/.test(llmBaseUrl)) bad('llmBaseUrl', `expected an http(s) URL, got "${llmBaseUrl}"`);
  const serverUrl = str('serverUrl');
  if (serverUrl !== undefined && !/^https?:\/\/[^/]/.test(serverUrl)) bad('serverUrl', `expected an http(s) URL, got "${serverUrl}"`);
  const webhookAllowlist = (str('webhookAllowlist') ?? '').split(',').map((h) => h.trim().toLowerCase()).filter(Boolean);

  const config: Config = {
    host,
    port,
    dataDir,
    database,
    storage,
    publicUrl: (str('publicUrl') ?? `http://${host.includes(':') ? `[${host}]` : host}:${port}`).replace(/\/+$/, ''),
    authRequired,
    signingSecret: str('signingSecret'),
    workers: bool('workers') ?? true,
    pools,
    concurrency: int('concurrency') ?? Math.max(1, cpus().length),
    leaseMs: int('leaseMs') ?? 30_000,
    shutdownGraceMs: int('shutdownGraceMs') ?? 30_000,
    maxUploadBytes: int('maxUploadBytes') ?? 2 * 1024 ** 3,
    rateLimitPerMinute: int('rateLimitPerMinute') ?? 1200,
    authFailuresPerMinute: int('authFailuresPerMinute') ?? 30,
    asrEngine: choice('asrEngine'),
    mock: {
      latencyMs: int('mockLatencyMs') ?? 0,
      wordsPerChunk: int('mockWordsPerChunk') ?? 2,
      errorRate: fraction('mockErrorRate'),
      seed: int('mockSeed') ?? 1,
    },
    chunkSeconds: int('chunkSeconds') ?? 180,
    media: {
      timeoutMs: int('mediaTimeoutMs') ?? 600_000,
      maxMemoryBytes: int('mediaMaxMemoryBytes') ?? 2 * 1024 ** 3,
      maxDurationSeconds: int('maxMediaSeconds') ?? 21_600,
    },
    workDir: resolve(str('workDir') ?? resolve(dataDir, 'work')),
    logLevel: choice('logLevel'),
    modelsDir: resolve(str('modelsDir') ?? resolve(dataDir, 'models')),
    modelBaseUrl: str('modelBaseUrl')!.replace(/\/+$/, ''),
    whisper: { model: str('whisperModel'), gpu: choice('whisperGpu') as Config['whisper']['gpu'], threads: int('whisperThreads') },
    openaiAsr: openaiAsrBaseUrl ? { baseUrl: openaiAsrBaseUrl, apiKey: str('openaiAsrApiKey'), model: str('openaiAsrModel')! } : undefined,
    smtp: smtpUrl ? { url: smtpUrl, from: str('smtpFrom')! } : undefined,
    emailLinkSeconds: int('emailLinkSeconds') ?? 604_800,
    notifyRetryMs: int('notifyRetryMs') ?? 10_000,
    webhooks: { secret: str('webhookSecret'), allowlist: webhookAllowlist, timeoutMs: int('webhookTimeoutMs') ?? 10_000 },
    llm: llmBaseUrl ? { baseUrl: llmBaseUrl.replace(/\/+$/, ''), apiKey: str('llmApiKey'), model: str('llmModel')!, timeoutMs: int('llmTimeoutMs') ?? 120_000 } : undefined,
    client: { serverUrl: serverUrl?.replace(/\/+$/, ''), apiKey: str('apiKey') },
  };
  if (problems.length > 0) {
    throw new EarshotError('invalid_config', `invalid configuration:\n  ${problems.join('\n  ')}`, { details: { problems } });
  }
  return config;
}

/** Help lines for the given settings: flag, env variable, default, doc. */
export function settingsHelp(names: readonly SettingName[]): string {
  return names
    .map((n) => {
      const s: Setting = settings[n];
      const arg = s.kind === 'bool' ? '' : s.kind === 'enum' ? ` <${s.choices!.join('|')}>` : ' <value>';
      const def = s.default !== undefined && !s.secret ? ` (default: ${s.default})` : '';
      return `  --${s.flag}${arg}\n      ${s.doc}${def} [${s.env}]`;
    })
    .join('\n');
}

/** parseArgs option definitions for the given settings (all strings: loadConfig validates). */
export function settingsParseOptions(names: readonly SettingName[]): Record<string, { type: 'string' }> {
  return Object.fromEntries(names.map((n) => [settings[n].flag, { type: 'string' as const }]));
}
