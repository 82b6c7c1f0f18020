import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { CaffeFormatError } from './errors.js';

/**
 * The largest binary Caffe file read: protobuf's limit on one message (INT_MAX bytes), which
 * Caffe itself reads up to (kProtoReadBytesLimit). A larger file cannot be a model Caffe wrote.
 */
export const MAX_BINARY_BYTES = 2 ** 31 - 1;

/** The largest prototxt read: net and solver definitions are kilobytes; this is far beyond any. */
export const MAX_TEXT_BYTES = 64 << 20;

/** How much of a file is read and checked before the rest. */
export const HEAD_BYTES = 4096;

/** How a file is read: its kind (for messages), the size limit, the check of its first bytes. */
export interface SniffedRead {
  /** `.caffemodel`, `.binaryproto`, `.prototxt`: named in the messages. */
  kind: string;
  maxBytes: number;
  /**
   * Why a file starting with `head` (its first HEAD_BYTES bytes, or all of a shorter file)
   * cannot be of this kind, with the byte offset when there is one; `null` when it may be.
   */
  sniff(head: Uint8Array): { why: string; offset?: number } | null;
  /** Where the whole file goes (default: a new Uint8Array of `size` bytes). */
  allocate?(size: number): Uint8Array;
}

/**
 * Reads a whole file after checking its size and first bytes: a folder, a file beyond the
 * supported size, or one whose head shows it is of another kind (an HTML page, a file of
 * zeros) is refused with a CaffeFormatError naming it, before the rest is read or any memory
 * for it is allocated. A 1.5 GB file of zeros costs one 4 KB read.
 */
export function readFileSniffed(file: string, how: SniffedRead): Uint8Array {
  const fd = openSync(file, 'r');
  try {
    const info = fstatSync(fd);
    if (info.isDirectory()) throw new CaffeFormatError(`is a folder, not a ${how.kind} file`, { file });
    const size = info.size;
    if (size > how.maxBytes) {
      throw new CaffeFormatError(`is ${size.toLocaleString('en-US')} bytes, more than the ${how.maxBytes.toLocaleString('en-US')} a ${how.kind} file can be`, { file });
    }
    const head = new Uint8Array(Math.min(size, HEAD_BYTES));
    readAll(fd, head, 0, file);
    const wrong = how.sniff(head);
    if (wrong) throw new CaffeFormatError(wrong.why, { file, ...(wrong.offset !== undefined ? { offset: wrong.offset } : {}) });
    const bytes = how.allocate ? how.allocate(size) : new Uint8Array(size);
    bytes.set(head);
    readAll(fd, bytes.subarray(head.length), head.length, file);
    return bytes;
  } finally {
    closeSync(fd);
  }
}

/** Fills `into` from the file at `position`; a file that ends early is named. */
function readAll(fd: number, into: Uint8Array, position: number, file: string): void {
  let at = 0;
  while (at < into.length) {
    const read = readSync(fd, into, at, into.length - at, position + at);
    if (read === 0) throw new CaffeFormatError(`the file shrank while it was read (${position + at} bytes read)`, { file, offset: position + at });
    at += read;
  }
}
