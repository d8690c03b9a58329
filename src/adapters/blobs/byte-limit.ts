/** Counting bytes as they stream past, so a size limit holds for bodies of unknown length. */
import { Transform, type TransformCallback } from 'node:stream';
import { permanent, type EarshotError } from '../../core/errors.js';

export function payloadTooLarge(maxBytes: number): EarshotError {
  return permanent('payload_too_large', `the body is larger than ${maxBytes} bytes`, { maxBytes });
}

/** A pass-through that fails with `payload_too_large` once more than `maxBytes` have gone through. */
export class ByteLimit extends Transform {
  bytes = 0;
  /** True once the limit was crossed, whatever error the consumer later reports instead. */
  exceeded = false;

  constructor(private readonly maxBytes = Number.POSITIVE_INFINITY) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) {
      this.exceeded = true;
      callback(payloadTooLarge(this.maxBytes));
      return;
    }
    callback(null, chunk);
  }
}
