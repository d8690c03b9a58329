/**
 * Runs ffmpeg or ffprobe as a child process under hard limits: no shell, no stdin, a wall-time
 * limit, an address-space limit (through util-linux `prlimit`), an abort signal, and bounded output.
 * It knows nothing about media; the tool above it builds the arguments and reads the failures.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { type EarshotError, permanent, retryable } from '../../../core/errors.js';
import type { Logger } from '../../../ports/logger.js';

export interface MediaProcessOptions {
  /** The program: an absolute path, or a name looked up on the child's PATH. */
  command: string;
  /** `ffprobe` has no `-nostdin` (it never reads stdin, which is /dev/null anyway); default 'ffmpeg'. */
  kind?: 'ffmpeg' | 'ffprobe';
  /** Arguments after the `-nostdin -hide_banner` this wrapper always puts first. */
  args: readonly string[];
  /** Past this the child is killed and the call fails with `media_limit_exceeded` (reason `timeout`). */
  timeoutMs: number;
  /** Address-space limit (`prlimit --as`); undefined for none. Without prlimit: no limit, one warning. */
  maxMemoryBytes?: number;
  /** Kills the child (SIGKILL) and rejects with an error named `AbortError`. */
  signal?: AbortSignal;
  onStderrLine?(line: string): void;
  /** Receives stdout line by line; stdout is then not kept (progress output can be long). */
  onStdoutLine?(line: string): void;
  /** Kept stdout past this kills the child: `media_limit_exceeded` (reason `output_too_large`); default 8 MiB. */
  maxStdoutBytes?: number;
  /** How much of the end of stderr to keep; default 32 KiB. */
  stderrTailBytes?: number;
  /** The child's whole environment; default MEDIA_PROCESS_ENV. */
  env?: Readonly<Record<string, string>>;
  /** The prlimit program; default /usr/bin/prlimit or /bin/prlimit if executable; null for none. */
  prlimitPath?: string | null;
  /** Where the missing-prlimit warning goes; default process.emitWarning. */
  logger?: Logger;
  onSpawn?(pid: number): void;
}

export interface MediaProcessResult {
  stdout: string;
  /** The last `stderrTailBytes` of stderr. */
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * Not the parent's environment: FFREPORT would make ffmpeg write log files (with our paths in them)
 * to its working directory, and AV_LOG_FORCE_* change what we parse. Without PATH, the child is found
 * in /bin:/usr/bin; configure an absolute path otherwise. Few malloc arenas, because each reserves
 * 64 MiB of address space, which the memory limit counts.
 */
export const MEDIA_PROCESS_ENV: Readonly<Record<string, string>> = { LC_ALL: 'C', MALLOC_ARENA_MAX: '2' };

const KiB = 1024;
const PRLIMIT_CANDIDATES = ['/usr/bin/prlimit', '/bin/prlimit'];
let prlimitFound: string | null | undefined;
let warnedNoPrlimit = false;

/** Runs the program to its end; resolves whatever its exit code (the caller reads the failure). */
export function runMediaProcess(options: MediaProcessOptions): Promise<MediaProcessResult> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(abortError(signal));
  const lead = options.kind === 'ffprobe' ? ['-hide_banner'] : ['-nostdin', '-hide_banner'];
  const argv = [...lead, ...options.args];
  const prlimit = options.maxMemoryBytes === undefined ? null : prlimitFor(options);
  const [file, args] = prlimit
    ? [prlimit, [`--as=${Math.floor(options.maxMemoryBytes!)}`, '--core=0', '--', options.command, ...argv]]
    : [options.command, argv];
  const maxStdout = options.maxStdoutBytes ?? 8 * KiB * KiB;
  const stderrTail = new Tail(options.stderrTailBytes ?? 32 * KiB);

