import { describe, expect, it } from 'vitest';
import { readBinaryproto, readBinaryprotoFile } from './binaryproto.js';
import { CaffeFormatError } from './errors.js';
import { blobShape } from './schema.js';
import { fixtureBytes, fixturePath } from './testing/fixtures.js';
import { rawFields } from './testing/wire-walk.js';
import { encodeMessage } from './writer.js';
import { parsePrototxt } from './prototxt.js';

const MEAN = 'imagenet/imagenet_mean.binaryproto';

describe('readBinaryproto', () => {
  it('reads the ImageNet mean as a legacy 1x3x256x256 blob', () => {
    const blob = readBinaryprotoFile(fixturePath(MEAN));
    expect(blobShape(blob)).toEqual([1, 3, 256, 256]);
    expect(blob.shape).toBeUndefined();
    expect(blob.data.length).toBe(3 * 256 * 256);
  });

  it('matches an independent walk of the raw bytes, value for value', () => {
    const bytes = fixtureBytes(MEAN);
    const fields = rawFields(bytes);
    // num=1, channels=2, height=3, width=4 as varints, then the packed floats in field 5.
    expect(fields.filter((f) => f.id <= 4).map((f) => [f.id, f.value])).toEqual([[1, 1], [2, 3], [3, 256], [4, 256]]);
    const payload = fields.find((f) => f.id === 5)!;
    const view = new DataView(bytes.buffer, bytes.byteOffset + payload.start, payload.end - payload.start);
    const blob = readBinaryproto(bytes, MEAN);
    expect(blob.byteOffset).toBe(payload.start);
    expect(view.byteLength).toBe(blob.data.length * 4);
    for (let i = 0; i < blob.data.length; i += 4099) expect(blob.data[i]).toBe(view.getFloat32(i * 4, true));
  });

  it('has the per-channel BGR means Caffe documents: 104.007, 116.669, 122.679', () => {
    const { data } = readBinaryproto(fixtureBytes(MEAN), MEAN);
    const plane = 256 * 256;
    const means = [0, 1, 2].map((c) => data.subarray(c * plane, (c + 1) * plane).reduce((s, v) => s + v, 0) / plane);
    expect(means[0]).toBeCloseTo(104.007, 3);
    expect(means[1]).toBeCloseTo(116.669, 3);
    expect(means[2]).toBeCloseTo(122.679, 3);
  });

  it('converts double_data to float data', () => {
    const bytes = encodeMessage({ shape: { dim: [3] }, data: new Float32Array(0) }, 'BlobProto');
    // Append a packed double_data (field 8) by hand: 1.5, -2, 0.1.
    const doubles = new Float64Array([1.5, -2, 0.1]);
    const extra = new Uint8Array([0x42, 24, ...new Uint8Array(doubles.buffer)]);
    const blob = readBinaryproto(new Uint8Array([...bytes, ...extra]), 'doubles.binaryproto');
    expect(Array.from(blob.data)).toEqual([1.5, -2, Math.fround(0.1)]);
  });

  it('refuses a caffemodel, an empty blob and an .npy array with a message saying what they are', () => {
    const asNet = () => readBinaryproto(fixtureBytes('real/lenet/model.caffemodel'), 'model.caffemodel');
    expect(asNet).toThrow(CaffeFormatError);
    expect(asNet).toThrow(/NetParameter \(a \.caffemodel\).*readCaffemodel/);
    expect(() => readBinaryproto(new Uint8Array([0x08, 0x01]), 'e.binaryproto')).toThrow(/holds no data/);
    const npy = new Uint8Array([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    expect(() => readBinaryproto(npy, 'mean.npy')).toThrow(/NumPy \.npy array/);
  });
});

describe('BlobShape', () => {
  it('an empty shape is a scalar, with dim present, from binary and from text', () => {
    // shape {} (field 7, length 0) then one float.
    const blob = readBinaryproto(new Uint8Array([0x3a, 0x00, 0x2d, 0, 0, 0x80, 0x3f]), 'scalar.binaryproto');
    expect(blob.shape).toEqual({ dim: [] });
    expect(blobShape(blob)).toEqual([]);
    expect(Array.from(blob.data)).toEqual([1]);
    const text = parsePrototxt('shape {} data: 1', 't', 'BlobProto');
    expect(text).toEqual({ shape: { dim: [] }, data: new Float32Array([1]) });
  });
});
