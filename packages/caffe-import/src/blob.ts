import { blobShape, hasLegacyDims, shapeCount, type BlobProto } from './schema.js';

// Caffe refuses blobs with more axes than this (blob.hpp kMaxBlobAxes).
const MAX_BLOB_AXES = 32;

/** The host stores typed arrays little-endian (every platform Node runs on today). */
export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Checks a decoded blob the way Caffe's Blob::FromProto would, returning a problem description or
 * null: no negative dims, at most 32 axes, `shape` and legacy dims agreeing when both are present,
 * and a non-empty payload holding exactly as many values as the shape needs. A corrupted dim
 * therefore fails loudly here instead of producing a wrongly shaped tensor later.
 */
export function blobProblem(blob: BlobProto): string | null {
  const legacy = [blob.num, blob.channels, blob.height, blob.width];
  if (legacy.some((d) => d !== undefined && d < 0)) return `negative legacy dimension in [${legacy.map((d) => d ?? 0).join(',')}]`;
  if (blob.shape) {
    const dims = blob.shape.dim;
    if (dims.length > MAX_BLOB_AXES) return `shape has ${dims.length} axes (Caffe allows at most ${MAX_BLOB_AXES})`;
    if (dims.some((d) => d < 0)) return `negative dimension in shape [${dims.join(',')}]`;
    if (hasLegacyDims(blob)) {
      const padded = [...Array<number>(Math.max(0, 4 - dims.length)).fill(1), ...dims];
      const stored = legacy.map((d) => d ?? 0);
      if (dims.length > 4 || padded.some((d, i) => d !== stored[i])) {
        return `shape [${dims.join(',')}] disagrees with legacy dims [${stored.join(',')}]`;
      }
    }
  }
  const n = blob.data.length;
  if (n > 0) {
    const shape = blobShape(blob);
    const count = shapeCount(shape);
    if (count !== n) return `holds ${n} values but its shape [${shape.join(',')}] needs ${count}`;
  }
  return null;
}

/** Concatenates float chunks into one new array. */
export function concatFloat32(chunks: readonly Float32Array[]): Float32Array {
  let total = 0;
  for (const c of chunks) total += c.length;
  const out = new Float32Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
