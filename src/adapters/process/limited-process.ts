/**
 * Runs a child process under the limits every external tool of Earshot gets (ffmpeg, ffprobe, the
 * pocketsphinx decoder): no shell, no stdin, an environment of our choosing, a working directory
 * (and TMPDIR) in the configured work folder, a wall-time limit, an address-space limit and no core
 * dumps (through util-linux `prlimit`), an abort signal, and bounded output. It knows nothing about
 * the tool: callers build the arguments, read the exit, and name the failures (`fail`).
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import type { Logger } from '../../ports/logger.js';

/** Why the runner itself ended or refused a run; the caller turns each into its own error. */
export type LimitReason = 'timeout' | 'output_too_large' | 'not_started';

export interface LimitedProcessOptions {
  /** The program: an absolute path, or a name looked up in the child's PATH (/bin:/usr/bin without one). */
  command: string;
  args: readonly string[];
  /** The child's whole environment (not the parent's, which holds our secrets). */
  env: Readonly<Record<string, string>>;
  /** The child's working directory and TMPDIR, so whatever it writes on its own lands there. Default: inherited. */
  workDir?: string;
  /** Past this the child is killed: `fail('timeout')`. */
  timeoutMs: number;
  /** Address-space limit (`prlimit --as`); undefined for none. Without prlimit: no limit, one warning. */
  maxMemoryBytes?: number;
  /** Kills the child (SIGKILL) and rejects with an error named `AbortError`. */
  signal?: AbortSignal;
  onStderrLine?(line: string): void;
  /** Receives stdout line by line; stdout is then not kept. */
  onStdoutLine?(line: string): void;
  /** Kept stdout past this kills the child: `fail('output_too_large')`; default 8 MiB. */
  maxStdoutBytes?: number;
  /** How much of the end of stderr to keep; default 32 KiB. */
  stderrTailBytes?: number;
  /** The prlimit program; default /usr/bin/prlimit or /bin/prlimit if executable; null for none. */
  prlimitPath?: string | null;
  /** Where the missing-prlimit warning goes; default process.emitWarning. */
  logger?: Logger;
  onSpawn?(pid: number): void;
  /** The error for each way the runner ends a run. */
  fail(reason: LimitReason, details: Record<string, unknown>): Error;
}

export interface LimitedProcessResult {
  stdout: string;
  /** The last `stderrTailBytes` of stderr. */
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
}

const KiB = 1024;
const PRLIMIT_CANDIDATES = ['/usr/bin/prlimit', '/bin/prlimit'];
let prlimitFound: string | null | undefined;
let warnedNoPrlimit = false;

/** Runs the program to its end; resolves whatever its exit code (the caller reads the failure). */
export async function runLimitedProcess(options: LimitedProcessOptions): Promise<LimitedProcessResult> {
  const { signal, fail } = options;
  if (signal?.aborted) throw abortError(signal);
  // The work folder may not exist yet on a fresh deployment; a missing cwd would fail the spawn.
  if (options.workDir) await mkdir(options.workDir, { recursive: true });
  if (signal?.aborted) throw abortError(signal);
  const prlimit = options.maxMemoryBytes === undefined ? null : prlimitFor(options);
  const [file, args] = prlimit
    ? [prlimit, [`--as=${Math.floor(options.maxMemoryBytes!)}`, '--core=0', '--', options.command, ...options.args]]
    : [options.command, [...options.args]];
  const maxStdout = options.maxStdoutBytes ?? 8 * KiB * KiB;
  const stderrTail = new Tail(options.stderrTailBytes ?? 32 * KiB);
  const env = options.workDir ? { ...options.env, TMPDIR: options.workDir } : { ...options.env };

  return new Promise<LimitedProcessResult>((resolve, reject) => {
    // prlimit sets the limit on itself and then execs the program, so child.pid is the program's pid.
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env, shell: false, ...(options.workDir ? { cwd: options.workDir } : {}) });
    let failure: Error | undefined;
    let settled = false;
    const kill = (err: Error) => {
      failure ??= err;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => kill(fail('timeout', { timeoutMs: options.timeoutMs })), options.timeoutMs);
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
      if (stdoutBytes > maxStdout) return kill(fail('output_too_large', { maxStdoutBytes: maxStdout }));
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
      if (child.pid === undefined) finish(() => reject(fail('not_started', { command: file, cause: err.code ?? err.message })));
    });
    child.on('close', (code, exitSignal) => {
      stdoutLines?.end();
      stderrLines?.end();
      const stderr = stderrTail.text();
      finish(() => {
        if (failure) return reject(failure);
        // prlimit reports a program it could not exec with 126/127 and its own message.
        if (prlimit && (code === 126 || code === 127) && /^prlimit: failed to execute/m.test(stderr)) {
          return reject(fail('not_started', { command: options.command, cause: 'exec failed' }));
        }
        resolve({ stdout: Buffer.concat(stdout).toString('utf8'), stderr, code, signal: exitSignal });
      });
    });
  });
}

/**
 * Out of the address-space limit, by what the program or the dynamic loader printed: ENOMEM, a failed
 * calloc/malloc, a library that could not be mapped, a C++ bad_alloc.
 */
export function ranOutOfMemory(stderr: string): boolean {
  return /Cannot allocate memory|failed to map segment|bad_alloc|out of memory|\b[cm]alloc\([^)]*\) failed/i.test(stderr);
}

function prlimitFor(options: LimitedProcessOptions): string | null {
  if (options.prlimitPath !== undefined) return options.prlimitPath;
  prlimitFound ??= PRLIMIT_CANDIDATES.find(isExecutable) ?? null;
  if (prlimitFound === null && !warnedNoPrlimit) {
    warnedNoPrlimit = true;
    const message = 'prlimit was not found: external tools (ffmpeg, ffprobe, pocketsphinx) run without a memory limit';
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
  const err = new Error('the process was aborted', { cause: signal.reason });
  err.name = 'AbortError';
  return err;
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
