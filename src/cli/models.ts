import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { EarshotError } from '../core/errors.js';
import { approxBytes, findModel, MODEL_CATALOG, modelUrl, type ModelChecksum } from '../adapters/asr/whisper/model-catalog.js';
import { downloadFile } from '../adapters/asr/whisper/model-download.js';
import type { Command, CommandContext } from './command.js';
import { ProgressBar } from './progress.js';

const MiB = 1024 * 1024;
const mib = (bytes: number | undefined) => (bytes === undefined ? '?' : `${(bytes / MiB).toFixed(bytes < 100 * MiB ? 1 : 0)} MiB`);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** The catalog, marking what the models folder holds (and any other model files or parts in it). */
function list(ctx: CommandContext, modelsDir: string): number {
  const files = existsSync(modelsDir) ? readdirSync(modelsDir) : [];
  const size = (file: string) => statSync(join(modelsDir, file)).size;
  const rows = [['NAME', 'SIZE', 'LANGUAGES', 'CHECKSUM', 'IN ' + modelsDir]];
  for (const m of MODEL_CATALOG) {
    const here = files.includes(m.file) ? `yes (${mib(size(m.file))})` : files.includes(`${m.file}.part`) ? `partial (${mib(size(`${m.file}.part`))})` : '-';
    rows.push([m.name, mib(approxBytes(m)), m.multilingual ? 'any' : 'en', m.checksum?.algorithm ?? 'none', here]);
  }
  const known = new Set(MODEL_CATALOG.flatMap((m) => [m.file, `${m.file}.part`]));
  for (const f of files.filter((f) => /\.bin(\.part)?$/.test(f) && !known.has(f))) rows.push([f, mib(size(f)), '', '', 'yes (not in the catalog)']);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) ctx.out.write(`${r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}\n`);
  return 0;
}

async function pull(ctx: CommandContext, name: string, modelsDir: string, baseUrl: string): Promise<number> {
  const model = findModel(name);
  if (!model) throw new EarshotError('bad_request', `no model "${name}" in the catalog; "earshot models list" shows them`);
  const dest = join(modelsDir, model.file);
  if (existsSync(dest) && !ctx.values.force) {
    ctx.err.write(`${model.name} is already in ${modelsDir} (--force downloads it again)\n`);
    ctx.out.write(`${dest}\n`);
    return 0;
  }
  const pinned = str(ctx.values.sha256);
  if (pinned !== undefined && !/^[0-9a-f]{64}$/i.test(pinned)) throw new EarshotError('bad_request', '--sha256 takes 64 hex digits');
  const checksum: ModelChecksum | undefined = pinned ? { algorithm: 'sha256', hex: pinned } : model.checksum;
  if (!checksum) ctx.err.write(`warning: no checksum is published for ${model.name}; its SHA-256 is printed for you to compare (or pin it with --sha256)\n`);

  const bar = new ProgressBar(model.name, ctx.err as NodeJS.WriteStream);
  let drawnAt = 0;
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  try {
    const result = await downloadFile({
      url: modelUrl(model, baseUrl),
      dest,
      ...(model.bytes !== undefined ? { expectedBytes: model.bytes } : {}),
      ...(checksum ? { checksum } : {}),
      signal: controller.signal,
      onRetry: (err, attempt, delayMs) => ctx.err.write(`${err.message}; try ${attempt} in ${delayMs / 1000} s, resuming\n`),
      onProgress: (received, total) => {
        // Chunks arrive thousands of times a second; a terminal needs a few redraws.
        const now = Date.now();
        if (now - drawnAt < 100 && received !== total) return;
        drawnAt = now;
        bar.update(Math.round((received / MiB) * 10) / 10, Math.round(((total ?? approxBytes(model) ?? received) / MiB) * 10) / 10, 'MiB');
      },
    });
    bar.finish(`done: ${mib(result.bytes)}${result.resumed ? ', resumed' : ''}, ${checksum ? `${checksum.algorithm} checked` : `sha256 ${result.sha256}`}`);
    ctx.out.write(`${result.path}\n`);
    return 0;
  } catch (err) {
    if (controller.signal.aborted) {
      bar.finish(`interrupted; run the same command again to resume`);
      return 130;
    }
    bar.finish('failed');
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
  }
}

export const modelsCommand: Command = {
  name: 'models',
  summary: 'Lists whisper models and downloads them into the models folder, checked against their published checksums. An interrupted download resumes.',
  usage: 'earshot models list | models pull NAME [--models-dir DIR] [--base-url URL] [--sha256 HEX] [--force]',
  settings: ['dataDir', 'modelsDir', 'modelBaseUrl'],
  options: { 'base-url': { type: 'string' }, sha256: { type: 'string' }, force: { type: 'boolean' } },
  optionsHelp: [
    '  --base-url URL   pull: download <URL>/ggml-NAME.bin (a mirror); same as --model-base-url',
    '  --sha256 HEX     pull: the SHA-256 the file must have (for models without a published checksum)',
    '  --force          pull: download again even if the model is there',
  ].join('\n'),
  async run(ctx) {
    const [action, name, ...rest] = ctx.args;
    const config = ctx.config();
    if (action === 'list' && !name) return list(ctx, config.modelsDir);
    if (action === 'pull' && name && rest.length === 0) return pull(ctx, name, config.modelsDir, str(ctx.values['base-url']) ?? config.modelBaseUrl);
    throw new EarshotError('bad_request', `usage: ${modelsCommand.usage}`);
  },
};
