/**
 * MediaTool on ffmpeg/ffprobe child processes. Every call treats the file as hostile: the input
 * options of untrusted-input.ts, the limits of media-process.ts, and the sanity checks of
 * probe-info.ts. docs/adr/0002-untrusted-media.md records what is allowed and why.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { EarshotError, permanent } from '../../../core/errors.js';
import { parseWavHeader } from '../../../core/wav.js';
import type { Logger } from '../../../ports/logger.js';
import type { DecodeAudioOptions, DecodedAudio, DecodeWarning, MediaCallOptions, MediaInfo, MediaTool } from '../../../ports/media-tool.js';
import { mediaFailure } from './media-failure.js';
import { runMediaProcess, type MediaProcessOptions } from './media-process.js';
import { findOggPage, OGG_SYNC_READ_BYTES } from './ogg-sync.js';
import { checkMediaInfo, parseProbeJson, type MediaLimits } from './probe-info.js';
import { localOutputArgs, untrustedInputArgs } from './untrusted-input.js';

export interface FfmpegMediaToolConfig {
  /** Default 'ffmpeg', looked up in /bin:/usr/bin (or env.PATH); give an absolute path otherwise. */
  ffmpegPath?: string;
  /** Default 'ffprobe'. */
  ffprobePath?: string;
  /** Wall time of one call, all its child processes together; default 10 min. */
  timeoutMs?: number;
  /** Wall time of a probe (also the probe inside a decode); default 60 s. */
  probeTimeoutMs?: number;
  /** Address-space limit of each child process; default 2 GiB; null for none. */
  maxMemoryBytes?: number | null;
  /** Longest recording accepted, declared by the file or decoded; default 6 h. */
  maxDurationSeconds?: number;
  /** Most channels an audio stream may have; default 16. */
  maxChannels?: number;
  /** Audio streams outside [minSampleRate, maxSampleRate] are refused; default 4000 and 384000 Hz. */
  minSampleRate?: number;
  maxSampleRate?: number;
  /** The child processes' whole environment; default media-process.ts MEDIA_PROCESS_ENV. */
  env?: Readonly<Record<string, string>>;
  /** Default found in /usr/bin or /bin; null to run without a memory limit. */
  prlimitPath?: string | null;
  /** The child processes' working directory and TMPDIR (the configured work folder). Default: inherited. */
  workDir?: string;
  logger?: Logger;
}

/**
 * Audio that decodes shorter than the length the file declares by more than this is reported as
 * truncated (see checkDecoded). Encoder delay and padding (AAC priming, Opus pre-skip) are a few
 * hundredths of a second; a FLAC whose damaged frames were dropped loses about a second in 130.
 */
const TRUNCATION_TOLERANCE_SECONDS = 0.5;
const TRUNCATION_TOLERANCE_FRACTION = 0.005;

interface ProbedFile {
  info: MediaInfo;
  durationEstimated: boolean;
}