  return new Promise<MediaProcessResult>((resolve, reject) => {
    // prlimit sets the limit on itself and then execs the program, so child.pid is ffmpeg's pid.
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...(options.env ?? MEDIA_PROCESS_ENV) }, shell: false });
    let failure: Error | undefined;
    let settled = false;
    const kill = (err: Error) => {
      failure ??= err;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(
      () => kill(permanent('media_limit_exceeded', 'the media tool ran past its time limit', { reason: 'timeout', timeoutMs: options.timeoutMs })),
      options.timeoutMs,
    );
    const onAbort = () => kill(abortError(signal!));
    signal?.addEventListener('abort', onAbort, { once: true });
    const finish = (settle: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      settle();
    };
    // A throwing callback must not become an uncaught exception: it fails the call instead.
    const guard =
      <T>(fn: (value: T) => void) =>
      (value: T) => {
        try {
          fn(value);
        } catch (err) {
          kill(err instanceof Error ? err : new Error(String(err)));
        }
      };

    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    const stdoutLines = options.onStdoutLine ? new LineSplitter(guard(options.onStdoutLine)) : undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      if (stdoutLines) return stdoutLines.push(chunk);
      stdoutBytes += chunk.length;
      if (stdoutBytes > maxStdout) return kill(permanent('media_limit_exceeded', 'the media tool printed too much', { reason: 'output_too_large', maxStdoutBytes: maxStdout }));
      stdout.push(chunk);
    });
    const stderrLines = options.onStderrLine ? new LineSplitter(guard(options.onStderrLine)) : undefined;
    child.stderr.on('data', (chunk: Buffer) => {
      stderrTail.push(chunk);
      stderrLines?.push(chunk);
    });

    const onSpawn = options.onSpawn;
    if (onSpawn) child.on('spawn', () => guard(onSpawn)(child.pid!));
    child.on('error', (err: NodeJS.ErrnoException) => {
      // Only a failed spawn (no 'close' may follow); a failed kill of an exited child is harmless.
      if (child.pid === undefined) finish(() => reject(unavailable(file, err.code ?? err.message)));
    });
    child.on('close', (code, exitSignal) => {
      stdoutLines?.end();
      stderrLines?.end();
      const stderr = stderrTail.text();
      finish(() => {
        if (failure) return reject(failure);
        // prlimit reports a program it could not exec with 126/127 and its own message.
        if (prlimit && (code === 126 || code === 127) && /^prlimit: failed to execute/m.test(stderr)) return reject(unavailable(options.command, 'exec failed'));
        resolve({ stdout: Buffer.concat(stdout).toString('utf8'), stderr, code, signal: exitSignal });
      });
    });
  });
}

function prlimitFor(options: MediaProcessOptions): string | null {
  if (options.prlimitPath !== undefined) return options.prlimitPath;
  prlimitFound ??= PRLIMIT_CANDIDATES.find(isExecutable) ?? null;
  if (prlimitFound === null && !warnedNoPrlimit) {
    warnedNoPrlimit = true;
    const message = 'prlimit was not found: ffmpeg and ffprobe run without a memory limit';
    if (options.logger) options.logger.warn({ candidates: PRLIMIT_CANDIDATES }, message);
    else process.emitWarning(message);
  }
  return prlimitFound;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function abortError(signal: AbortSignal): Error {
  const err = new Error('the media tool was aborted', { cause: signal.reason });
  err.name = 'AbortError';
  return err;
}

/** Missing ffmpeg on this worker: another worker may have it, so it is worth a retry. */
function unavailable(command: string, cause: string): EarshotError {
  return retryable('unavailable', 'the media tool could not be started', { command, cause });
}

/** Keeps the last `max` bytes of a stream. */
class Tail {
  private chunks: Buffer[] = [];
  private bytes = 0;
  constructor(private readonly max: number) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    while (this.chunks.length > 1 && this.bytes - this.chunks[0]!.length >= this.max) this.bytes -= this.chunks.shift()!.length;
  }

  text(): string {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - this.max)).toString('utf8');
  }
}

/** Splits a byte stream into lines (ffmpeg ends some with \r); an endless line is cut at 16 KiB. */
class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';
  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: Buffer): void {
    const parts = (this.pending + this.decoder.write(chunk)).split(/\r\n|\r|\n/);
    this.pending = parts.pop() ?? '';
    if (this.pending.length > 16 * KiB) this.pending = this.pending.slice(0, 16 * KiB);
    for (const line of parts) this.onLine(line);
  }

  end(): void {
    const rest = this.pending + this.decoder.end();
    this.pending = '';
    if (rest) this.onLine(rest);
  }
}
