import { describe, expect, it } from 'vitest';
import { readBinaryproto } from './binaryproto.js';
import { readCaffemodel } from './caffemodel.js';
import { CaffeFormatError } from './errors.js';
import { decodeTextFile, parsePrototxt } from './prototxt.js';
import type { BlobProto, NetParameter } from './schema.js';
import { CAFFEMODELS, fixtureBytes, fixtureText, PROTOTXTS } from './testing/fixtures.js';
import { rawFields, type RawField } from './testing/wire-walk.js';
import { writeCaffemodel } from './writer.js';

/*
 * Seeded fuzzing of every reader: the fixtures' bytes are mutated at random (bit flips, byte
 * overwrites, truncations, insertions, deletions, duplicated chunks, and length fields rewritten
 * to lie, including gigabyte lengths), and every outcome must be either a successful decode or a
 * deliberate CaffeFormatError naming the file and a place inside it. Any other exception, a
 * wrapped internal error, or a large allocation fails the test with the seed and case to replay.
 */

// CAFFE_FUZZ_SEED / CAFFE_FUZZ_SCALE run other seeds or more cases (to hunt, or to replay a report).
const SEED = Number(process.env.CAFFE_FUZZ_SEED ?? 0x5eed_cafe);
const SCALE = Number(process.env.CAFFE_FUZZ_SCALE ?? 1);
const BINARY_CASES_PER_FILE = Math.round(320 * SCALE);
const TEXT_CASES_PER_FILE = Math.round(70 * SCALE);

/** mulberry32: small, fast, good enough to pick mutations reproducibly. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function varint(v: number): number[] {
  const out: number[] = [];
  while (v >= 128) {
    out.push((v % 128) | 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

function splice(bytes: Uint8Array, at: number, remove: number, insert: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(bytes.length - remove + insert.length);
  out.set(bytes.subarray(0, at), 0);
  out.set(insert, at);
  out.set(bytes.subarray(at + remove), at + insert.length);
  return out;
}

interface BinaryTarget {
  file: string;
  kind: 'caffemodel' | 'binaryproto';
  bytes: Uint8Array;
  /** Offsets outside blob payloads: where the structure is, and where mutations matter most. */
  structure: number[];
  /** Length-delimited fields of the net, its layers and their blobs. */
  lengths: RawField[];
}

function blobsOf(net: NetParameter): BlobProto[] {
  return [...(net.layer ?? []), ...(net.layers ?? [])].flatMap((l) => l.blobs ?? []);
}

function target(file: string, kind: 'caffemodel' | 'binaryproto'): BinaryTarget {
  // A plain Uint8Array: Buffer#slice would return views and let mutations leak into the original.
  const bytes = new Uint8Array(fixtureBytes(file));
  const blobs = kind === 'caffemodel' ? blobsOf(readCaffemodel(bytes, file)) : [readBinaryproto(bytes, file)];
  const payload = new Uint8Array(bytes.length);
  for (const b of blobs) payload.fill(1, b.byteOffset!, b.byteOffset! + b.data.byteLength);
  const structure: number[] = [];
  for (let i = 0; i < bytes.length; i++) if (!payload[i]) structure.push(i);
  const lengths: RawField[] = [];
  const isLen = (f: RawField) => f.wire === 2;
  if (kind === 'caffemodel') {
    for (const top of rawFields(bytes).filter(isLen)) {
      lengths.push(top);
      if (top.id !== 2 && top.id !== 100) continue;
      for (const field of rawFields(bytes, top.start, top.end).filter(isLen)) {
        lengths.push(field);
        const isBlob = (top.id === 100 && field.id === 7) || (top.id === 2 && field.id === 6);
        if (isBlob) lengths.push(...rawFields(bytes, field.start, field.end).filter(isLen));
      }
    }
  } else {
    lengths.push(...rawFields(bytes).filter(isLen));
  }
  return { file, kind, bytes, structure, lengths };
}

