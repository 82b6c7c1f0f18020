import type { WorkerReply } from './protocol.js';

/*
 * A page's pool worker reports a failure through shared memory: the caller is blocked in
 * Atomics.wait, and a browser has no way to read a message synchronously (Node has
 * receiveMessageOnPort). Layout: an Int32 byte count, then the reply as UTF-8 JSON.
 */

/** Bytes of one worker's failure buffer; a longer report is cut. */
export const FAILURE_BYTES = 4096;

/** A new failure buffer, on shared memory. */
export function createFailureBuffer(): Uint8Array {
  return new Uint8Array(new SharedArrayBuffer(FAILURE_BYTES));
}

/** Writes `reply` (cut to fit) into `buffer`. */
export function writeFailure(buffer: Uint8Array, reply: WorkerReply): void {
  // TextEncoder cannot encode into shared memory, so encode first, then copy.
  const bytes = new TextEncoder().encode(JSON.stringify({ message: reply.message.slice(0, 1000), stack: reply.stack?.slice(0, 2000) }));
  const length = Math.min(bytes.length, buffer.length - 4);
  buffer.set(bytes.subarray(0, length), 4);
  new Int32Array(buffer.buffer, buffer.byteOffset, 1)[0] = length;
}

/** The reply last written into `buffer`, or undefined if it cannot be read back (cut mid-text). */
export function readFailure(buffer: Uint8Array): WorkerReply | undefined {
  const length = new Int32Array(buffer.buffer, buffer.byteOffset, 1)[0]!;
  try {
    return JSON.parse(new TextDecoder().decode(buffer.slice(4, 4 + length))) as WorkerReply;
  } catch {
    return undefined;
  }
}
