import { formatPrototxt, toNetParameter, writeCaffemodel } from '@cnn/caffe-import';
import { Net, Solver, type LayerDef, type NetDef } from '@cnn/nn';
import { Rng, type FloatArray } from '@cnn/tensor';

/*
 * The demo's stand-in for ImageNet pretraining: a small CaffeNet-shaped network
 * (conv-ReLU-pool-LRN stages, pool5, fc6, fc7, fc8) trained inside the run on a
 * different task, telling four kinds of bright shapes apart on speckled backgrounds.
 * Its convolutional filters learn edges and blobs, which is what transfers.
 */

export const SOURCE_CLASSES = ['disk', 'ring', 'bar', 'cross'] as const;
export const SOURCE_SIZE = 64;

function conv(name: string, bottom: string, numOutput: number, kernelSize: number, extra: Record<string, unknown> = {}): LayerDef {
  return {
    name,
    type: 'Convolution',
    bottom: [bottom],
    top: [name],
    param: [{ lrMult: 1, decayMult: 1 }, { lrMult: 2, decayMult: 0 }],
    convolution: { numOutput, kernelSize, ...extra, weightFiller: { type: 'msra' }, biasFiller: { type: 'constant', value: 0 } },
  };
}

function fc(name: string, bottom: string, numOutput: number): LayerDef {
  return {
    name,
    type: 'InnerProduct',
    bottom: [bottom],
    top: [name],
    param: [{ lrMult: 1, decayMult: 1 }, { lrMult: 2, decayMult: 0 }],
    innerProduct: { numOutput, weightFiller: { type: 'msra' }, biasFiller: { type: 'constant', value: 0 } },
  };
}

const relu = (name: string, blob: string): LayerDef => ({ name, type: 'ReLU', bottom: [blob], top: [blob] });
const pool = (name: string, bottom: string): LayerDef => ({ name, type: 'Pooling', bottom: [bottom], top: [name], pooling: { pool: 'MAX', kernelSize: 3, stride: 2 } });

/** The mini CaffeNet, 3 x 64 x 64 input; `train` adds labels and a loss, else it ends in `prob`. */
export function miniCaffeNet(batch: number, train: boolean): NetDef {
  const input: LayerDef = train
    ? { name: 'data', type: 'Input', top: ['data', 'label'], input: { shape: [{ dim: [batch, 3, SOURCE_SIZE, SOURCE_SIZE] }, { dim: [batch] }] } }
    : { name: 'data', type: 'Input', top: ['data'], input: { shape: [{ dim: [batch, 3, SOURCE_SIZE, SOURCE_SIZE] }] } };
  return {
    name: 'MiniCaffeNet',
    layers: [
      input,
      conv('conv1', 'data', 16, 5, { stride: 2 }),
      relu('relu1', 'conv1'),
      pool('pool1', 'conv1'),
      { name: 'norm1', type: 'LRN', bottom: ['pool1'], top: ['norm1'], lrn: { localSize: 5, alpha: 0.0001, beta: 0.75 } },
      conv('conv2', 'norm1', 32, 3, { pad: 1, group: 2 }),
      relu('relu2', 'conv2'),
      pool('pool2', 'conv2'),
      conv('conv3', 'pool2', 32, 3, { pad: 1 }),
      relu('relu3', 'conv3'),
      pool('pool5', 'conv3'),
      fc('fc6', 'pool5', 128),
      relu('relu6', 'fc6'),
      { name: 'drop6', type: 'Dropout', bottom: ['fc6'], top: ['fc6'], dropout: { dropoutRatio: 0.5 } },
      fc('fc7', 'fc6', 64),
      relu('relu7', 'fc7'),
      { name: 'drop7', type: 'Dropout', bottom: ['fc7'], top: ['fc7'], dropout: { dropoutRatio: 0.5 } },
      fc('fc8', 'fc7', SOURCE_CLASSES.length),
      train
        ? { name: 'loss', type: 'SoftmaxWithLoss', bottom: ['fc8', 'label'], top: ['loss'] }
        : { name: 'prob', type: 'Softmax', bottom: ['fc8'], top: ['prob'] },
    ],
  };
}

