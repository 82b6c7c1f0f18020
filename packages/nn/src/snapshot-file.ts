import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ArgumentError } from '@cnn/tensor';
import type { SolverSnapshot } from './solver.js';

/*
 * A solver snapshot on disk: the 8 bytes `CNNSNAP1`, a little-endian uint32 header
 * length, a JSON header { iter, weights: [lengths], history: [lengths], rng, sha1 } padded with
 * spaces to a multiple of 4 bytes, then every array's float32 values, little-endian. `sha1` is
 * the checksum of those values: a length check alone takes a damaged file of the right size
 * for a good one, and a resumed run would carry on from wrong weights.
 */

const MAGIC = 'CNNSNAP1';

/** Encodes a solver snapshot as bytes. */
export function encodeSnapshot(snapshot: SolverSnapshot): Uint8Array {
  const arrays = [...snapshot.weights, ...snapshot.history];
  const body = new Float32Array(arrays.reduce((sum, a) => sum + a.length, 0));
  let at = 0;
  for (const array of arrays) {
    body.set(array, at);
    at += array.length;
  }
  const bodyBytes = new Uint8Array(body.buffer);
  const json = JSON.stringify({
    iter: snapshot.iter,
    weights: snapshot.weights.map((w) => w.length),
    history: snapshot.history.map((h) => h.length),
    rng: snapshot.rngState?.map((v) => (Number.isNaN(v) ? null : v)),
    sha1: checksum(bodyBytes),
  });
  const headerLength = Math.ceil((12 + json.length) / 4) * 4 - 12;
  const bytes = new Uint8Array(12 + headerLength + bodyBytes.length);
  bytes.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(bytes.buffer).setUint32(8, headerLength, true);
  bytes.set(new TextEncoder().encode(json.padEnd(headerLength, ' ')), 12);
  bytes.set(bodyBytes, 12 + headerLength);
  return bytes;
}

function checksum(bytes: Uint8Array): string {
  return createHash('sha1').update(bytes).digest('hex');
}

/** Decodes bytes written by `encodeSnapshot`; `file` names the source in errors. */
export function decodeSnapshot(bytes: Uint8Array, file = '<buffer>'): SolverSnapshot {
  const fail = (why: string): never => {
    throw new ArgumentError(`${file}: not a solver snapshot: ${why}`);
  };
  if (bytes.length < 12 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) fail(`it does not start with ${MAGIC}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(8, true);
  if (12 + headerLength > bytes.length) fail(`header of ${headerLength} bytes runs past the end (${bytes.length} bytes)`);
  let header: { iter: number; weights: number[]; history: number[]; rng?: (number | null)[]; sha1?: string };
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + headerLength)));
  } catch (error) {
    return fail(`bad header (${(error as Error).message})`);
  }
  const lengths = [...header.weights, ...header.history];
  const floats = lengths.reduce((sum, n) => sum + n, 0);
  if (12 + headerLength + floats * 4 !== bytes.length) fail(`expected ${12 + headerLength + floats * 4} bytes, found ${bytes.length}`);
  if (header.sha1 === undefined) fail('it carries no checksum (written by an older version)');
  if (checksum(bytes.subarray(12 + headerLength)) !== header.sha1) fail('its checksum does not match its values');
  // Copied into a fresh buffer: a Node Buffer's slice is a view into a shared pool, not a copy.
  const body = new Float32Array(floats);
  new Uint8Array(body.buffer).set(bytes.subarray(12 + headerLength));
  let at = 0;
  const arrays = lengths.map((n) => {
    const array = body.slice(at, at + n);
    at += n;
    return array;
  });
  return {
    iter: header.iter,
    weights: arrays.slice(0, header.weights.length),
    history: arrays.slice(header.weights.length),
    rngState: header.rng?.map((v) => v ?? NaN),
  };
}

/** Writes a snapshot atomically: to a temporary file first, then renamed over `path`. */
export function saveSnapshot(path: string, snapshot: SolverSnapshot): void {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, encodeSnapshot(snapshot));
  renameSync(temporary, path);
}

/** Reads a snapshot written by `saveSnapshot`. */
export function loadSnapshot(path: string): SolverSnapshot {
  return decodeSnapshot(readFileSync(path), path);
}
