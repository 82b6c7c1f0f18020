import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writer } from 'protobufjs/minimal.js';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { readCaffemodel, readCaffemodelFile } from './caffemodel.js';
import { CaffeFormatError } from './errors.js';
import { parseNetPrototxt, readNetPrototxtFile } from './prototxt.js';
import { blobShape, type BlobProto, type NetParameter } from './schema.js';
import { CAFFEMODELS, fixtureBytes, fixtureText } from './testing/fixtures.js';
import { upgradeNetParameter } from './upgrade.js';
import { downgradeToV1, encodeMessage, formatPrototxt, writeCaffemodel, writeCaffemodelFile, writePrototxtFile } from './writer.js';

/**
 * A copy of a net for comparison: blob payload offsets differ between files and are dropped, and
 * payloads become a digest of their exact bytes (comparing millions of floats one by one through
 * toEqual takes seconds).
 */
function comparable(net: NetParameter): unknown {
  const strip = (b: BlobProto) => {
    const { byteOffset: _o, data, ...rest } = b;
    return { ...rest, data: `${data.length} floats, sha256 ${createHash('sha256').update(floatBytes(data)).digest('hex')}` };
  };
  const fixLayers = <T extends { blobs?: BlobProto[] }>(ls?: T[]) =>
    ls?.map((l) => (l.blobs ? { ...l, blobs: l.blobs.map(strip) } : l));
  return { ...net, ...(net.layer ? { layer: fixLayers(net.layer) } : {}), ...(net.layers ? { layers: fixLayers(net.layers) } : {}) };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function floatBytes(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

const tmp = mkdtempSync(path.join(tmpdir(), 'caffe-import-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('writeCaffemodel', () => {
  // Field-number order, packed payloads and proto2 encodings exactly as Caffe's C++ protobuf writes
  // them: re-encoding a decoded file gives back the file.
  it.each([
    ['real/lenet/model.caffemodel', 'V2'],
    ['real/cifar10_quick/model.caffemodel', 'V1'],
    ['caffenet_tiny/caffenet_tiny_v1.caffemodel', 'V1'],
    ['caffenet_tiny/caffenet_tiny_v2.caffemodel', 'V2'],
  ] as const)('re-encodes %s byte for byte (%s)', (file, format) => {
    const bytes = fixtureBytes(file);
    expect(sameBytes(writeCaffemodel(readCaffemodel(bytes, file), { format }), bytes)).toBe(true);
  });

  it.each(CAFFEMODELS)('read-write-read of $file is exact in its own format and after upgrading to V2', ({ file, format }) => {
    const net = readCaffemodel(fixtureBytes(file), file);
    const again = readCaffemodel(writeCaffemodel(net, { format }));
    expect(comparable(again)).toEqual(comparable(net));
    const asV2 = readCaffemodel(writeCaffemodel(net));
    expect(asV2.layers).toBeUndefined();
    expect(comparable(asV2)).toEqual(comparable(upgradeNetParameter(net).net));
  });

  it('drops fields outside the schema (the MTCNN custom loss parameter) but keeps everything else', () => {
    const bytes = fixtureBytes('real/mtcnn_det1_pnet/model.caffemodel');
    const out = writeCaffemodel(readCaffemodel(bytes));
    // 9 bytes: one unknown length-delimited field of the custom JfdaLoss layer.
    expect(bytes.length - out.length).toBe(9);
    expect(sameBytes(out.subarray(0, 29000), bytes.subarray(0, 29000))).toBe(true);
  });

  it('writes a V2 net in the legacy V1 layout of the 2014 CaffeNet file', () => {
    const v2 = readCaffemodel(fixtureBytes('caffenet_tiny/caffenet_tiny_v2.caffemodel'));
    const written = readCaffemodel(writeCaffemodel(v2, { format: 'V1' }));
    const reference = readCaffemodel(fixtureBytes('caffenet_tiny/caffenet_tiny_v1.caffemodel'));
    expect(written.layer).toBeUndefined();
    const fc6 = written.layers!.find((l) => l.name === 'fc6')!;
    expect(fc6.type).toBe('INNER_PRODUCT');
    expect(fc6.blobs!.map(blobShape)).toEqual([[1, 1, 512, 1152], [1, 1, 1, 512]]);
    expect(fc6.blobs![0].shape).toBeUndefined();
    expect(fc6.blobs_lr).toEqual([1, 2]);
    expect(fc6.weight_decay).toEqual([1, 0]);
    // Every layer but the data layer (whose V1 file keeps the deprecated data_param fields) is
    // identical to the V1 reference file, weights included.
    expect(written.layers!.length).toBe(reference.layers!.length);
    const { layers: w, ...wNet } = comparable(written) as NetParameter;
    const { layers: r, ...rNet } = comparable(reference) as NetParameter;
    expect(wNet).toEqual(rNet);
    expect(w!.slice(1)).toEqual(r!.slice(1));
    expect(upgradeNetParameter(written).net.layer![0]).toEqual({ ...v2.layer![0], phase: undefined });
  });

  it('writes an Input layer as V1 net inputs: the V2 caffenet_tiny deploy becomes its V1 deploy', () => {
    const v2 = parseNetPrototxt(fixtureText('caffenet_tiny/deploy.prototxt'));
    expect(downgradeToV1(v2)).toEqual(parseNetPrototxt(fixtureText('caffenet_tiny/deploy_v1.prototxt')));
    const nonImage = downgradeToV1({ layer: [{ name: 'in', type: 'Input', top: ['x'], input_param: { shape: [{ dim: [2, 7] }] } }] });
    expect(nonImage).toEqual({ input: ['x'], input_shape: [{ dim: [2, 7] }] });
  });

  it('writes 64 MB of weights as one raw copy, not float by float, and reads them back bit for bit', () => {
    const n = 16 * 1024 * 1024;
    const data = new Float32Array(n);
    for (let i = 0; i < n; i += 4093) data[i] = i * 0.5;
    const net: NetParameter = { layer: [{ name: 'big', type: 'InnerProduct', blobs: [{ shape: { dim: [4096, n / 4096] }, data }] }] };
    const perFloat = vi.spyOn(Writer.prototype, 'float');
    const packed = vi.spyOn(Writer.prototype, 'floats');
    const t0 = performance.now();
    const bytes = writeCaffemodel(net);
    const elapsed = performance.now() - t0;
    expect(perFloat).not.toHaveBeenCalled();
    expect(packed).not.toHaveBeenCalled();
    perFloat.mockRestore();
    packed.mockRestore();
    // Generous: the copy itself takes well under a second; a 244 MB model must write in seconds.
    expect(elapsed).toBeLessThan(5000);
    const back = readCaffemodel(bytes).layer![0].blobs![0];
    expect(sameBytes(floatBytes(back.data), floatBytes(data))).toBe(true);
  });

  it('writes and reads files on disk', () => {
    const net = readCaffemodel(fixtureBytes('real/lenet/model.caffemodel'));
    const model = path.join(tmp, 'lenet.caffemodel');
    const proto = path.join(tmp, 'lenet.prototxt');
    writeCaffemodelFile(model, net);
    writePrototxtFile(proto, net, 'NetParameter', { omitBlobs: true });
    expect(comparable(readCaffemodelFile(model))).toEqual(comparable(net));
    const text = readNetPrototxtFile(proto);
    expect(text.layer!.map((l) => l.name)).toEqual(net.layer!.map((l) => l.name));
    expect(text.layer!.every((l) => l.blobs === undefined)).toBe(true);
  });

  it('a written prototxt with blobs carries the weights exactly', () => {
    const net = readCaffemodel(fixtureBytes('real/mtcnn_det1_pnet/model.caffemodel'));
    expect(comparable(parseNetPrototxt(formatPrototxt(net)))).toEqual(comparable(net));
  });

  it.each([
    ['a type V1 lacks', { layer: [{ name: 'bn', type: 'BatchNorm' }] }, /layer type "BatchNorm" has no V1 equivalent/],
    ['a field V1 lacks', { layer: [{ name: 'r', type: 'ReLU', propagate_down: [true] }] }, /field propagate_down has no V1 equivalent/],
    [
      'a 5-axis blob',
      { layer: [{ name: 'c', type: 'Convolution', blobs: [{ shape: { dim: [1, 2, 3, 4, 5] }, data: new Float32Array(120) }] }] },
      /5-axis blob \[1,2,3,4,5\] cannot be written with V1 legacy dims/,
    ],
  ] as [string, NetParameter, RegExp][])('refuses to write %s as V1', (_label, net, message) => {
    expect(() => writeCaffemodel(net, { format: 'V1', file: 'out.caffemodel' })).toThrow(CaffeFormatError);
    expect(() => writeCaffemodel(net, { format: 'V1', file: 'out.caffemodel' })).toThrow(message);
  });

  it('refuses values that do not fit their fields', () => {
    expect(() => encodeMessage({ input_dim: [1.5] }, 'NetParameter')).toThrow(/must be an integer/);
    expect(() => encodeMessage({ layer: [{ phase: 'VALIDATION' }] }, 'NetParameter')).toThrow(/unknown value VALIDATION for enum Phase/);
    expect(() => encodeMessage({ layer: [{ convolution_param: { num_output: -1 } }] }, 'NetParameter')).toThrow(/unsigned/);
    expect(() => encodeMessage({ name: 3 }, 'NetParameter')).toThrow(CaffeFormatError);
  });

  it('encodes negative int64 and int32 values as 10-byte varints, as protobuf does', () => {
    const bytes = encodeMessage({ random_seed: -1 }, 'SolverParameter');
    expect(Array.from(bytes)).toEqual([0xa0, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  });
});
