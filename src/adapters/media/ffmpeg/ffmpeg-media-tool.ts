/**
 * MediaTool on ffmpeg/ffprobe child processes. Every call treats the file as hostile: the input
 * options of untrusted-input.ts, the limits of media-process.ts, and the sanity checks of
 * probe-info.ts. docs/adr/0002-untrusted-media.md records what is allowed and why.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { permanent } from '../../../core/errors.js';
import { parseWavHeader } from '../../../core/wav.js';
import type { Logger } from '../../../ports/logger.js';
import type { DecodeAudioOptions, MediaCallOptions, MediaInfo, MediaTool } from '../../../ports/media-tool.js';
import { mediaFailure } from './media-failure.js';
import { runMediaProcess, type MediaProcessOptions } from './media-process.js';
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
  logger?: Logger;
}

/** A decode may not differ from the length the container states by more than this (see truncation). */
const TRUNCATION_TOLERANCE_SECONDS = 1;
const TRUNCATION_TOLERANCE_FRACTION = 0.02;

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
  };

  async function probeFile(filePath: string, signal: AbortSignal | undefined, remainingMs: () => number): Promise<{ info: MediaInfo; durationEstimated: boolean }> {
    const input = resolve(filePath);
    const file = await stat(input);
    // A FIFO or a device would make ffprobe wait or read forever.
    if (!file.isFile()) throw permanent('unsupported_media', 'the input is not a regular file', { reason: 'not_a_file' });
    if (file.size === 0) throw permanent('unsupported_media', 'the file is empty', { reason: 'empty' });
    const run = await runMediaProcess({
      ...processBase,
      command: ffprobePath,
      kind: 'ffprobe',
      args: ['-loglevel', 'warning', ...untrustedInputArgs(input), '-print_format', 'json', '-show_format', '-show_streams'],
      timeoutMs: Math.min(remainingMs(), probeTimeoutMs),
      ...(signal ? { signal } : {}),
    });
    if (run.code !== 0) throw mediaFailure({ ...run, paths: { [input]: '<input>' } });
    const { info, probeScore } = parseProbeJson(run.stdout, file.size);
    checkMediaInfo(info, probeScore, limits);
    // WAV with a data size past the end of the file, mp3 without a Xing header: the length is a guess.
    return { info, durationEstimated: /Estimating duration from bitrate/.test(run.stderr) };
  }

  return {
    async probe(filePath: string, options: MediaCallOptions = {}): Promise<MediaInfo> {
      const remainingMs = deadline(options.timeoutMs ?? probeTimeoutMs);
      return (await probeFile(filePath, options.signal, remainingMs)).info;
    },

    async decodeAudio(inputPath: string, outPath: string, options: DecodeAudioOptions = {}): Promise<{ durationSeconds: number }> {
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
      try {
        const run = await runMediaProcess({
          ...processBase,
          command: ffmpegPath,
          args: [
            ...['-loglevel', 'warning', '-nostats', '-progress', 'pipe:1', '-stats_period', '0.25'],
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
          ...(options.signal ? { signal: options.signal } : {}),
        });
        if (run.code !== 0) throw mediaFailure({ ...run, paths: { [input]: '<input>', [temp]: '<output>' } });
        const durationSeconds = await wavDurationSeconds(temp);
        checkDecoded(durationSeconds, durationEstimated ? null : (audio.durationSeconds ?? info.durationSeconds), limits.maxDurationSeconds);
        await rename(temp, output);
        return { durationSeconds };
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

/**
 * Truncation: a container that states its length up front (mp4's moov, Matroska's segment duration,
 * mp3's Xing header, FLAC's STREAMINFO) but holds less audio is an incomplete upload, and a transcript
 * of part of it would look like success; it fails. Where ffmpeg could only estimate the length (a WAV
 * whose data size runs past the file, an mp3 without a Xing header) or reads it from the end (Ogg),
 * whatever decodes is kept: that is also what a recorder that crashed leaves behind.
 */
function checkDecoded(decodedSeconds: number, declaredSeconds: number | null, maxDurationSeconds: number): void {
  if (decodedSeconds > maxDurationSeconds) {
    throw permanent('media_limit_exceeded', 'the recording is longer than this server accepts', { reason: 'too_long', maxDurationSeconds });
  }
  if (decodedSeconds === 0) throw permanent('corrupt_media', 'the audio stream holds no samples', { reason: 'no_samples' });
  if (declaredSeconds !== null) {
    const tolerance = Math.max(TRUNCATION_TOLERANCE_SECONDS, declaredSeconds * TRUNCATION_TOLERANCE_FRACTION);
    if (decodedSeconds < declaredSeconds - tolerance) {
      throw permanent('corrupt_media', 'the file ends before the length it declares: it looks incomplete', {
        reason: 'truncated',
        declaredSeconds,
        decodedSeconds,
      });
    }
  }
}
