import { describe, expect, it } from 'vitest';
import { NetError } from './errors.js';
import { Net } from './net.js';
import type { NetDef } from './net-def.js';

/** Input [1, 1, side, side] -> 3x3 convolution to 2 channels -> ReLU in place. */
function convNet(side: number): NetDef {
  return {
    name: 'small',
    layers: [
      { name: 'data', type: 'Input', top: ['data'], input: { shape: [{ dim: [1, 1, side, side] }] } },
      { name: 'conv', type: 'Convolution', bottom: ['data'], top: ['conv'], convolution: { numOutput: 2, kernelSize: 3 } },
      { name: 'relu', type: 'ReLU', bottom: ['conv'], top: ['conv'] },
    ],
  };
}

describe('the memory a net needs', () => {
  it('is estimated as its blobs, its parameters and the largest im2col buffer (by hand for a 5 x 5 input)', () => {
    const net = new Net(convNet(5));
    // data 25 + conv top 2 x 3 x 3 = 18 (ReLU in place: the same blob) + weight 18 + bias 2 = 63 floats;
    // im2col columns: (1 channel x 3 x 3) rows x (3 x 3) positions = 81 floats, one image so one thread.
    expect(net.memoryEstimate()).toEqual({ bytes: (63 + 81) * 4, blobs: 63 * 4, workspace: 81 * 4, workspaceLayer: 'conv' });
  });

  it('beyond the limit refuses the net at setup, naming the need, the biggest buffer and an input that fits', () => {
    // At 1000 x 1000: blobs 1e6 + 2 x 998^2 + 20 floats, columns 9 x 998^2: about 47.8 MB.
    const attempt = () => new Net(convNet(1000), { memoryLimit: 12e6 });
    expect(attempt).toThrow(NetError);
    expect(attempt).toThrow(
      "net 'small' needs about 48 MB at input data [1,1,1000,1000] (blobs and parameters 12 MB, the im2col columns of 'conv' 36 MB), more than the 12 MB of memory here: an input of about 500 x 500 fits",
    );
    // What it says fits, fits.
    expect(() => new Net(convNet(500), { memoryLimit: 12e6 })).not.toThrow();
  });

  it('checks again when the input is reshaped, and names a layer whose output cannot be allocated at all', () => {
    const net = new Net(convNet(8), { memoryLimit: 12e6 });
    net.blob('data').reshape([1, 1, 1000, 1000]);
    expect(() => net.reshape()).toThrow(/^net 'small' needs about 48 MB at input data \[1,1,1000,1000\]/);
    // 10^6 filters over a 100 x 100 input: an output of 10^6 x 98^2 floats (38 GB), past what the
    // engine makes as one typed array, while the weights (9 x 10^6 floats) are fine.
    const wide = convNet(100);
    wide.layers[1]!.convolution = { numOutput: 1_000_000, kernelSize: 3 };
    expect(() => new Net(wide, { memoryLimit: Infinity })).toThrow(
      /^layer 'conv' \(bottom data \[1,1,100,100\]\): its output cannot be allocated \(.+\): the input is too large$/,
    );
  });
});
