import { describe, expect, it } from 'vitest';
import { readCaffemodel } from './caffemodel.js';
import { parsePrototxt } from './prototxt.js';
import { blobShape, blobShapeMatches, shapeCount, type BlobProto, type LayerParameter, type NetParameter } from './schema.js';
import { CAFFEMODELS, fixtureBytes, fixtureF32, fixtureText } from './testing/fixtures.js';
import { rawFields } from './testing/wire-walk.js';
import { upgradeNetParameter } from './upgrade.js';

function layersOf(net: NetParameter): { name?: string; type?: string; blobs?: BlobProto[] }[] {
  return net.layer ?? net.layers ?? [];
}

function v2Layers(net: NetParameter): LayerParameter[] {
  return upgradeNetParameter(net).net.layer ?? [];
}

/** The net with every blob's floats dropped: what the structure_*_no_blobs dumps contain. */
function withoutPayloads(net: NetParameter): NetParameter {
  const strip = (b: BlobProto): BlobProto => {
    const { byteOffset: _o, data: _d, ...rest } = b;
    return { ...rest, data: new Float32Array(0) };
  };
  return {
    ...net,
    ...(net.layer ? { layer: net.layer.map((l) => ({ ...l, ...(l.blobs ? { blobs: l.blobs.map(strip) } : {}) })) } : {}),
    ...(net.layers ? { layers: net.layers.map((l) => ({ ...l, ...(l.blobs ? { blobs: l.blobs.map(strip) } : {}) })) } : {}),
  };
}

