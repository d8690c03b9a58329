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
  /**
   * The length the file declares for this stream: its own duration, a Matroska DURATION tag, or the
   * container's when the stream is the file's only one (a container's length is its longest stream's,
   * which may be a subtitle track).
   */
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

/**
 * Damage a decode read past: the audio it wrote is what could be read, and these say what may be
 * missing. Shaped as the API shows them (snake_case), since they travel to jobs and transcripts as is.
 */
export type DecodeWarning =
  /** The decoder or demuxer reported `count` errors (lost or garbled frames). */
  | { code: 'decode_errors'; message: string; count: number }
  /** The stream decoded to clearly less than the length the file declares for it. */
  | { code: 'truncated'; message: string; declared_seconds: number; decoded_seconds: number };

export interface DecodedAudio {
  durationSeconds: number;
  /** Empty for a file that decoded cleanly and whole. */
  warnings: DecodeWarning[];
}

export interface MediaTool {
  /**
   * Reads container and stream metadata, and refuses a file that breaks the adapter's sanity limits
   * (format, declared duration, sample rate, channels) before anything is decoded. A file without
   * audio probes fine (`audio: []`).
   */
  probe(filePath: string, options?: MediaCallOptions): Promise<MediaInfo>;
  /**
   * Decodes one audio stream to mono 16-bit PCM WAV at `outPath` (the output is written whole or not at
   * all); returns the decoded duration and the damage it read past (decode errors, audio that ends well
   * before the length the file declares), keeping whatever audio could be read. No audio stream:
   * `unsupported_media` (reason `no_audio`); a stream from which nothing decodes although the file
   * declares a length: `corrupt_media` (reason `no_samples`). A file that declares zero length and
   * holds nothing (a WAV header alone) decodes to an empty WAV.
   */
  decodeAudio(inputPath: string, outPath: string, options?: DecodeAudioOptions): Promise<DecodedAudio>;
}