/**
 * One source image, CHW, already in the net's input scale ((x - 128) / 128, gray in
 * all three channels): a bright disk, ring, bar or cross at a random place and size.
 */
export function sourceImage(kind: number, rng: Rng, out: FloatArray, offset: number): void {
  const cx = rng.uniform(18, 46);
  const cy = rng.uniform(18, 46);
  const r = rng.uniform(7, 14);
  const angle = rng.uniform(0, Math.PI);
  const plane = SOURCE_SIZE * SOURCE_SIZE;
  for (let y = 0; y < SOURCE_SIZE; y++) {
    for (let x = 0; x < SOURCE_SIZE; x++) {
      const dx = x - cx;
      const dy = y - cy;
      const u = dx * Math.cos(angle) + dy * Math.sin(angle);
      const v = -dx * Math.sin(angle) + dy * Math.cos(angle);
      const d = Math.hypot(dx, dy);
      const inside =
        kind === 0 ? d < r : kind === 1 ? d < r && d > r - 3.5 : kind === 2 ? Math.abs(u) < r && Math.abs(v) < 2.5 : (Math.abs(u) < r && Math.abs(v) < 2.5) || (Math.abs(v) < r && Math.abs(u) < 2.5);
      const speckle = Math.sqrt(-2 * Math.log(1 - rng.next())) * 0.8;
      const pixel = Math.min(255, (inside ? 200 : 70) * speckle);
      const value = (pixel - 128) / 128;
      out[offset + y * SOURCE_SIZE + x] = value;
      out[offset + plane + y * SOURCE_SIZE + x] = value;
      out[offset + 2 * plane + y * SOURCE_SIZE + x] = value;
    }
  }
}

/** The pretrained source model as Caffe files, and how well it learned its task. */
export interface SourceModel {
  prototxt: string;
  caffemodel: Uint8Array;
  sourceAccuracy: number;
  iterations: number;
  seconds: number;
}

/**
 * Trains the mini CaffeNet on freshly drawn source images (batch 32, SGD with
 * momentum) and returns it as a deploy prototxt and a V2 caffemodel.
 */
export function pretrainSourceModel(seed: number, iterations: number): SourceModel {
  const started = performance.now();
  const batch = 32;
  const net = new Net(miniCaffeNet(batch, true), { phase: 'TRAIN', seed });
  const solver = new Solver(net, { baseLr: 0.01, momentum: 0.9, weightDecay: 5e-4, lrPolicy: 'step', gamma: 0.1, stepsize: Math.floor(iterations * 0.75) });
  const rng = new Rng(seed);
  const data = net.blob('data').data.data;
  const labels = net.blob('label').data.data;
  const per = 3 * SOURCE_SIZE * SOURCE_SIZE;
  for (let iter = 0; iter < iterations; iter++) {
    for (let n = 0; n < batch; n++) {
      labels[n] = n % SOURCE_CLASSES.length;
      sourceImage(n % SOURCE_CLASSES.length, rng, data, n * per);
    }
    solver.step(1);
  }
  const deploy = miniCaffeNet(1, false);
  const tester = new Net(miniCaffeNet(64, false), { phase: 'TEST', pretrained: (layer, index) => net.layer(layer).params[index]!.data.data });
  const input = tester.blob('data').data.data;
  for (let n = 0; n < 64; n++) sourceImage(n % 4, rng, input, n * per);
  tester.forward();
  const prob = tester.blob('prob').data.data;
  let correct = 0;
  for (let n = 0; n < 64; n++) {
    let best = 0;
    for (let c = 1; c < 4; c++) if (prob[n * 4 + c]! > prob[n * 4 + best]!) best = c;
    if (best === n % 4) correct++;
  }
  const parameter = toNetParameter(deploy, net);
  const { layer, ...rest } = parameter;
  return {
    prototxt: formatPrototxt({ ...rest, layer: layer?.map(({ blobs: _blobs, ...definition }) => definition) }),
    caffemodel: writeCaffemodel(parameter),
    sourceAccuracy: correct / 64,
    iterations,
    seconds: (performance.now() - started) / 1000,
  };
}
