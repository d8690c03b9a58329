/**
 * MediaTool: what Earshot asks of ffmpeg/ffprobe. Every call reads only the local file it is given
 * (never a URL, never a file the media points to), runs in a child process with a wall-time and
 * memory limit, and honours an abort signal. Untrusted input fails with `unsupported_media` or
 * `corrupt_media` (not retryable); a limit hit fails with `media_limit_exceeded`. It leaves out
 * where files come from (the BlobStore) and what the audio means (ASR).
 */
export interface AudioStreamInfo {
  /** The stream's index in the container (ffprobe's `index`), not its place in `audio`. */
  index: number;
  codec: string;
  sampleRate: number;
  channels: number;
  durationSeconds: number | null;
}

export interface VideoStreamInfo {
  index: number;
  codec: string;
  width: number;
  height: number;
  frameRate: number | null;
  durationSeconds: number | null;
}

export interface MediaInfo {
  /** The demuxer ffprobe chose, e.g. `mov,mp4,m4a,3gp,3g2,mj2`, `wav`, `matroska,webm`. */
  formatName: string;
  durationSeconds: number | null;
  sizeBytes: number;
  bitRate: number | null;
  audio: AudioStreamInfo[];
  /** Pictures that move: cover art (an mp3's attached picture) is not listed. */
  video: VideoStreamInfo[];
}

export interface MediaCallOptions {
  signal?: AbortSignal;
  /** Wall-time limit for the whole call, every child process it starts; defaults come from the adapter's config. */
  timeoutMs?: number;
}

export interface DecodeAudioOptions extends MediaCallOptions {
  /** Output sample rate. Default 16000. */
  sampleRate?: number;
  /** Which audio stream (index into MediaInfo.audio). Default 0. */
  stream?: number;
  /** Called with seconds of audio decoded so far. */
  onProgress?(seconds: number): void;
}

export interface MediaTool {
  /**
   * Reads container and stream metadata, and refuses a file that breaks the adapter's sanity limits
   * (format, declared duration, sample rate, channels) before anything is decoded. A file without
   * audio probes fine (`audio: []`).
   */
  probe(filePath: string, options?: MediaCallOptions): Promise<MediaInfo>;
  /**
   * Decodes one audio stream to mono 16-bit PCM WAV at `outPath` (whole or not at all); returns the
   * decoded duration. No audio: `unsupported_media` (reason `no_audio`); audio that ends well before
   * the length the container states: `corrupt_media` (reason `truncated`).
   */
  decodeAudio(inputPath: string, outPath: string, options?: DecodeAudioOptions): Promise<{ durationSeconds: number }>;
}
