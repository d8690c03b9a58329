/** ffprobe's JSON as MediaInfo, and the sanity limits a file must pass before we decode it. */
import { EarshotError, permanent } from '../../../core/errors.js';
import type { AudioStreamInfo, MediaInfo, VideoStreamInfo } from '../../../ports/media-tool.js';
import { CHANNELS_MESSAGE, SAMPLE_RATE_MESSAGE } from './media-failure.js';
import { MIN_PROBE_SCORE, isAllowedDemuxer } from './untrusted-input.js';

/** The subset of `ffprobe -print_format json -show_format -show_streams` we read. */
interface FfprobeJson {
  format?: { format_name?: string; duration?: string; bit_rate?: string; probe_score?: number };
  streams?: {
    index?: number;
    codec_type?: string;
    codec_name?: string;
    sample_rate?: string;
    channels?: number;
    width?: number;
    height?: number;
    avg_frame_rate?: string;
    r_frame_rate?: string;
    duration?: string;
    disposition?: { attached_pic?: number };
    /** Matroska keeps each stream's length in a DURATION tag ("00:00:11.000000000"). */
    tags?: { DURATION?: string };
  }[];
}

export interface MediaLimits {
  maxDurationSeconds: number;
  minSampleRate: number;
  maxSampleRate: number;
  maxChannels: number;
}

export function parseProbeJson(stdout: string, sizeBytes: number): { info: MediaInfo; probeScore: number } {
  let json: FfprobeJson;
  try {
    json = JSON.parse(stdout) as FfprobeJson;
  } catch (err) {
    throw new EarshotError('internal', 'ffprobe printed something that is not JSON', { cause: err });
  }
  const audio: AudioStreamInfo[] = [];
  const video: VideoStreamInfo[] = [];
  const streams = json.streams ?? [];
  const format = json.format ?? {};
  for (const s of streams) {
    const index = s.index ?? -1;
    // The container's length is its longest stream's (a subtitle track can outlast the audio), so it
    // stands for a stream only when that stream is the file's only one.
    const durationSeconds = seconds(s.duration) ?? clockSeconds(s.tags?.DURATION) ?? (streams.length === 1 ? seconds(format.duration) : null);
    if (s.codec_type === 'audio') {
      audio.push({ index, codec: s.codec_name ?? 'unknown', sampleRate: Number(s.sample_rate ?? 0) || 0, channels: s.channels ?? 0, durationSeconds });
    } else if (s.codec_type === 'video' && s.disposition?.attached_pic !== 1) {
      // Cover art (an mp3's picture) is a video stream to ffmpeg, but not a video to anyone else.
      const frameRate = rate(s.avg_frame_rate) ?? rate(s.r_frame_rate);
      video.push({ index, codec: s.codec_name ?? 'unknown', width: s.width ?? 0, height: s.height ?? 0, frameRate, durationSeconds });
    }
  }
  const bitRate = Number(format.bit_rate);
  const info: MediaInfo = {
    formatName: format.format_name ?? 'unknown',
    durationSeconds: seconds(format.duration),
    sizeBytes,
    bitRate: Number.isFinite(bitRate) && bitRate > 0 ? bitRate : null,
    audio,
    video,
  };
  return { info, probeScore: format.probe_score ?? 0 };
}

/** Throws the first limit the file breaks; every failure is permanent, since the file will not change. */
export function checkMediaInfo(info: MediaInfo, probeScore: number | null, limits: MediaLimits): void {
  if (!isAllowedDemuxer(info.formatName)) {
    // The format whitelist should have refused it already; this guards an ffmpeg that ignores it.
    throw permanent('unsupported_media', 'this kind of file is not accepted', { reason: 'format_not_allowed', format: info.formatName });
  }
  // null: the demuxer was chosen by our own check of the content (see ogg-sync.ts), not by ffprobe's guess.
  if (probeScore !== null && probeScore < MIN_PROBE_SCORE) {
    throw permanent('unsupported_media', 'the file is not audio or video in a format we recognise', { reason: 'unrecognized', probeScore });
  }
  const declared = declaredDurationSeconds(info);
  if (declared !== null && declared > limits.maxDurationSeconds) {
    throw permanent('media_limit_exceeded', 'the recording is longer than this server accepts', {
      reason: 'too_long',
      durationSeconds: declared,
      maxDurationSeconds: limits.maxDurationSeconds,
    });
  }
  for (const a of info.audio) {
    if (a.sampleRate < limits.minSampleRate || a.sampleRate > limits.maxSampleRate) {
      throw permanent('unsupported_media', SAMPLE_RATE_MESSAGE, {
        reason: 'sample_rate',
        sampleRate: a.sampleRate,
        minSampleRate: limits.minSampleRate,
        maxSampleRate: limits.maxSampleRate,
      });
    }
    if (a.channels < 1 || a.channels > limits.maxChannels) {
      throw permanent('unsupported_media', CHANNELS_MESSAGE, {
        reason: 'channels',
        channels: a.channels,
        maxChannels: limits.maxChannels,
      });
    }
  }
}

/**
 * The longest audio the file claims: its audio streams' lengths (what would be decoded), or the
 * container's where no audio stream states one. Video and subtitle streams do not count.
 */
export function declaredDurationSeconds(info: MediaInfo): number | null {
  const known = info.audio.map((a) => a.durationSeconds).filter((d): d is number => d !== null);
  return known.length > 0 ? Math.max(...known) : info.durationSeconds;
}

function seconds(value: string | undefined): number | null {
  const n = Number(value);
  return value !== undefined && Number.isFinite(n) && n >= 0 ? n : null;
}

/** "01:02:03.5" → 3723.5; anything else → null. */
function clockSeconds(value: string | undefined): number | null {
  const m = /^(\d+):([0-5]\d):([0-5]\d(?:\.\d+)?)$/.exec(value?.trim() ?? '');
  return m ? Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) : null;
}

/** "30000/1001" → 29.97; "0/0" → null. */
function rate(value: string | undefined): number | null {
  const [num, den] = (value ?? '').split('/').map(Number);
  return num && den && num > 0 && den > 0 ? num / den : null;
}