export function createFfmpegMediaTool(config: FfmpegMediaToolConfig = {}): MediaTool {
  const ffmpegPath = config.ffmpegPath ?? 'ffmpeg';
  const ffprobePath = config.ffprobePath ?? 'ffprobe';
  const timeoutMs = config.timeoutMs ?? 10 * 60_000;
  const probeTimeoutMs = config.probeTimeoutMs ?? 60_000;
  const limits: MediaLimits = {
    maxDurationSeconds: config.maxDurationSeconds ?? 6 * 3600,
    minSampleRate: config.minSampleRate ?? 4000,
    maxSampleRate: config.maxSampleRate ?? 384_000,
    maxChannels: config.maxChannels ?? 16,
  };
  const maxMemoryBytes = config.maxMemoryBytes === null ? undefined : (config.maxMemoryBytes ?? 2 * 1024 ** 3);
  const processBase: Partial<MediaProcessOptions> = {
    ...(maxMemoryBytes === undefined ? {} : { maxMemoryBytes }),
    ...(config.env ? { env: config.env } : {}),
    ...(config.prlimitPath !== undefined ? { prlimitPath: config.prlimitPath } : {}),
    ...(config.logger ? { logger: config.logger } : {}),
    ...(config.workDir ? { workDir: config.workDir } : {}),
  };

  async function probeFile(filePath: string, signal: AbortSignal | undefined, remainingMs: () => number): Promise<ProbedFile> {
    const input = resolve(filePath);
    const file = await stat(input);
    // A FIFO or a device would make ffprobe wait or read forever.
    if (!file.isFile()) throw permanent('unsupported_media', 'the input is not a regular file', { reason: 'not_a_file' });
    if (file.size === 0) throw permanent('unsupported_media', 'the file is empty', { reason: 'empty' });
    const run = (demuxer?: string) => runProbe(input, file.size, demuxer, signal, remainingMs);
    try {
      return await run();
    } catch (err) {
      // Ogg behind leading junk: ffprobe's guess misses it, the Ogg demuxer (forced) reads it whole.
      if (!(err instanceof EarshotError && err.details?.reason === 'unrecognized') || (await oggPageOffset(input)) === null) throw err;
      return run('ogg');
    }
  }

  /** One ffprobe run; `demuxer` forces a format our own check of the content chose. */
  async function runProbe(input: string, sizeBytes: number, demuxer: string | undefined, signal: AbortSignal | undefined, remainingMs: () => number): Promise<ProbedFile> {
    const run = await runMediaProcess({
      ...processBase,
      command: ffprobePath,
      kind: 'ffprobe',
      args: ['-loglevel', 'warning', ...untrustedInputArgs(input, demuxer), '-print_format', 'json', '-show_format', '-show_streams'],
      timeoutMs: Math.min(remainingMs(), probeTimeoutMs),
      ...(signal ? { signal } : {}),
    });
    if (run.code !== 0) throw mediaFailure({ ...run, paths: { [input]: '<input>' } });
    const { info, probeScore } = parseProbeJson(run.stdout, sizeBytes);
    checkMediaInfo(info, demuxer === undefined ? probeScore : null, limits);
    // WAV with a data size past the end of the file, mp3 without a Xing header: the length is a guess.
    return { info, durationEstimated: /Estimating duration from bitrate/.test(run.stderr) };
  }

  return {
    async probe(filePath: string, options: MediaCallOptions = {}): Promise<MediaInfo> {
      const remainingMs = deadline(options.timeoutMs ?? probeTimeoutMs);
      return (await probeFile(filePath, options.signal, remainingMs)).info;
    },

    async decodeAudio(inputPath: string, outPath: string, options: DecodeAudioOptions = {}): Promise<DecodedAudio> {
      const remainingMs = deadline(options.timeoutMs ?? timeoutMs);
      const sampleRate = options.sampleRate ?? 16_000;
      if (!Number.isInteger(sampleRate) || sampleRate < 1000 || sampleRate > 192_000) {
        throw permanent('bad_request', 'the output sample rate must be a whole number of hertz from 1000 to 192000', { reason: 'sample_rate', sampleRate });
      }
      const streamNumber = options.stream ?? 0;
      const { info, durationEstimated } = await probeFile(inputPath, options.signal, remainingMs);
      if (info.audio.length === 0) throw permanent('unsupported_media', 'the file has no audio stream', { reason: 'no_audio' });
      const audio = Number.isInteger(streamNumber) ? info.audio[streamNumber] : undefined;
      if (!audio) throw permanent('bad_request', 'the file has no audio stream with that number', { reason: 'stream', stream: streamNumber, audioStreams: info.audio.length });

      const input = resolve(inputPath);
      const output = resolve(outPath);
      const temp = join(dirname(output), `.${basename(output)}.${randomBytes(6).toString('hex')}.tmp`);
      await mkdir(dirname(output), { recursive: true });
      // Each line ffmpeg logs at error level is a packet it could not demux or a frame it could not decode.
      let errors = 0;
      try {
        const run = await runMediaProcess({
          ...processBase,
          command: ffmpegPath,
          args: [
            // level: each line says its level, so errors can be counted; repeat: every one is printed.
            ...['-loglevel', 'repeat+level+warning', '-nostats', '-progress', 'pipe:1', '-stats_period', '0.25'],
            ...untrustedInputArgs(input, info.formatName),
            // Only the chosen audio stream is demuxed into a decoder; video, subtitles and data are not.
            ...['-map', `0:a:${streamNumber}`, '-vn', '-sn', '-dn', '-map_metadata', '-1', '-map_chapters', '-1'],
            ...['-ac', '1', '-ar', String(sampleRate), '-c:a', 'pcm_s16le'],
            // A file that understates its length stops one second past the limit instead of running on.
            ...['-t', String(limits.maxDurationSeconds + 1)],
            // bitexact: a plain 44-byte header, no LIST chunk naming the encoder.
            ...['-flags', '+bitexact', '-fflags', '+bitexact', '-f', 'wav'],
            ...localOutputArgs(temp),
          ],
          timeoutMs: remainingMs(),
          onStdoutLine: progressLine(options.onProgress),
          onStderrLine: (line) => {
            if (ERROR_LINE.test(line)) errors++;
          },
          ...(options.signal ? { signal: options.signal } : {}),
        });
        if (run.code !== 0) throw mediaFailure({ ...run, paths: { [input]: '<input>', [temp]: '<output>' } });
        const durationSeconds = await wavDurationSeconds(temp);
        const declared = durationEstimated ? await declaredWavSeconds(input, audio.codec) : (audio.durationSeconds ?? (await declaredWavSeconds(input, audio.codec)));
        const warnings = checkDecoded(durationSeconds, declared, errors, limits.maxDurationSeconds);
        await rename(temp, output);
        return { durationSeconds, warnings };
      } catch (err) {
        await rm(temp, { force: true });
        throw err;
      }
    },
  };
}

