import { describe, expect, it } from 'vitest';
import { readBinaryproto } from './binaryproto.js';
import { decodeMessage, readCaffemodel } from './caffemodel.js';
import { CaffeFormatError } from './errors.js';
import { readNetPrototxtFile } from './prototxt.js';
import { fixtureBytes, fixturePath } from './testing/fixtures.js';
import { rawFields } from './testing/wire-walk.js';
import { encodeMessage } from './writer.js';

/** Runs `fn`, expecting a CaffeFormatError, and returns it. */
function caffeError(fn: () => unknown): CaffeFormatError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CaffeFormatError);
    return err as CaffeFormatError;
  }
  throw new Error('expected a CaffeFormatError, but the call succeeded');
}

function bytes(...parts: (number | number[] | Uint8Array)[]): Uint8Array {
  return new Uint8Array(parts.flatMap((p) => (typeof p === 'number' ? [p] : Array.from(p))));
}

const ascii = (s: string) => new TextEncoder().encode(s);

/** A varint's bytes. */
function varint(v: number): number[] {
  const out: number[] = [];
  while (v >= 128) {
    out.push((v % 128) | 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

describe('CaffeFormatError', () => {
  it('formats file, line, column, layer, blob and offset into the message', () => {
    const e = new CaffeFormatError('bad thing', { file: 'a.prototxt', line: 3, column: 7, layer: 'conv1', blob: 1, offset: 99 });
    expect(e.name).toBe('CaffeFormatError');
    expect(e.message).toBe('a.prototxt:3:7: bad thing (layer "conv1", blob 1, byte offset 99)');
    expect(e).toBeInstanceOf(Error);
    expect([e.file, e.line, e.column, e.layer, e.blob, e.offset, e.detail]).toEqual(['a.prototxt', 3, 7, 'conv1', 1, 99, 'bad thing']);
  });
});

describe('readCaffemodel refuses bad files with a CaffeFormatError naming the file and the place', () => {
  const lenet = () => fixtureBytes('real/lenet/model.caffemodel');

  it('an empty file', () => {
    const e = caffeError(() => readCaffemodel(new Uint8Array(0), 'empty.caffemodel'));
    expect(e.message).toBe('empty.caffemodel: is empty (0 bytes) (byte offset 0)');
  });

  it('a truncated file, cut inside a blob payload or inside the header', () => {
    const full = lenet();
    const blobAt = rawFields(full).find((f) => f.id === 100 && f.end - f.start > 1000)!;
    // 7 bytes is the net's name alone: a file cut before its first layer.
    for (const cut of [blobAt.start + 500, full.length - 1, 7]) {
      const e = caffeError(() => readCaffemodel(full.subarray(0, cut), 'cut.caffemodel'));
      expect(e.file).toBe('cut.caffemodel');
      expect(e.message).toMatch(/truncated/);
      expect(e.offset).toBeGreaterThanOrEqual(0);
      expect(e.offset).toBeLessThanOrEqual(cut);
    }
    // The cut is found at the length of the layer it falls in, which the error names.
    const ip2 = rawFields(full).filter((f) => f.id === 100)[7];
    const inIp2 = caffeError(() => readCaffemodel(full.subarray(0, ip2.end - 10), 'cut.caffemodel'));
    expect(inIp2.layer).toBe('ip2');
    expect(inIp2.offset).toBe(ip2.lengthAt);
    expect(caffeError(() => readCaffemodel(full.subarray(0, full.length - 1), 'cut.caffemodel')).layer).toBe('loss');
  });

  it('an HTML page saved as a model', () => {
    const page = ascii('<!DOCTYPE html>\n<html lang="en"><head><title>Sign in</title></head><body></body></html>');
    expect(caffeError(() => readCaffemodel(page, 'model.caffemodel')).message).toMatch(/HTML page.*web page/);
  });

  it('a Git LFS pointer file', () => {
    const pointer = ascii(
      'version https://git-lfs.github.com/spec/v1\noid sha256:8d1e0b6a5e6f2b1c0e8b5a0c4b2b3f6f6f1e8f3c0a9d2b4c5e6f7a8b9c0d1e2f\nsize 243862418\n',
    );
    const e = caffeError(() => readCaffemodel(pointer, 'bvlc_reference_caffenet.caffemodel'));
    expect(e.message).toMatch(/Git LFS pointer file standing in for a 243862418-byte file.*git lfs pull/);
    expect(e.offset).toBe(0);
  });

  it('a prototxt given as weights, and weights given as a prototxt', () => {
    const e = caffeError(() => readCaffemodel(fixtureBytes('caffenet_tiny/deploy.prototxt'), 'deploy.prototxt'));
    expect(e.message).toMatch(/protobuf text format \(starts with "# CaffeNet-shaped.*\.prototxt given where a binary \.caffemodel/);
    const back = caffeError(() => readNetPrototxtFile(fixturePath('real/lenet/model.caffemodel')));
    expect(back.file).toMatch(/model\.caffemodel$/);
    expect(back.message).toMatch(/binary data/);
    expect(back.offset).toBeGreaterThanOrEqual(0);
  });

  it('a mean file given as weights', () => {
    const e = caffeError(() => readCaffemodel(fixtureBytes('imagenet/imagenet_mean.binaryproto'), 'mean.caffemodel'));
    expect(e.message).toMatch(/single BlobProto.*readBinaryproto/);
  });

  it('an HDF5 snapshot', () => {
    const h5 = bytes([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0]);
    expect(caffeError(() => readCaffemodel(h5, 'snap.caffemodel.h5')).message).toMatch(/HDF5 file/);
  });

  it('a net with both V2 layer and V1 layers', () => {
    const mixed = encodeMessage({ name: 'm', layer: [{ name: 'a' }], layers: [{ name: 'b' }] }, 'NetParameter');
    const e = caffeError(() => readCaffemodel(mixed, 'mixed.caffemodel'));
    expect(e.message).toMatch(/both V2 'layer' \(1\) and legacy V1 'layers' \(1\)/);
    // Field-number order puts `layers` (2) first; the error points at the first `layer` (100).
    expect(e.offset).toBe(rawFields(mixed).find((f) => f.id === 100)!.tagAt);
  });

  it('a message with no layers', () => {
    expect(caffeError(() => readCaffemodel(bytes(0x0a, 0x01, 0x41), 'x.caffemodel')).message).toMatch(/holds no layers/);
  });

  it('a length pointing past the end of the file, demanding gigabytes, is refused before any allocation', () => {
    const e = caffeError(() => readCaffemodel(bytes(0xa2, 0x06, varint(2 ** 31)), 'huge.caffemodel'));
    expect(e.message).toMatch(/announces 2147483648 bytes but only 0 remain in the file .*truncated or corrupt/);
    expect(e.offset).toBe(2);
    const e2 = caffeError(() => readCaffemodel(bytes(0xa2, 0x06, [0xff, 0xff, 0xff, 0xff, 0x7f]), 'huger.caffemodel'));
    expect(e2.message).toMatch(/length does not fit in 32 bits/);
  });

  it('a blob payload length corrupted to exceed its layer (nested bounds, not just the file end)', () => {
    const full = lenet();
    const layer = rawFields(full).find((f) => f.id === 100 && f.end - f.start > 1000)!;
    const blob = rawFields(full, layer.start, layer.end).find((f) => f.id === 7)!;
    const data = rawFields(full, blob.start, blob.end).find((f) => f.id === 5)!;
    const oldLen = varint(data.end - data.start);
    const corrupted = bytes(full.subarray(0, data.lengthAt), varint(data.end - data.start + 64), full.subarray(data.lengthAt + oldLen.length));
    const e = caffeError(() => readCaffemodel(corrupted, 'corrupt.caffemodel'));
    expect(e.message).toMatch(/announces \d+ bytes but only \d+ remain in its enclosing message/);
    expect(e.offset).toBe(data.lengthAt);
    expect(e.layer).toBe('conv1');
    expect(e.blob).toBe(0);
  });

  it.each([
    ['a varint longer than 10 bytes', bytes(0x20, Array(11).fill(0xff), 0x01), /varint longer than 10 bytes/, 1],
    ['field number 0', bytes(0x00, 0x00), /field number 0/, 0],
    ['a known field with the wrong wire type', bytes(0x0d, 1, 2, 3, 4), /NetParameter.name \(1\) has wire type fixed32, expected length-delimited/, 0],
    ['wire type 6 on a known field', bytes(0x0e, 0x00), /NetParameter.name \(1\) has wire type invalid \(6\)/, 0],
    ['wire type 7 on an unknown field', bytes(0x0a, 0x01, 0x41, 0x97, 0x03, 0x00), /invalid wire type 7 for field 50/, 3],
    ['an int32 out of range', bytes(0x20, varint(2 ** 33)), /out of range for int32 field NetParameter.input_dim/, 1],
  ] as [string, Uint8Array, RegExp, number][])('%s', (_label, data, message, offset) => {
    const e = caffeError(() => readCaffemodel(data, 'bad.caffemodel'));
    expect(e.message).toMatch(message);
    expect(e.offset).toBe(offset);
  });

  it('an unknown V1 layer type, naming the layer', () => {
    const layer = bytes(0x22, 0x02, ascii('c1'), 0x28, 99);
    const e = caffeError(() => readCaffemodel(bytes(0x12, layer.length, layer), 'v1.caffemodel'));
    expect(e.message).toMatch(/unknown value 99 for enum V1LayerType/);
    expect(e.layer).toBe('c1');
    expect(e.offset).toBe(7);
  });

  it('a blob whose payload does not fit its shape, naming layer and blob', () => {
    const model = encodeMessage(
      { layer: [{ name: 'ip', blobs: [{ shape: { dim: [2] }, data: new Float32Array(2) }, { shape: { dim: [3] }, data: new Float32Array(2) }] }] },
      'NetParameter',
    );
    const e = caffeError(() => readCaffemodel(model, 'shape.caffemodel'));
    expect(e.message).toMatch(/blob holds 2 values but its shape \[3\] needs 3/);
    expect([e.layer, e.blob]).toEqual(['ip', 1]);
  });

  it('a packed float payload whose length is not a multiple of 4', () => {
    const blob = bytes(0x2a, 0x03, 1, 2, 3);
    const e = caffeError(() => readBinaryproto(blob, 'odd.binaryproto'));
    expect(e.message).toMatch(/payload of 3 bytes is not a multiple of 4/);
  });

  it('decodeMessage reports errors with the file name too', () => {
    const e = caffeError(() => decodeMessage(bytes(0x1a, 0x05, 0x01), 'SolverState', 'x.solverstate'));
    expect(e.file).toBe('x.solverstate');
    expect(e.offset).toBe(1);
  });
});
