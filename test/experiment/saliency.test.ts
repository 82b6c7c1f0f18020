import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel } from '@cnn/caffe-import';
import { Net, type NetDef } from '@cnn/nn';
import { Rng, shutdownPool } from '@cnn/tensor';
import { gradCam, lastConvolution, mapCorrelation, occlusionMap, overlaySaliency, resizeMap, SaliencyError, SHIPPED_BASE } from '@cnn/experiment';
import { mobilenetRecipe, toNetInput } from '@cnn/experiment/data';
import { shared } from './paths.js';

afterAll(async () => {
  await shutdownPool();
});

/** One of the MobileNet fixture's exact 192 x 192 photos, preprocessed for the shipped base. */
function photo(name: string): Float32Array {
  const pixels = new Uint8Array(readFileSync(shared(`fixtures/imagenet/mobilenet_v1_0.75_192/inputs/${name}.rgb`)));
  return toNetInput({ width: 192, height: 192, channels: 3, data: pixels }, mobilenetRecipe(192));
}

describe('Grad-CAM', () => {
  const { net } = loadModel({ prototxt: SHIPPED_BASE.prototxt, weights: SHIPPED_BASE.weights });

  it("on MobileNet's last convolution equals CAM computed from fc7's weights (global average pool, then one linear layer)", () => {
    expect(lastConvolution(net)).toBe('conv6/sep');
    const bird = 20; // the fixture's top-1 for bird.rgb: chickadee
    const result = gradCam(net, photo('bird'), 'conv6/sep', bird);
    expect(result.scoreBlob).toBe('fc7');
    expect([result.width, result.height, result.coarse.width, result.coarse.height]).toEqual([192, 192, 6, 6]);
    // By hand: d fc7_c / d A_k[i,j] = w_ck / 36, so the map is ReLU(sum_k w_ck A_k[i,j]) up to scale.
    net.setBatchSize(1);
    net.blob('data').data.data.set(photo('bird'));
    net.forward({ to: 'pool6' });
    const a = net.blob('conv6/sep').data.data;
    const w = net.layer('fc7').params[0]!.data.data;
    const cam = new Float64Array(36);
    for (let k = 0; k < 768; k++) for (let p = 0; p < 36; p++) cam[p] += w[bird * 768 + k]! * a[k * 36 + p]!;
    const max = Math.max(...cam);
    cam.forEach((v, p) => expect(result.coarse.values[p]).toBeCloseTo(Math.max(0, v) / max, 5));
    // The parameter gradients the backward passes added are cleared.
    expect(net.layer('fc7').params[0]!.diff.data.every((v) => v === 0)).toBe(true);
  });

  it('weights each map by the mean of its gradient, as finite differences of the class score measure it', () => {
    const def: NetDef = {
      name: 'small',
      layers: [
        { name: 'data', type: 'Input', top: ['data'], input: { shape: [{ dim: [1, 2, 9, 9] }] } },
        { name: 'conv1', type: 'Convolution', bottom: ['data'], top: ['conv1'], convolution: { numOutput: 3, kernelSize: 3, weightFiller: { type: 'gaussian', std: 0.5 }, biasFiller: { type: 'constant', value: 0.1 } } },
        { name: 'relu1', type: 'ReLU', bottom: ['conv1'], top: ['conv1'] },
        { name: 'conv2', type: 'Convolution', bottom: ['conv1'], top: ['conv2'], convolution: { numOutput: 4, kernelSize: 3, pad: 1, weightFiller: { type: 'gaussian', std: 0.5 } } },
        { name: 'relu2', type: 'ReLU', bottom: ['conv2'], top: ['conv2'] },
        { name: 'pool', type: 'Pooling', bottom: ['conv2'], top: ['pool'], pooling: { pool: 'MAX', kernelSize: 2, stride: 2 } },
        { name: 'fc', type: 'InnerProduct', bottom: ['pool'], top: ['fc'], innerProduct: { numOutput: 3, weightFiller: { type: 'gaussian', std: 0.5 } } },
        { name: 'prob', type: 'Softmax', bottom: ['fc'], top: ['prob'] },
      ],
    };
    const small = new Net(def, { dtype: 'float64', seed: 5 });
    const rng = new Rng(9);
    const input = Float32Array.from({ length: 2 * 81 }, () => rng.uniform(-1, 1));
    // Numerically: alpha_k = mean over (i, j) of (y_c(A + h e) - y_c(A - h e)) / 2h, A after relu1.
    let positive = 0;
    for (let c = 0; c < 3; c++) {
      const result = gradCam(small, input, 'conv1', c);
      expect(result.values).toHaveLength(81);
      small.blob('data').data.data.set(input);
      small.forward();
      const a = small.blob('conv1').data.data;
      const score = (): number => (small.forward({ from: 'conv2', to: 'fc' }), small.blob('fc').data.data[c]!);
      const h = 1e-6;
      const expected = new Float64Array(49);
      for (let k = 0; k < 3; k++) {
        let alpha = 0;
        for (let p = 0; p < 49; p++) {
          const kept = a[k * 49 + p]!;
          a[k * 49 + p] = kept + h;
          const up = score();
          a[k * 49 + p] = kept - h;
          const down = score();
          a[k * 49 + p] = kept;
          alpha += (up - down) / (2 * h) / 49;
        }
        for (let p = 0; p < 49; p++) expected[p] += alpha * a[k * 49 + p]!;
      }
      // No location speaking for the class gives an all-zero map.
      const max = Math.max(...expected);
      if (max > 0) positive++;
      expected.forEach((v, p) => expect(result.coarse.values[p], `class ${c}, position ${p}`).toBeCloseTo(max > 0 ? Math.max(0, v) / max : 0, 5));
    }
    expect(positive).toBeGreaterThan(0);
  });

  it('agrees with an occlusion map on photos (independent: forward passes only, no gradients)', () => {
    for (const [name, label] of [['bird', 20], ['parrot', 89]] as const) {
      const input = photo(name);
      const cam = gradCam(net, input, 'conv6/sep', label);
      const occlusion = occlusionMap(net, input, label, { patch: 40, stride: 20 });
      const r = mapCorrelation(resizeMap(cam.coarse, 20, 20), resizeMap(occlusion, 20, 20));
      expect(r, name).toBeGreaterThan(0.5);
    }
  }, 120_000);

  it('names the layer, class or input size it cannot use', () => {
    expect(() => gradCam(net, photo('bird'), 'conv9', 1)).toThrow(/has no layer 'conv9'/);
    expect(() => gradCam(net, photo('bird'), 'conv6/sep', 1001)).toThrow(/class 1001 is outside 0..1000 of blob 'fc7'/);
    expect(() => gradCam(net, new Float32Array(10), 'conv6/sep', 1)).toThrow(SaliencyError);
  });
});

describe('saliency overlay', () => {
  it('leaves the image untouched where the map is 0 and blends the heat colour by the opacity where it is 1', () => {
    const image = { width: 2, height: 1, channels: 1 as const, data: new Uint8Array([100, 100]) };
    const { rgba } = overlaySaliency(image, { values: new Float32Array([0, 1]), width: 2, height: 1 }, 0.5);
    expect([...rgba.subarray(0, 4)]).toEqual([100, 100, 100, 255]);
    // The ramp's top is (255, 255, 200): half of it and half of 100.
    expect([...rgba.subarray(4, 8)]).toEqual([178, 178, 150, 255]);
  });
});
