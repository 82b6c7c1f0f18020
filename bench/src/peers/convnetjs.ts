import convnetjs from 'convnetjs';
import { transpose4 } from './layout.js';
import type { NetOp } from './reference.js';
import type { Outputs, Runner, RunnerSetup } from './runner.js';

type Vol = convnetjs.Vol;
/** One layer on one image: an HWC volume in, one out. */
type Step = (input: Vol) => Vol;

/** Channels [from, from + count) of `volume`, as a volume of their own. */
function sliceChannels(volume: Vol, from: number, count: number): Vol {
  const part = new convnetjs.Vol(volume.sx, volume.sy, count, 0);
  for (let pixel = 0; pixel < volume.sx * volume.sy; pixel++) {
    part.w.set(volume.w.subarray(pixel * volume.depth + from, pixel * volume.depth + from + count), pixel * count);
  }
  return part;
}

/** The volumes stacked along channels (same width and height). */
function concatChannels(parts: readonly Vol[]): Vol {
  const { sx, sy } = parts[0]!;
  const depth = parts.reduce((sum, part) => sum + part.depth, 0);
  const volume = new convnetjs.Vol(sx, sy, depth, 0);
  let offset = 0;
  for (const part of parts) {
    for (let pixel = 0; pixel < sx * sy; pixel++) volume.w.set(part.w.subarray(pixel * part.depth, (pixel + 1) * part.depth), pixel * depth + offset);
    offset += part.depth;
  }
  return volume;
}

/**
 * A convolution as one ConvLayer per channel group (convnetjs has no groups): split the input's
 * channels, convolve, concatenate. Each filter takes its OIHW slice reordered to convnetjs's HWC.
 */
function convolution(op: Extract<NetOp, { kind: 'conv' }>): Step {
  const [channels, height, width] = op.input as [number, number, number];
  const inPerGroup = channels / op.group;
  const outPerGroup = op.outChannels / op.group;
  const filterSize = inPerGroup * op.kernel * op.kernel;
  const layers = Array.from({ length: op.group }, (_, g) => {
    const layer = new convnetjs.ConvLayer({ in_sx: width, in_sy: height, in_depth: inPerGroup, sx: op.kernel, filters: outPerGroup, stride: op.stride, pad: op.pad });
    const weights = op.weight.subarray(g * outPerGroup * filterSize, (g + 1) * outPerGroup * filterSize);
    const ohwi = transpose4(weights, [outPerGroup, inPerGroup, op.kernel, op.kernel], [0, 2, 3, 1]);
    layer.filters.forEach((filter, o) => filter.w.set(ohwi.subarray(o * filterSize, (o + 1) * filterSize)));
    layer.biases.w.set(op.bias.subarray(g * outPerGroup, (g + 1) * outPerGroup));
    return layer;
  });
  if (op.group === 1) return (input) => layers[0]!.forward(input);
  return (input) => concatChannels(layers.map((layer, g) => layer.forward(sliceChannels(input, g * inPerGroup, inPerGroup))));
}

/** A FullyConnLayer; fc6's weight columns go from Caffe's C, H, W order to the H, W, C of convnetjs's volumes. */
function fullyConnected(op: Extract<NetOp, { kind: 'fc' }>): Step {
  const [channels, height = 1, width = 1] = op.input as [number, number?, number?];
  const layer = new convnetjs.FullyConnLayer({ in_sx: width, in_sy: height, in_depth: channels, num_neurons: op.outputs });
  const inputs = channels * height * width;
  const weights = transpose4(op.weight, [op.outputs, channels, height, width], [0, 2, 3, 1]);
  layer.filters.forEach((filter, o) => filter.w.set(weights.subarray(o * inputs, (o + 1) * inputs)));
  layer.biases.w.set(op.bias);
  return (input) => layer.forward(input);
}

function step(op: NetOp): Step {
  const [channels, height = 1, width = 1] = op.input as [number, number?, number?];
  const size = { in_sx: width, in_sy: height, in_depth: channels };
  switch (op.kind) {
    case 'conv':
      return convolution(op);
    case 'fc':
      return fullyConnected(op);
    case 'relu': {
      const layer = new convnetjs.ReluLayer(size);
      return (input) => layer.forward(input);
    }
    case 'maxPool': {
      const layer = new convnetjs.PoolLayer({ ...size, sx: op.kernel, stride: op.stride });
      return (input) => layer.forward(input);
    }
    case 'lrn': {
      // Same convention as Caffe: alpha / n times the sum of squares over n channels.
      const layer = new convnetjs.LocalResponseNormalizationLayer({ ...size, k: op.k, n: op.size, alpha: op.alpha, beta: op.beta });
      return (input) => layer.forward(input);
    }
    case 'softmax': {
      const layer = new convnetjs.SoftmaxLayer(size);
      return (input) => layer.forward(input);
    }
    default:
      throw new Error(`${op.name}: convnetjs runs CaffeNet's layers only (no ${op.kind})`);
  }
}

/**
 * CaffeNet in convnetjs layers driven by hand, one image at a time (convnetjs has no batch
 * dimension), single-threaded JavaScript in float64.
 */
export async function convnetjsRunner(setup: RunnerSetup): Promise<Runner> {
  const steps = setup.ops.map((op) => ({ name: op.name, run: step(op) }));
  const { classes, logits, imageShape } = setup.model;
  const [channels, height, width] = imageShape;
  const imageSize = channels * height * width;
  const images = Array.from({ length: setup.batch }, (_, b) => {
    const volume = new convnetjs.Vol(width, height, channels, 0);
    volume.w.set(transpose4(setup.images.subarray(b * imageSize, (b + 1) * imageSize), [1, channels, height, width], [0, 2, 3, 1]));
    return volume;
  });
  const forward = (): Outputs => {
    const outputs = { logits: new Float32Array(setup.batch * classes), prob: new Float32Array(setup.batch * classes) };
    images.forEach((image, b) => {
      let volume = image;
      for (const { name, run } of steps) {
        volume = run(volume);
        if (name === logits) outputs.logits.set(volume.w, b * classes);
      }
      outputs.prob.set(volume.w, b * classes);
    });
    return outputs;
  };
  return {
    async: false,
    forward,
    outputs: async () => forward(),
    dispose: async () => {},
  };
}