/** Milliseconds left of a call's time; none left is the same failure as a child killed for time. */
function deadline(timeoutMs: number): () => number {
  const end = Date.now() + timeoutMs;
  return () => {
    const left = end - Date.now();
    if (left <= 0) throw permanent('media_limit_exceeded', 'the media tool ran past its time limit', { reason: 'timeout', timeoutMs });
    return left;
  };
}

function progressLine(onProgress: ((seconds: number) => void) | undefined): (line: string) => void {
  return (line) => {
    const m = /^out_time_us=(\d+)$/.exec(line.trim());
    if (m && onProgress) onProgress(Number(m[1]) / 1e6);
  };
}

async function wavDurationSeconds(file: string): Promise<number> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(4096);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    const wav = parseWavHeader(head.subarray(0, bytesRead));
    const { size } = await handle.stat();
    const dataBytes = Math.min(wav.dataBytes, size - wav.dataOffset);
    return dataBytes / (wav.sampleRate * wav.channels * (wav.bitsPerSample / 8));
  } finally {
    await handle.close();
  }
}

/** ffmpeg's error-level lines under `-loglevel level+...`: "[flac @ 0x...] [error] ..." or "[error] ...". */
const ERROR_LINE = /^(?:\[[^\]]+\] )?\[(?:error|fatal|panic)\] /;

/**
 * The length a PCM WAV's header declares (its data chunk over its byte rate), where ffprobe only
 * estimated one from the file's size; null when unknown. A data size of 0 or 0xFFFFFFFF is what a
 * recorder writes before it knows the length, unless no sample follows: then the recording is empty.
 */
async function declaredWavSeconds(input: string, codec: string): Promise<number | null> {
  if (!codec.startsWith('pcm_')) return null;
  const handle = await open(input, 'r');
  try {
    const head = Buffer.alloc(4096);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    let wav;
    try {
      wav = parseWavHeader(head.subarray(0, bytesRead));
    } catch {
      return null; // not RIFF/WAVE (w64, or a header ffmpeg reads and we do not)
    }
    const { size } = await handle.stat();
    const bytesPerSecond = wav.sampleRate * wav.channels * (wav.bitsPerSample / 8);
    if (wav.dataBytes === 0) return size <= wav.dataOffset ? 0 : null;
    if (wav.dataBytes === 0xffffffff || !(bytesPerSecond > 0)) return null;
    return wav.dataBytes / bytesPerSecond;
  } finally {
    await handle.close();
  }
}

/** The offset of an Ogg page near the start of the file, or null. */
async function oggPageOffset(input: string): Promise<number | null> {
  const handle = await open(input, 'r');
  try {
    const head = Buffer.alloc(OGG_SYNC_READ_BYTES);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return findOggPage(head.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
}

/**
 * What a finished decode says about the file. Too long fails. Nothing decoded fails, unless the file
 * declares nothing either (a WAV header alone: an empty recording). Otherwise whatever decoded is kept,
 * with a warning for the errors ffmpeg reported and for audio that ends clearly before the length the
 * file declares for the stream (an incomplete upload, or frames lost to damage) — the caller decides
 * whether a damaged file is worth transcribing. Where the length is unknown or only estimated (an mp3
 * without a Xing header) no truncation can be seen; Ogg states its length at the end, so a cut Ogg
 * declares what it holds.
 */
function checkDecoded(decodedSeconds: number, declaredSeconds: number | null, errors: number, maxDurationSeconds: number): DecodeWarning[] {
  if (decodedSeconds > maxDurationSeconds) {
    throw permanent('media_limit_exceeded', 'the recording is longer than this server accepts', { reason: 'too_long', maxDurationSeconds });
  }
  if (decodedSeconds === 0 && declaredSeconds !== 0) {
    throw permanent('corrupt_media', 'no audio could be decoded from the file', { reason: 'no_samples', ...(errors > 0 ? { decodeErrors: errors } : {}) });
  }
  const warnings: DecodeWarning[] = [];
  if (errors > 0) {
    warnings.push({ code: 'decode_errors', message: `ffmpeg reported ${errors} error${errors === 1 ? '' : 's'} while decoding: parts of the audio may be missing or garbled`, count: errors });
  }
  if (declaredSeconds !== null) {
    const tolerance = Math.max(TRUNCATION_TOLERANCE_SECONDS, declaredSeconds * TRUNCATION_TOLERANCE_FRACTION);
    if (decodedSeconds < declaredSeconds - tolerance) {
      const r = (n: number) => Math.round(n * 1000) / 1000;
      warnings.push({
        code: 'truncated',
        message: `the audio decoded to ${r(decodedSeconds)} s of the ${r(declaredSeconds)} s the file declares: the rest is missing or unreadable`,
        declared_seconds: r(declaredSeconds),
        decoded_seconds: r(decodedSeconds),
      });
    }
  }
  return warnings;
}
