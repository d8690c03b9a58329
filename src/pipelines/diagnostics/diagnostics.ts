/**
 * The `diagnostics` job: a small fan-out/fan-in DAG of sleeping tasks that lets an operator check a
 * deployment end to end (API → queue → workers in each pool → completion) without any media.
 */
import { permanent } from '../../core/errors.js';
import type { Json } from '../../core/job.js';
import type { Registry } from '../../engine/registry.js';

export interface DiagnosticsInput {
  /** Parallel tasks in the middle step. Default 4, at most 1000. */
  tasks?: number;
  /** How long each task sleeps. Default 100 ms, at most 60000. */
  sleep_ms?: number;
  /** Pool of the middle step. Default cpu. */
  pool?: string;
}

function parse(input: Json): Required<DiagnosticsInput> {
  const i = (input ?? {}) as DiagnosticsInput;
  const tasks = i.tasks ?? 4;
  const sleepMs = i.sleep_ms ?? 100;
  if (!Number.isInteger(tasks) || tasks < 1 || tasks > 1000) throw permanent('bad_request', 'tasks must be an integer from 1 to 1000');
  if (!Number.isInteger(sleepMs) || sleepMs < 0 || sleepMs > 60_000) throw permanent('bad_request', 'sleep_ms must be an integer from 0 to 60000');
  return { tasks, sleep_ms: sleepMs, pool: i.pool ?? 'cpu' };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), reject(new DOMException('aborted', 'AbortError'))), { once: true });
  });
}

export function registerDiagnostics(registry: Registry): void {
  registry.defineJob<Json>({
    kind: 'diagnostics',
    public: true,
    plan: (input) => {
      parse(input);
      return [
        { key: 'plan', type: 'diagnostics.plan' },
        { key: 'gather', type: 'diagnostics.gather', dependsOn: ['plan'] },
      ];
    },
  });
  registry.defineTask({
    type: 'diagnostics.plan',
    handler: async (ctx) => {
      const input = parse(ctx.task.jobInput);
      ctx.spawn(
        Array.from({ length: input.tasks }, (_, i) => ({ key: `sleep-${i}`, type: 'diagnostics.sleep', pool: input.pool, input: input.sleep_ms, blocks: ['gather'] })),
      );
      return { tasks: input.tasks };
    },
  });
  registry.defineTask({
    type: 'diagnostics.sleep',
    handler: async (ctx) => {
      await sleep(ctx.task.input as number, ctx.signal);
      return { pid: process.pid, attempt: ctx.task.attempt };
    },
  });
  registry.defineTask({
    type: 'diagnostics.gather',
    handler: async (ctx) => {
      const outputs = await ctx.dependencyOutputs();
      return { tasks: outputs.filter((o) => o.type === 'diagnostics.sleep').length, pids: [...new Set(outputs.map((o) => (o.output as { pid?: number } | null)?.pid).filter(Boolean))] as Json };
    },
  });
}
