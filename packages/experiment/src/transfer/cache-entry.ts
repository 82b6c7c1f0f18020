import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../commands/files.js';

/*
 * One feature-cache entry on disk (a row of features of one image):
 *
 *   bytes 0-7    `CNNFEAT1`
 *   bytes 8-11   value count n, uint32 little-endian
 *   bytes 12-31  sha1 of the value bytes
 *   bytes 32-    n float32 values, little-endian
 *
 * A length check alone accepts a same-length file whose bytes were damaged; the checksum
 * catches that, and the caller recomputes the entry. The header keeps the values 4-byte aligned.
 */

const MAGIC = 'CNNFEAT1';
const EXTENSION = '.feat';
const HEADER_BYTES = 32;

/**
 * The file name of an image's entry: its content's sha1 and size (so the same pixels share an
 * entry wherever they come from), and the augmentation variant when there is one.
 */
export function entryFileName(image: { data: Uint8Array; width: number; height: number }, variant?: number): string {
  const hash = createHash('sha1').update(image.data).digest('hex');
  return `${hash}-${image.width}x${image.height}${variant === undefined ? '' : `-v${variant}`}${EXTENSION}`;
}

/** Encodes a row of features as an entry. */
export function encodeEntry(values: Float32Array): Uint8Array {
  const body = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const bytes = new Uint8Array(HEADER_BYTES + body.length);
  bytes.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(bytes.buffer).setUint32(8, values.length, true);
  bytes.set(createHash('sha1').update(body).digest(), 12);
  bytes.set(body, HEADER_BYTES);
  return bytes;
}

/**
 * The values of an entry of `dimension` values, or the reason it is not a valid one
 * (wrong magic, wrong length, checksum mismatch): a string, never a throw, since a bad
 * entry is recomputed rather than fatal.
 */
export function decodeEntry(bytes: Uint8Array, dimension: number): Float32Array | string {
  if (bytes.length < HEADER_BYTES || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) return `it does not start with ${MAGIC}`;
  const count = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(8, true);
  if (count !== dimension) return `it holds ${count} values, ${dimension} expected`;
  if (bytes.length !== HEADER_BYTES + 4 * count) return `it is ${bytes.length} bytes long, ${HEADER_BYTES + 4 * count} expected`;
  const body = bytes.subarray(HEADER_BYTES);
  const stored = Buffer.from(bytes.subarray(12, HEADER_BYTES)).toString('hex');
  if (createHash('sha1').update(body).digest('hex') !== stored) return 'its checksum does not match its values';
  // Copied out: a Node Buffer may be a view into a shared pool at an unaligned offset.
  const values = new Float32Array(count);
  new Uint8Array(values.buffer).set(body);
  return values;
}

/** Writes an entry atomically (a temporary file renamed over `path`): a crash never leaves half an entry. */
export function writeEntry(path: string, values: Float32Array): void {
  writeFileAtomic(path, encodeEntry(values));
}

/**
 * Reads the entry at `path`: its values, `undefined` when there is no entry, or
 * `{ damaged }` with the reason when the file is there but fails its checks.
 */
export function readEntry(path: string, dimension: number): Float32Array | { damaged: string } | undefined {
  if (!existsSync(path)) return undefined;
  const decoded = decodeEntry(readFileSync(path), dimension);
  return typeof decoded === 'string' ? { damaged: decoded } : decoded;
}