function bytesOf(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

describe('readCaffemodel on every fixture model', () => {
  it.each(CAFFEMODELS)('$file decodes as $format with whole, finite blobs', ({ file, format }) => {
    const bytes = fixtureBytes(file);
    const net = readCaffemodel(bytes, file);
    expect(net.layers !== undefined ? 'V1' : 'V2').toBe(format);
    expect(format === 'V1' ? net.layer : net.layers).toBeUndefined();
    const blobs = layersOf(net).flatMap((l) => l.blobs ?? []);
    expect(blobs.length).toBeGreaterThan(0);
    let payload = 0;
    for (const b of blobs) {
      expect(b.data.length).toBe(shapeCount(blobShape(b)));
      expect(b.data.every(Number.isFinite)).toBe(true);
      payload += b.data.byteLength;
    }
    // Floats plus a little structure: nothing is duplicated or lost.
    expect(payload).toBeLessThan(bytes.length);
    expect(bytes.length - payload).toBeLessThan(4096);
  });

  it.each(CAFFEMODELS)('$file: payloads are views of the file where 4-byte aligned, copies elsewhere', ({ file }) => {
    const bytes = fixtureBytes(file);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const net = readCaffemodel(bytes, file);
    for (const b of layersOf(net).flatMap((l) => l.blobs ?? [])) {
      const at = b.byteOffset!;
      const aligned = (bytes.byteOffset + at) % 4 === 0;
      expect(b.data.buffer === bytes.buffer).toBe(aligned);
      // byteOffset is where the payload starts: the floats there are the blob's.
      expect(view.getFloat32(at, true)).toBe(b.data[0]);
      const last = b.data.length - 1;
      expect(view.getFloat32(at + 4 * last, true)).toBe(b.data[last]);
    }
  });

  it.each([
    ['caffenet_tiny/caffenet_tiny_v1.caffemodel', 'caffenet_tiny/structure_v1_caffemodel_no_blobs.prototxt'],
    ['caffenet_tiny/caffenet_tiny_v2.caffemodel', 'caffenet_tiny/structure_v2_caffemodel_no_blobs.prototxt'],
  ])('%s equals its text dump %s in every field but the floats', (model, dump) => {
    const net = readCaffemodel(fixtureBytes(model), model);
    const text = parsePrototxt(fixtureText(dump), dump) as NetParameter;
    expect(withoutPayloads(net)).toEqual(text);
  });

  it('lists the same top-level layers as a hand walk of the raw bytes', () => {
    for (const { file, format } of CAFFEMODELS) {
      const bytes = fixtureBytes(file);
      const top = rawFields(bytes);
      const layerField = format === 'V1' ? 2 : 100;
      const count = top.filter((f) => f.id === layerField).length;
      expect(layersOf(readCaffemodel(bytes, file)).length, file).toBe(count);
    }
  });

  it.each(CAFFEMODELS)('$file: weighted layers agree with $deploy (names, types, blob shapes)', ({ file, deploy }) => {
    const model = new Map(v2Layers(readCaffemodel(fixtureBytes(file), file)).map((l) => [l.name, l]));
    const def = v2Layers(parsePrototxt(fixtureText(deploy), deploy) as NetParameter);
    let checked = 0;
    for (const l of def) {
      if (!['Convolution', 'InnerProduct', 'PReLU'].includes(l.type!)) continue;
      const m = model.get(l.name);
      expect(m, `${deploy}: layer ${l.name} missing from ${file}`).toBeDefined();
      expect(m!.type).toBe(l.type);
      const blobs = m!.blobs!;
      if (l.type === 'PReLU') {
        expect(blobs.length).toBe(1);
        continue;
      }
      const p = (l.convolution_param ?? l.inner_product_param)!;
      const out = p.num_output!;
      expect(blobs.length).toBe(p.bias_term === false ? 1 : 2);
      const w = blobs[0];
      if (l.type === 'Convolution') {
        const k = l.convolution_param!.kernel_size![0];
        const inPerGroup = w.data.length / (out * k * k);
        expect(blobShapeMatches(w, [out, inPerGroup, k, k])).toBe(true);
      } else {
        expect(blobShapeMatches(w, [out, w.data.length / out])).toBe(true);
      }
      if (blobs[1]) expect(blobShapeMatches(blobs[1], [out])).toBe(true);
      checked++;
    }
    expect(checked).toBeGreaterThan(1);
  });

  it('caffenet_tiny has the 899,067 parameters its README states', () => {
    for (const file of ['caffenet_tiny/caffenet_tiny_v1.caffemodel', 'caffenet_tiny/caffenet_tiny_v2.caffemodel']) {
      const net = readCaffemodel(fixtureBytes(file), file);
      const n = layersOf(net).flatMap((l) => l.blobs ?? []).reduce((s, b) => s + b.data.length, 0);
      expect(n).toBe(899_067);
    }
  });

  it('V1 legacy dims are stored right-aligned as in the 2014 CaffeNet file: IP 1x1xOUTxIN, bias 1x1x1xN', () => {
    const net = readCaffemodel(fixtureBytes('caffenet_tiny/caffenet_tiny_v1.caffemodel'));
    const fc6 = net.layers!.find((l) => l.name === 'fc6')!;
    expect(blobShape(fc6.blobs![0])).toEqual([1, 1, 512, 1152]);
    expect(blobShape(fc6.blobs![1])).toEqual([1, 1, 1, 512]);
    expect(fc6.blobs![0].shape).toBeUndefined();
    const conv2 = net.layers!.find((l) => l.name === 'conv2')!;
    expect(blobShape(conv2.blobs![0])).toEqual([32, 6, 5, 5]);
    const cifar = readCaffemodel(fixtureBytes('real/cifar10_quick/model.caffemodel'));
    expect(blobShape(cifar.layers!.find((l) => l.name === 'ip1')!.blobs![0])).toEqual([1, 1, 64, 1024]);
  });

  it('V1 and V2 caffenet_tiny decode to the same net after upgrade (weights bit for bit)', () => {
    const v1 = v2Layers(readCaffemodel(fixtureBytes('caffenet_tiny/caffenet_tiny_v1.caffemodel')));
    const v2 = v2Layers(readCaffemodel(fixtureBytes('caffenet_tiny/caffenet_tiny_v2.caffemodel')));
    expect(v1.map((l) => l.name)).toEqual(v2.map((l) => l.name));
    for (let i = 0; i < v1.length; i++) {
      const { blobs: b1 = [], ...a } = v1[i];
      // `phase` is run-time state Caffe 1.0 writes into snapshots; V1 had no such field.
      const { blobs: b2 = [], phase, ...b } = v2[i];
      expect(phase).toBe('TRAIN');
      expect(a).toEqual(b);
      expect(b1.length).toBe(b2.length);
      for (let j = 0; j < b1.length; j++) {
        expect(blobShapeMatches(b1[j], blobShape(b2[j])), `${a.name} blob ${j}`).toBe(true);
        expect(Buffer.from(bytesOf(b1[j].data)).equals(bytesOf(b2[j].data))).toBe(true);
      }
    }
  });

  // Independent check of both the floats and their layout (W stored OUT x IN, row-major): OpenCV's
  // fc8 output must equal W * fc7 + b computed from the decoded weights.
  it.each([
    ['caffenet_tiny/caffenet_tiny_v1.caffemodel', 'fc8', 'caffenet_tiny/outputs/ultrasound_liver_0051/drop7.f32', 'caffenet_tiny/outputs/ultrasound_liver_0051/fc8.f32'],
    ['caffenet_tiny/caffenet_tiny_v2.caffemodel', 'fc8', 'caffenet_tiny/outputs/random_normal/drop7.f32', 'caffenet_tiny/outputs/random_normal/fc8.f32'],
    ['real/lenet/model.caffemodel', 'ip2', 'real/lenet/outputs/digit_2_1/relu1.f32', 'real/lenet/outputs/digit_2_1/ip2.f32'],
    ['real/cifar10_quick/model.caffemodel', 'ip2', 'real/cifar10_quick/outputs/cat10/ip1.f32', 'real/cifar10_quick/outputs/cat10/ip2.f32'],
  ])('%s: %s reproduces the reference output from its input', (file, layerName, inputFile, outputFile) => {
    const layer = v2Layers(readCaffemodel(fixtureBytes(file), file)).find((l) => l.name === layerName)!;
    const [w, b] = layer.blobs!;
    const x = fixtureF32(inputFile);
    const y = fixtureF32(outputFile);
    expect(w.data.length).toBe(y.length * x.length);
    let worst = 0;
    let scale = 0;
    for (let o = 0; o < y.length; o++) {
      let s = b.data[o];
      for (let i = 0; i < x.length; i++) s += w.data[o * x.length + i] * x[i];
      worst = Math.max(worst, Math.abs(s - y[o]));
      scale = Math.max(scale, Math.abs(y[o]));
    }
    expect(worst).toBeLessThan(1e-4 * Math.max(1, scale));
  });

  it('caffenet_tiny conv weights have the standard deviations index.json gives for their generator', () => {
    const stds: Record<string, number> = JSON.parse(fixtureText('caffenet_tiny/index.json')).weights.weight_std;
    const net = readCaffemodel(fixtureBytes('caffenet_tiny/caffenet_tiny_v2.caffemodel'));
    for (const [name, std] of Object.entries(stds)) {
      const w = net.layer!.find((l) => l.name === name)!.blobs![0].data;
      let ss = 0;
      for (const v of w) ss += v * v;
      const rms = Math.sqrt(ss / w.length);
      // Zero-mean gaussians: the sample RMS is within a few standard errors of the std.
      expect(Math.abs(rms / std - 1), name).toBeLessThan(6 / Math.sqrt(2 * w.length));
    }
  });
});

describe('readCaffemodel with alignInPlace (how loadModel reads a file it owns)', () => {
  it.each(CAFFEMODELS)('$file: the same values as a normal read, every float payload a view of the buffer', ({ file }) => {
    const expected = layersOf(readCaffemodel(fixtureBytes(file), file)).flatMap((l) => l.blobs ?? []);
    const owned = new Uint8Array(new SharedArrayBuffer(fixtureBytes(file).length));
    owned.set(fixtureBytes(file));
    const blobs = layersOf(readCaffemodel(owned, file, { alignInPlace: true })).flatMap((l) => l.blobs ?? []);
    expect(blobs.map((b) => blobShape(b))).toEqual(expected.map((b) => blobShape(b)));
    blobs.forEach((blob, i) => {
      // Buffer.equals, not toEqual: vitest's deep equality walks megabytes byte by byte (a minute under load).
      expect(Buffer.from(bytesOf(blob.data)).equals(bytesOf(expected[i]!.data)), `blob ${i}`).toBe(true);
      // Moved within the file's own buffer (over its tag and length), never copied out of it.
      if (blob.data.length > 32) expect(blob.data.buffer).toBe(owned.buffer);
    });
  });
});
