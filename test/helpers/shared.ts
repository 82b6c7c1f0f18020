import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is test/helpers/shared.ts). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * `../shared/fixtures` next to the repository. A conformance test without its reference data
 * must fail, never pass by checking nothing, so a missing folder is an error that says where
 * it was looked for.
 */
export function sharedFixturesDir(): string {
  const dir = path.resolve(REPO_ROOT, '../shared/fixtures');
  if (!existsSync(path.join(dir, 'caffe/README.md')) || !existsSync(path.join(dir, 'imagenet/README.md'))) {
    throw new Error(
      `the shared fixtures are missing: expected ${dir}/caffe and ${dir}/imagenet (the folder shared/ beside the repository checkout)`,
    );
  }
  return dir;
}

/** Absolute path of a file given relative to `../shared/fixtures`. */
export function fixture(...parts: string[]): string {
  return path.join(sharedFixturesDir(), ...parts);
}

/** A raw little-endian float32 file (the fixtures' `.f32`), copied so it is aligned. */
export function readF32(file: string): Float32Array {
  const bytes = readFileSync(file);
  const out = new Float32Array(bytes.length / 4);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

/** How far a tensor is from its reference under the fixtures' suggested tolerance. */
export interface Deviation {
  /** max |a - e| */
  maxAbs: number;
  /** max |a - e| / (atol + rtol |e|): the tolerance is met when this is at most 1. */
  worstRatio: number;
  /** The flat index of the worst element. */
  worstIndex: number;
  /** atol = 1e-5 * max(1, max |e|) */
  atol: number;
}

/** Per-tensor tolerance of shared/fixtures/caffe/README.md: `|a - e| <= 1e-5 max(1, max|e|) + 1e-4 |e|`. */
export const RTOL = 1e-4;
export const ATOL_FACTOR = 1e-5;

/** Compares `actual` with `expected` element by element under the conformance tolerance. */
export function deviation(actual: ArrayLike<number>, expected: ArrayLike<number>): Deviation {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != expected ${expected.length}`);
  let maxE = 0;
  for (let i = 0; i < expected.length; i++) maxE = Math.max(maxE, Math.abs(expected[i]!));
  const atol = ATOL_FACTOR * Math.max(1, maxE);
  let maxAbs = 0;
  let worstRatio = 0;
  let worstIndex = -1;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const diff = Math.abs(actual[i]! - e);
    // NaN fails: the ratio becomes NaN and is caught below.
    const ratio = Number.isNaN(diff) ? Infinity : diff / (atol + RTOL * Math.abs(e));
    if (diff > maxAbs || Number.isNaN(diff)) maxAbs = Number.isNaN(diff) ? Infinity : diff;
    if (ratio > worstRatio) {
      worstRatio = ratio;
      worstIndex = i;
    }
  }
  return { maxAbs, worstRatio, worstIndex, atol };
}

/**
 * Where a browser test saves its screenshot of a page: the README's copy under `docs/` when
 * `CNN_SCREENSHOTS=1` (to refresh them, then commit), otherwise a temporary file, so that a plain
 * `npm test` still renders the page but leaves the working tree clean.
 */
export function screenshotPath(name: string): string {
  if (process.env.CNN_SCREENSHOTS === '1') return path.join(REPO_ROOT, 'docs', name);
  return path.join(mkdtempSync(path.join(tmpdir(), 'cnn-screenshot-')), name);
}
