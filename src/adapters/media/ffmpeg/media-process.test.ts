import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EarshotError } from '../../../core/errors.js';
import { runMediaProcess, type MediaProcessOptions } from './media-process.js';

const hasPrlimit = existsSync('/usr/bin/prlimit') || existsSync('/bin/prlimit');
/** Silence generated at real speed: runs until it is killed. */
const FOREVER = ['-loglevel', 'info', '-re', '-f', 'lavfi', '-i', 'anullsrc=r=8000', '-f', 'null', '-'];

function run(options: Partial<MediaProcessOptions> & Pick<MediaProcessOptions, 'args'>) {
  let pid: number | undefined;
  const promise = runMediaProcess({ command: 'ffmpeg', timeoutMs: 30_000, ...options, onSpawn: (p) => (pid = p) });
  return { promise, pid: () => pid! };
}

function assertGone(pid: number): void {
  assert.ok(pid > 0);
  assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
}

describe('runMediaProcess', () => {
  it('runs without a shell or banner and returns the exit code', async () => {
    const marker = join(tmpdir(), `earshot-no-shell-${process.pid}`);
    const ok = await runMediaProcess({
      command: 'ffmpeg',
      args: ['-loglevel', 'info', '-f', 'lavfi', '-i', 'anullsrc=d=0.1', '-metadata', `comment=$(touch ${marker}); touch ${marker}`, '-f', 'null', '-'],
      timeoutMs: 30_000,
    });
    assert.equal(ok.code, 0);
    assert.match(ok.stderr, /Output #0/);
    assert.doesNotMatch(ok.stderr, /ffmpeg version/);
    assert.equal(existsSync(marker), false);
    const failed = await runMediaProcess({ command: 'ffmpeg', args: ['-i', 'file:/nonexistent/input.wav'], timeoutMs: 30_000 });
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /No such file or directory/);
  });

  it('kills the child at the time limit: media_limit_exceeded, not retryable', async () => {
    const r = run({ args: FOREVER, timeoutMs: 300 });
    await assert.rejects(r.promise, (err) => err instanceof EarshotError && err.code === 'media_limit_exceeded' && err.details?.reason === 'timeout' && !err.retryable);
    assertGone(r.pid());
  });

  it('kills the child on abort and rejects with an AbortError carrying the reason', async () => {
    const controller = new AbortController();
    const r = run({ args: FOREVER, signal: controller.signal, onStderrLine: () => controller.abort('stop') });
    await assert.rejects(r.promise, (err) => err instanceof Error && err.name === 'AbortError' && err.cause === 'stop');
    assertGone(r.pid());
    const never = run({ args: FOREVER, signal: AbortSignal.abort() });
    await assert.rejects(never.promise, { name: 'AbortError' });
    assert.equal(never.pid(), undefined);
  });

  it('limits the address space (and core dumps) through prlimit', { skip: !hasPrlimit && 'no prlimit here' }, async () => {
    const limitsOf = async (maxMemoryBytes: number, prlimitPath?: null) => {
      const controller = new AbortController();
      let limits = '';
      const r = run({
        args: FOREVER,
        maxMemoryBytes,
        ...(prlimitPath === null ? { prlimitPath } : {}),
        signal: controller.signal,
        // ffmpeg is printing, so prlimit has already exec'd it under the limit.
        onStderrLine: () => {
          limits ||= readFileSync(`/proc/${r.pid()}/limits`, 'utf8');
          controller.abort();
        },
      });
      await assert.rejects(r.promise, { name: 'AbortError' });
      return limits;
    };
    const limited = await limitsOf(1024 ** 3);
    assert.match(limited, /Max address space\s+1073741824\s+1073741824 /);
    assert.match(limited, /Max core file size\s+0\s+0 /);
    assert.match(await limitsOf(1024 ** 3, null), /Max address space\s+unlimited/);
  });

  it('keeps only the end of stderr', async () => {
    let total = 0;
    const r = await runMediaProcess({
      command: 'ffmpeg',
      args: ['-loglevel', 'debug', '-f', 'lavfi', '-i', 'anullsrc=d=1', '-f', 'null', '-'],
      timeoutMs: 30_000,
      stderrTailBytes: 512,
      onStderrLine: (line) => (total += line.length + 1),
    });
    assert.ok(total > 2048, `only ${total} bytes of stderr`);
    assert.ok(Buffer.byteLength(r.stderr) <= 512);
    assert.match(r.stderr, /\n$/);
  });

  it('kills a child that prints more stdout than it may keep', async () => {
    const r = run({ args: ['-f', 'lavfi', '-i', 'anullsrc=d=60', '-f', 's16le', 'pipe:1'], maxStdoutBytes: 100_000 });
    await assert.rejects(r.promise, (err) => err instanceof EarshotError && err.details?.reason === 'output_too_large');
    assertGone(r.pid());
  });

  it('streams stdout lines to a callback instead of keeping them; a throwing callback fails the call', async () => {
    const lines: string[] = [];
    const ok = await runMediaProcess({
      command: 'ffmpeg',
      args: ['-nostats', '-progress', 'pipe:1', '-f', 'lavfi', '-i', 'anullsrc=d=0.5', '-f', 'null', '-'],
      timeoutMs: 30_000,
      onStdoutLine: (line) => lines.push(line),
    });
    assert.equal(ok.stdout, '');
    assert.equal(lines.at(-1), 'progress=end');
    const r = run({ args: FOREVER, onStderrLine: () => { throw new Error('callback failed'); } });
    await assert.rejects(r.promise, { message: 'callback failed' });
    assertGone(r.pid());
  });

  it('a program that cannot be started is unavailable (retryable), with or without prlimit', async () => {
    for (const maxMemoryBytes of hasPrlimit ? [undefined, 1024 ** 3] : [undefined]) {
      await assert.rejects(
        runMediaProcess({ command: '/nonexistent/ffmpeg', args: [], timeoutMs: 30_000, ...(maxMemoryBytes ? { maxMemoryBytes } : {}) }),
        (err) => err instanceof EarshotError && err.code === 'unavailable' && err.retryable,
      );
    }
  });
});
