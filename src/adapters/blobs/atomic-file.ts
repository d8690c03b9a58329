/** Writing a local file so that it appears whole or not at all. */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ByteLimit } from './byte-limit.js';

export interface AtomicWriteOptions {
  /** Fail with `payload_too_large`, leaving no file, once more bytes arrive; default no limit. */
  maxBytes?: number;
  /** fsync before the rename, so a crash cannot leave an empty file under the final name; default false. */
  durable?: boolean;
  /** Runs once every byte is on disk, before the rename; a failure here leaves no file. */
  beforeRename?: () => Promise<void>;
}

/**
 * Streams `source` to a hidden temp file beside `filePath`, then renames it into place (a rename is
 * atomic within one file system, which is why the temp file is in the same folder). Returns the size.
 */
export async function writeFileAtomically(source: Readable, filePath: string, options: AtomicWriteOptions = {}): Promise<number> {
  const dir = dirname(filePath);
  const tempPath = join(dir, `.${basename(filePath)}.${randomBytes(6).toString('hex')}.tmp`);
  const limit = new ByteLimit(options.maxBytes);
  try {
    await mkdir(dir, { recursive: true });
    const handle = await open(tempPath, 'wx');
    // pipeline keeps memory flat (backpressure) and destroys every stream, the handle included, on failure.
    await pipeline(source, limit, handle.createWriteStream({ flush: options.durable ?? false }));
    await options.beforeRename?.();
    await rename(tempPath, filePath);
    return limit.bytes;
  } catch (err) {
    source.destroy(); // already done when pipeline failed; not when mkdir or open did
    await rm(tempPath, { force: true });
    throw err;
  }
}
