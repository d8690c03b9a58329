/**
 * Turns a failed ffmpeg/ffprobe run into an EarshotError by what it printed. The rule of thumb: a
 * file no allowed demuxer recognises is `unsupported_media`; a file an allowed demuxer recognised but
 * could not read is `corrupt_media`. Messages never carry file names; `details.ffmpeg` carries the
 * last lines of stderr with our paths replaced, for operators.
 */
import { type EarshotError, permanent, retryable } from '../../../core/errors.js';
import { ranOutOfMemory } from '../../process/limited-process.js';
import { isAllowedDemuxer } from './untrusted-input.js';

export interface FailedRun {
  stderr: string;
  code: number | null;
  signal: string | null;
  /** Paths to hide in details, each with its placeholder. */
  paths: Record<string, string>;
}

export function mediaFailure(failed: FailedRun): EarshotError {
  const run = { ...failed, stderr: withoutLevels(failed.stderr) };
  const { stderr } = run;
  const details = (reason: string, extra: Record<string, unknown> = {}) => ({ reason, ...extra, ffmpeg: stderrExcerpt(run) });

  const refused = /^\[([^\]@]+) @ [^\]]*\] Format not on whitelist/m.exec(stderr);
  if (refused || /Format not on whitelist/.test(stderr)) {
    return permanent('unsupported_media', 'this kind of file is not accepted', details('format_not_allowed', { format: refused?.[1]?.trim() }));
  }
  if (/Protocol '[^']*' not on whitelist/.test(stderr)) {
    return permanent('unsupported_media', 'the file refers to other files or URLs, which is not allowed', details('reference_not_allowed'));
  }
  // ffmpeg fell back on the file name's extension (score 1): the content itself is not media it knows.
  if (/detected only with low score/.test(stderr)) {
    return permanent('unsupported_media', 'the file is not audio or video in a format we recognise', details('unrecognized'));
  }
  // Out of the address-space limit (also when it is too small for ffmpeg to start at all).
  if (ranOutOfMemory(stderr)) {
    return permanent('media_limit_exceeded', 'the media tool ran out of its memory limit', details('memory'));
  }
  if (/No space left on device/.test(stderr)) {
    return retryable('unavailable', 'no disk space left for the decoded audio', details('disk_full'));
  }
  // A header value ffmpeg itself refuses (a sample rate of 2^31 Hz, 65535 channels): the same refusal,
  // reason and message as the bounds probe-info.ts checks, whichever side noticed.
  if (/Invalid sample rate/i.test(stderr)) {
    return permanent('unsupported_media', SAMPLE_RATE_MESSAGE, details('sample_rate'));
  }
  if (/Too many channels|Invalid (number of )?channels|channel count but channels not set|unspecified number of channels/i.test(stderr)) {
    return permanent('unsupported_media', CHANNELS_MESSAGE, details('channels'));
  }
  if (/Decoder \([^)]*\) not found|Unknown decoder|Unsupported codec|no decoder/i.test(stderr)) {
    return permanent('unsupported_media', 'the audio is in a codec this server cannot decode', details('codec'));
  }
  // Our own kills reject before this; SIGKILL from elsewhere is the kernel's OOM killer or an operator.
  if (run.signal === 'SIGKILL') {
    return retryable('unavailable', 'the media tool was killed from outside', details('killed'));
  }
  if (run.signal !== null) {
    return permanent('corrupt_media', 'the media tool crashed on this file', details('crashed', { signal: run.signal }));
  }
  if (recognisedBy(stderr)) {
    return permanent('corrupt_media', 'the file is damaged or incomplete', details('invalid_data'));
  }
  if (/Invalid data found when processing input/.test(stderr)) {
    return permanent('unsupported_media', 'the file is not audio or video in a format we recognise', details('unrecognized'));
  }
  return permanent('corrupt_media', 'the media tool could not read the file', details('failed', { exitCode: run.code }));
}

/** Did an allowed demuxer speak up (`[mov,mp4,m4a,3gp,3g2,mj2 @ 0x...] moov atom not found`)? */
function recognisedBy(stderr: string): boolean {
  for (const m of stderr.matchAll(/^\[([^\]@]+) @ [^\]]*\]/gm)) if (isAllowedDemuxer(m[1]!.trim())) return true;
  return false;
}

export const SAMPLE_RATE_MESSAGE = 'an audio stream declares a sample rate outside what this server accepts';
export const CHANNELS_MESSAGE = 'an audio stream declares a number of channels outside what this server accepts';

/** ffmpeg's `-loglevel level+...` tags ("[error] "), which the patterns here do not expect. */
const LEVEL_TAG = /\[(?:panic|fatal|error|warning|info|verbose|debug|trace)\] /g;

export function withoutLevels(stderr: string): string {
  return stderr.replace(LEVEL_TAG, '');
}

/** ffprobe's notice that a mov-only option was skipped is noise on every other file. */
const NOISE = /^Option \S+ skipped - not known to demuxer|^Guessed Channel Layout/;

/** The last few meaningful stderr lines, paths replaced and pointer values dropped. */
export function stderrExcerpt(run: Pick<FailedRun, 'stderr' | 'paths'>, maxLines = 5): string[] {
  const lines = run.stderr.split(/\r?\n|\r/).filter((l) => l.trim() !== '' && !NOISE.test(l));
  return lines.slice(-maxLines).map((line) => {
    let out = line.replace(/ @ 0x[0-9a-f]+\]/g, ']').replace(/(not on whitelist) '[^']*'/, '$1');
    // Longest first, so a path is never half-replaced by a shorter one it contains.
    for (const [path, placeholder] of Object.entries(run.paths).sort((a, b) => b[0].length - a[0].length)) out = out.split(path).join(placeholder);
    return out.slice(0, 300);
  });
}
