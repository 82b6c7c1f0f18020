import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { CommandError } from './errors.js';

/** Typed arrays are stored little-endian in memory on this host (every platform Node runs on today). */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Writes a file so that readers see either the old file or the whole new one, never a torn one:
 * the bytes go to a temporary file next to it, which is then renamed over the target (a rename
 * within one folder is atomic on POSIX file systems and on NFS).
 *
 * The temporary name is unique to the writer (host, process, random part): shards of
 * `cnn features` on other machines may write one entry into a shared folder at once, and every
 * container runs as process 1. It starts with a dot, so what a killed writer leaves is hidden.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const temporary = join(dirname(path), `.${basename(path)}.tmp-${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    // 'wx': never write through a file that is already there under this name.
    writeFileSync(temporary, data, { flag: 'wx' });
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
}

/** writeFileAtomic's temporary names: `.<target>.tmp-<host>-<pid>-<8 hex digits>`. */
const TEMPORARY = /^\..+\.tmp-.+-\d+-[0-9a-f]{8}$/;

/**
 * Removes from `dir` the temporaries of writeFileAtomic older than `maxAgeMs`: what writers
 * killed mid-write left. Writing one file takes milliseconds, so an old temporary's writer is
 * gone, on whichever host it ran (a pid cannot be checked across machines). Returns how many.
 */
export function removeStaleTemporaries(dir: string, maxAgeMs: number, now = Date.now()): number {
  let removed = 0;
  for (const name of readdirSync(dir)) {
    if (!TEMPORARY.test(name)) continue;
    const file = join(dir, name);
    try {
      if (now - statSync(file).mtimeMs > maxAgeMs) {
        rmSync(file, { force: true });
        removed++;
      }
    } catch {
      // Renamed or removed by its writer or another cleaner meanwhile: nothing left to do.
    }
  }
  return removed;
}

/** The first `count` values of a float array as raw little-endian float32 bytes (the fixtures' `.f32`). */
export function float32Bytes(values: ArrayLike<number> & { length: number }, count = values.length): Uint8Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = values[i]!;
  if (LITTLE_ENDIAN) return new Uint8Array(out.buffer);
  const bytes = new Uint8Array(count * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < count; i++) view.setFloat32(i * 4, out[i]!, true);
  return bytes;
}

/** Raw little-endian float32 bytes as a Float32Array (copied, so alignment never matters). */
export function float32FromBytes(bytes: Uint8Array, file: string): Float32Array {
  if (bytes.length % 4 !== 0) throw new CommandError(`${file}: ${bytes.length} bytes is not a whole number of float32 values`);
  const out = new Float32Array(bytes.length / 4);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

/** Reads a raw little-endian float32 tensor file of the given shape, checking its size first. */
export function readFloat32File(file: string, shape: readonly number[]): Float32Array {
  const bytes = readFileSync(file);
  const count = shape.reduce((a, b) => a * b, 1);
  if (bytes.length !== count * 4) {
    throw new CommandError(
      `${file}: ${bytes.length} bytes, but shape ${shape.join(',')} needs ${count} float32 values = ${count * 4} bytes`,
    );
  }
  return float32FromBytes(bytes, file);
}

/** The hex sha1 of a whole file, read in 4 MiB pieces so a 244 MB model is never held twice. */
export function sha1File(file: string): string {
  const hash = createHash('sha1');
  const fd = openSync(file, 'r');
  try {
    const chunk = Buffer.alloc(4 << 20);
    for (;;) {
      const read = readSync(fd, chunk, 0, chunk.length, null);
      if (read === 0) break;
      hash.update(chunk.subarray(0, read));
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/**
 * A file name for a layer: Caffe names may hold '/' (`conv2_1/dw`) or other characters a file
 * system refuses, so anything outside `[A-Za-z0-9._-]` becomes '_'; `taken` keeps the names unique
 * (`a/b` and `a_b` would otherwise share a file).
 */
export function layerFileName(name: string, extension: string, taken: Set<string>): string {
  // A leading dot would hide the file or, as '..', name the parent folder.
  const base = name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_') || '_';
  let candidate = `${base}${extension}`;
  // Compared case-insensitively: 'Conv1' and 'conv1' are one file on macOS and Windows.
  for (let k = 2; taken.has(candidate.toLowerCase()); k++) candidate = `${base}~${k}${extension}`;
  taken.add(candidate.toLowerCase());
  return candidate;
}
