/**
 * The options that make ffmpeg and ffprobe read only the one local file they are given, whatever the
 * file says. docs/adr/0002-untrusted-media.md explains each choice and how it was tested.
 */

/**
 * Demuxers we let open a file, spelled as ffmpeg 5.1 names them (`ffprobe -formats`); ffprobe reports
 * one of these as `format_name`. Ordinary audio/video containers only: no playlists or manifests (hls,
 * dash, concat, webm_dash_manifest), no filter graphs or devices (lavfi, ...), no network session
 * descriptions (sdp, rtp, rtsp), no image sequences (image2, *_pipe), no raw or text formats (data,
 * bin, tty, subtitles, ffmetadata), nothing that names another file or URL.
 */
export const ALLOWED_DEMUXERS: readonly string[] = [
  'mov,mp4,m4a,3gp,3g2,mj2',
  'matroska,webm',
  'mp3',
  'wav',
  'w64',
  'flac',
  'wv',
  'ogg',
  'aac',
  'amr',
  'amrnb',
  'amrwb',
  'aiff',
  'caf',
  'au',
  'avi',
  'mpegts',
  'mpeg',
  'asf',
  'flv',
  'ac3',
  'eac3',
  'dts',
];

/** ffmpeg matches a demuxer whose comma-separated name shares any entry with this list. */
const FORMAT_WHITELIST = ALLOWED_DEMUXERS.join(',');

/** Bytes and microseconds ffprobe may read to identify streams (ffmpeg's defaults, written down). */
export const PROBE_SIZE_BYTES = 5_000_000;
export const ANALYZE_DURATION_US = 5_000_000;

/** Below this ffmpeg guessed the format from the file name alone (1) or from an ID3 tag (24). */
export const MIN_PROBE_SCORE = 25;

/** Is `formatName` (ffprobe's format_name) one of ours, exactly? */
export function isAllowedDemuxer(formatName: string): boolean {
  return ALLOWED_DEMUXERS.includes(formatName);
}

/**
 * Input options, then `-i file:<absolute path>`. `file:` makes the name a path whatever it looks like
 * (`-i`, `http:evil`, `concat:a|b`); the protocol whitelist stops nested opens of any other protocol;
 * the format whitelist refuses every demuxer not listed. `demuxer` (a probed format_name) is forced
 * with `-f`, so a decode uses the demuxer the probe checked and never re-guesses from the extension.
 */
export function untrustedInputArgs(absolutePath: string, demuxer?: string): string[] {
  const isMov = demuxer === undefined || demuxer.startsWith('mov,');
  return [
    '-protocol_whitelist',
    'file',
    '-format_whitelist',
    FORMAT_WHITELIST,
    '-probesize',
    String(PROBE_SIZE_BYTES),
    '-analyzeduration',
    String(ANALYZE_DURATION_US),
    // mov/mp4 "data references" point at other files; off by default, kept off on purpose. ffmpeg
    // (unlike ffprobe) fails on a demuxer option that the chosen demuxer lacks, so only for mov.
    ...(isMov ? ['-enable_drefs', '0', '-use_absolute_path', '0'] : []),
    ...(demuxer === undefined ? [] : ['-f', demuxer.split(',')[0]!]),
    '-i',
    `file:${absolutePath}`,
  ];
}

/** Output options: write only the given local file, and never overwrite one (the name is fresh). */
export function localOutputArgs(absolutePath: string): string[] {
  return ['-protocol_whitelist', 'file', '-n', `file:${absolutePath}`];
}