function mutate(t: BinaryTarget, random: () => number): { bytes: Uint8Array; how: string } {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const n = t.bytes.length;
  // Mostly aim at the structure; sometimes anywhere, payloads included.
  const spot = () => (random() < 0.8 ? pick(t.structure) : Math.floor(random() * n));
  const op = Math.floor(random() * 8);
  switch (op) {
    case 0: {
      const out = t.bytes.slice();
      const flips = 1 + Math.floor(random() * 4);
      for (let k = 0; k < flips; k++) out[spot()] ^= 1 << Math.floor(random() * 8);
      return { bytes: out, how: `flip ${flips} bits` };
    }
    case 1: {
      const out = t.bytes.slice();
      const at = spot();
      const values = [0x00, 0xff, 0x80, 0x7f, Math.floor(random() * 256)];
      const count = 1 + Math.floor(random() * 4);
      for (let k = 0; k < count && at + k < n; k++) out[at + k] = pick(values);
      return { bytes: out, how: `overwrite ${count} bytes at ${at}` };
    }
    case 2: {
      const cut = random() < 0.5 ? spot() : Math.floor(random() * n);
      return { bytes: t.bytes.subarray(0, cut), how: `truncate to ${cut}` };
    }
    case 3: {
      const at = spot();
      const insert = Array.from({ length: 1 + Math.floor(random() * 8) }, () => Math.floor(random() * 256));
      return { bytes: splice(t.bytes, at, 0, insert), how: `insert ${insert.length} at ${at}` };
    }
    case 4: {
      const at = spot();
      const count = Math.min(n - at, 1 + Math.floor(random() * 32));
      return { bytes: splice(t.bytes, at, count, []), how: `delete ${count} at ${at}` };
    }
    case 5:
    case 6: {
      // Make a real length field lie: slightly, to the file size, or to gigabytes.
      const f = pick(t.lengths);
      const len = f.end - f.start;
      const lies = [0, len - 1, len + 1, len + 4, len * 2, n, n + 1, 2 ** 31 - 1, 2 ** 32 - 1, Math.floor(random() * 2 ** 28)];
      const v = Math.max(0, pick(lies));
      const old = varint(len).length;
      return { bytes: splice(t.bytes, f.lengthAt, old, varint(v)), how: `length at ${f.lengthAt}: ${len} -> ${v}` };
    }
    default: {
      const from = spot();
      const count = Math.min(n - from, 1 + Math.floor(random() * 64));
      const to = spot();
      return { bytes: splice(t.bytes, to, 0, t.bytes.slice(from, from + count)), how: `duplicate ${count} from ${from} to ${to}` };
    }
  }
}

/** Checks a thrown value is a deliberate CaffeFormatError about `name`, else rethrows with context. */
function checkError(err: unknown, name: string, context: string, where: (e: CaffeFormatError) => void): void {
  if (!(err instanceof CaffeFormatError)) {
    throw new Error(`${context}: threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`, { cause: err });
  }
  // guardDecode's fallback wraps unexpected exceptions; none may occur.
  if (err.detail.startsWith('cannot decode:')) throw new Error(`${context}: internal error surfaced: ${err.message}`, { cause: err });
  if (err.file !== name) throw new Error(`${context}: error names ${String(err.file)}, not ${name}: ${err.message}`);
  where(err);
}

let peakArrayBuffers = 0;
function sampleMemory(): void {
  peakArrayBuffers = Math.max(peakArrayBuffers, process.memoryUsage().arrayBuffers);
}

