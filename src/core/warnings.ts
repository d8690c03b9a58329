/**
 * Warnings: what a user should know about a job that went ahead anyway (its media was damaged, and
 * only what could be read was transcribed). A task says so with a `warnings` list in its output; a
 * job's warnings are those of its tasks, in task order, each once.
 */
import type { Json, TaskRecord } from './job.js';

export interface Warning {
  /** Stable, e.g. decode_errors, truncated. */
  code: string;
  /** For people; may change. */
  message: string;
  /** Facts the code comes with (counts, seconds), snake_case as the API shows them. */
  [detail: string]: Json;
}

const isWarning = (w: unknown): w is Warning =>
  typeof w === 'object' && w !== null && typeof (w as Warning).code === 'string' && typeof (w as Warning).message === 'string';

/** The `warnings` of a task output, ignoring anything that is not a warning. */
export function outputWarnings(output: Json | null): Warning[] {
  if (!output || typeof output !== 'object' || Array.isArray(output)) return [];
  const list = output.warnings;
  return Array.isArray(list) ? list.filter(isWarning) : [];
}

/** A job's warnings, from its tasks' outputs. */
export function jobWarnings(tasks: readonly Pick<TaskRecord, 'output'>[]): Warning[] {
  const seen = new Set<string>();
  const out: Warning[] = [];
  for (const t of tasks) {
    for (const w of outputWarnings(t.output)) {
      const key = JSON.stringify(w);
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(w);
    }
  }
  return out;
}
