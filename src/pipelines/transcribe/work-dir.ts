import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** A scratch directory for one task, removed afterwards whatever happens. */
export async function withWorkDir<T>(root: string, taskId: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = join(root, taskId);
  await mkdir(dir, { recursive: true });
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