describe('fuzzing the binary readers with mutated fixtures (seeded)', () => {
  const targets = [
    ...CAFFEMODELS.map((c) => target(c.file, 'caffemodel')),
    target('imagenet/imagenet_mean.binaryproto', 'binaryproto'),
  ];

  it.each(targets.map((t, i) => [t.file, t, i] as const))('%s: every mutation decodes or fails with a CaffeFormatError', (_f, t, index) => {
    const random = rng(SEED + index);
    const outcomes = { ok: 0, error: 0 };
    const largest = Math.max(...targets.map((x) => x.bytes.length));
    for (let c = 0; c < BINARY_CASES_PER_FILE; c++) {
      const { bytes, how } = mutate(t, random);
      const name = `${t.file}#${c}`;
      const context = `seed ${SEED + index} case ${c} (${how})`;
      try {
        if (t.kind === 'caffemodel') {
          const net = readCaffemodel(bytes, name);
          // Whatever decodes must also re-encode and decode to the same bytes.
          const again = writeCaffemodel(net, { format: net.layers ? 'V1' : 'V2' });
          const twice = writeCaffemodel(readCaffemodel(again, name), { format: net.layers ? 'V1' : 'V2' });
          if (!Buffer.from(again).equals(Buffer.from(twice))) throw new Error(`${context}: re-encoding is not stable`);
          for (const b of blobsOf(net)) if (b.data.byteLength > bytes.length) throw new Error(`${context}: blob larger than the file`);
        } else {
          const blob = readBinaryproto(bytes, name);
          if (blob.data.byteLength > bytes.length) throw new Error(`${context}: blob larger than the file`);
        }
        outcomes.ok++;
      } catch (err) {
        checkError(err, name, context, (e) => {
          if (e.offset === undefined || e.offset < 0 || e.offset > bytes.length) {
            throw new Error(`${context}: offset ${String(e.offset)} outside the file: ${e.message}`);
          }
        });
        outcomes.error++;
      }
      // Every few cases also read the mutant as the other binary kind and as text.
      if (c % 8 === 0) {
        for (const read of [
          () => (t.kind === 'caffemodel' ? readBinaryproto(bytes, name) : readCaffemodel(bytes, name)),
          () => parsePrototxt(decodeTextFile(bytes, name), name),
        ]) {
          try {
            read();
          } catch (err) {
            checkError(err, name, `${context} (cross-read)`, () => {});
          }
        }
      }
      sampleMemory();
    }
    expect(outcomes.ok + outcomes.error).toBe(BINARY_CASES_PER_FILE);
    expect(outcomes.error).toBeGreaterThan(BINARY_CASES_PER_FILE / 4);
    // Corrupt lengths must never make a reader allocate gigabytes (or the process would not be here);
    // the garbage of a few thousand decodes stays far below this.
    expect(peakArrayBuffers).toBeLessThan(512 * 1024 * 1024 + 4 * largest);
  });
});

describe('fuzzing the prototxt parser with mutated fixtures (seeded)', () => {
  const SYNTAX = ['{', '}', '<', '>', ':', '[', ']', ',', ';', '#', '"', "'", '\\', '-', '.', '0', '9', 'e', 'x', ' ', '\n', 'é', '\u0000', 'layer', 'inf'];

  it.each(PROTOTXTS.map((p, i) => [p.file, p, i] as const))('%s: every mutation parses or fails with line and column', (_f, p, index) => {
    const random = rng(SEED ^ (index + 1) * 7919);
    const original = fixtureText(p.file);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
    let errors = 0;
    for (let c = 0; c < TEXT_CASES_PER_FILE; c++) {
      const at = Math.floor(random() * original.length);
      const op = Math.floor(random() * 4);
      const text =
        op === 0
          ? original.slice(0, at) + pick(SYNTAX) + original.slice(at)
          : op === 1
            ? original.slice(0, at) + original.slice(at + 1 + Math.floor(random() * 8))
            : op === 2
              ? original.slice(0, at)
              : original.slice(0, at) + pick(SYNTAX) + original.slice(at + 1);
      const name = `${p.file}#${c}`;
      const context = `seed ${SEED ^ (index + 1) * 7919} case ${c} (op ${op} at ${at})`;
      try {
        parsePrototxt(text, name, p.type);
      } catch (err) {
        errors++;
        const lines = text.split('\n').length;
        checkError(err, name, context, (e) => {
          if (e.line === undefined || e.column === undefined || e.line < 1 || e.line > lines || e.column < 1) {
            throw new Error(`${context}: bad position ${String(e.line)}:${String(e.column)}: ${e.message}`);
          }
        });
      }
    }
    expect(errors).toBeGreaterThan(0);
  });
});
