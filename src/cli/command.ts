import { parseArgs, type ParseArgsConfig } from 'node:util';
import { EarshotError } from '../core/errors.js';
import { loadConfig, settingsHelp, settingsParseOptions, type Config, type SettingName } from '../config/config.js';

export interface Command {
  name: string;
  summary: string;
  usage: string;
  /** Configuration settings this command accepts as flags. */
  settings: readonly SettingName[];
  /** Its own flags, beyond the settings. */
  options?: ParseArgsConfig['options'];
  optionsHelp?: string;
  run(ctx: CommandContext): Promise<number | void>;
}

export interface CommandContext {
  args: string[];
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  config(): Config;
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

export const DB_SETTINGS: readonly SettingName[] = ['dataDir', 'databaseUrl', 'logLevel'];

/**
 * Where data lives and how links to it are signed: every process that reads or writes blobs (the API,
 * workers, which sign the links in notifications) takes all of these.
 */
export const STORAGE_SETTINGS: readonly SettingName[] = [
  'dataDir',
  'databaseUrl',
  'storage',
  's3Endpoint',
  's3PublicEndpoint',
  's3Region',
  's3AccessKeyId',
  's3SecretAccessKey',
  's3ForcePathStyle',
  'publicUrl',
  'signingSecret',
];

/** What workers need to run pipelines: engines, media limits, scratch space, notifications, notes. */
export const PIPELINE_SETTINGS: readonly SettingName[] = [
  'asrEngine',
  'whisperModel',
  'whisperGpu',
  'whisperThreads',
  'modelsDir',
  'openaiAsrBaseUrl',
  'openaiAsrApiKey',
  'openaiAsrModel',
  'mockLatencyMs',
  'mockWordsPerChunk',
  'mockErrorRate',
  'mockSeed',
  'chunkSeconds',
  'mediaTimeoutMs',
  'mediaMaxMemoryBytes',
  'maxMediaSeconds',
  'workDir',
  // Notifications and notes: API processes check targets at submission, workers send and write.
  'smtpUrl',
  'smtpFrom',
  'emailLinkSeconds',
  'notifyRetryMs',
  'webhookSecret',
  'webhookAllowlist',
  'webhookTimeoutMs',
  'llmBaseUrl',
  'llmApiKey',
  'llmModel',
  'llmTimeoutMs',
];

export function commandHelp(c: Command): string {
  const parts = [`Usage: ${c.usage}`, '', c.summary];
  if (c.optionsHelp) parts.push('', 'Options:', c.optionsHelp);
  if (c.settings.length > 0) parts.push('', 'Settings (flag, or environment variable):', settingsHelp(c.settings));
  return `${parts.join('\n')}\n`;
}

export function parseCommand(c: Command, argv: string[]): { args: string[]; values: CommandContext['values'] } {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { ...settingsParseOptions(c.settings), ...c.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
    return { args: positionals, values };
  } catch (err) {
    throw new EarshotError('bad_request', `${(err as Error).message}\nRun "earshot ${c.name} --help".`);
  }
}

/** Config from this command's flags over the environment (loadConfig only reads setting flags). */
export function configFrom(values: CommandContext['values']): () => Config {
  const flags: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) if (typeof v === 'string') flags[k] = v;
  return () => loadConfig(flags);
}
