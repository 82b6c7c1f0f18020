import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { loadModel } from '@cnn/caffe-import';
import {
  ClipLayer,
  ConvolutionLayer,
  DropoutLayer,
  InnerProductLayer,
  InputLayer,
  LRNLayer,
  Net,
  PoolingLayer,
  ReLULayer,
  SoftmaxLayer,
  caffeNet,
  pooledSize,
  type Blob,
} from '@cnn/nn';
import { Rng } from '@cnn/tensor';

/*
 * "Same net, same weights, same input": every system in the peers suite runs one of the nets of
 * `peerModels` with this project's parameters, on images drawn here. CaffeNet takes the
 * parameters this project's Net drew from its fillers (seed 1); the MobileNets their real
 * ImageNet weights from ../shared/fixtures/imagenet, read through the Caffe importer. Each peer
 * builds its graph by walking `netOps`, so the layer hyperparameters come from the net itself
 * and are written down nowhere else.
 */

/** Seed of CaffeNet's parameter fillers: the caffenet suite's. */
const weightSeed = 1;
/** Seed of the input images. */
const inputSeed = 2;

/** The shared fixtures' MobileNets (see their README.md). */
const imagenetFixtures = fileURLToPath(new URL('../../../../shared/fixtures/imagenet/', import.meta.url));

/** One net of the comparison: how to build it, its input and its outputs. */
export interface PeerModel {
  id: 'caffenet' | 'mobilenet_v1_0.5_160' | 'mobilenet_v1_0.75_192';
  label: string;
  /** Input image: channels, height, width. */
  imageShape: readonly [number, number, number];
  /** The layer whose output is the logits: the correctness check compares it, before the softmax. */
  logits: string;
  /** The softmax's layer (and top): the probabilities, what a forward pass ends in. */
  prob: string;
  classes: number;
  /** Input values are drawn uniform in this range (mean-subtracted pixels for CaffeNet, MobileNet's (pixel - 128) / 128). */
  inputRange: readonly [number, number];
  /** This project's net at `batch`, TEST phase, built under the current backend. */
  net(batch: number): Net;
  /** Its files for readers of Caffe models (OpenCV), or undefined to write them from the net. */
  files?: { prototxt: string; caffemodel: string };
}

function mobileNet(id: 'mobilenet_v1_0.5_160' | 'mobilenet_v1_0.75_192', side: number): PeerModel {
  const files = { prototxt: path.join(imagenetFixtures, id, 'deploy.prototxt'), caffemodel: path.join(imagenetFixtures, id, `${id}.caffemodel`) };
  return {
    id,
    label: `MobileNet v1 ${id.split('_')[2]} / ${side}`,
    imageShape: [3, side, side],
    logits: 'fc7',
    prob: 'prob',
    classes: 1001,
    inputRange: [-1, 1],
    net(batch) {
      const { net } = loadModel({ prototxt: files.prototxt, weights: files.caffemodel });
      net.setBatchSize(batch);
      return net;
    },
    files,
  };
}

/** The nets of the comparison, in table order. */
export const peerModels: readonly PeerModel[] = [
  {
    id: 'caffenet',
    label: 'CaffeNet, 227 x 227',
    imageShape: [3, 227, 227],
    logits: 'fc8',
    prob: 'prob',
    classes: 1000,
    inputRange: [-128, 128],
    net: (batch) => new Net(caffeNet({ batch }), { phase: 'TEST', seed: weightSeed }),
  },
  mobileNet('mobilenet_v1_0.5_160', 160),
  mobileNet('mobilenet_v1_0.75_192', 192),
];

/** The model called `id` (a child process gets it by name). */
export function peerModel(id: string): PeerModel {
  const model = peerModels.find((candidate) => candidate.id === id);
  if (!model) throw new Error(`no peer model '${id}'; models: ${peerModels.map((m) => m.id).join(', ')}`);
  return model;
}

/**
 * One layer of the forward pass, in order, with what a peer needs to build it. Shapes are per
 * image, NCHW without the N: `input` is the bottom's [C, H, W] (or [C] after fc6), `output` the top's.
 */
export type NetOp =
  | {
      kind: 'conv';
      name: string;
      input: readonly number[];
      output: readonly number[];
      /** Caffe's layout OIHW: [outChannels, inChannels / group, kernel, kernel], row-major. */
      weight: Float32Array;
      /** [outChannels]. */
      bias: Float32Array;
      outChannels: number;
      kernel: number;
      stride: number;
      pad: number;
      /** Channel groups: output group j sees only input channels of group j (AlexNet's two GPUs). */
      group: number;
    }
  | { kind: 'relu'; name: string; input: readonly number[]; output: readonly number[] }
  /** y = min(max(x, min), max): MobileNet's ReLU6 (Caffe's Clip). */
  | { kind: 'clip'; name: string; input: readonly number[]; output: readonly number[]; min: number; max: number }
  /** The mean of each channel's whole map (MobileNet's pool6). */
  | { kind: 'globalAvgPool'; name: string; input: readonly number[]; output: readonly number[] }
  | { kind: 'maxPool'; name: string; input: readonly number[]; output: readonly number[]; kernel: number; stride: number }
  | {
      kind: 'lrn';
      name: string;
      input: readonly number[];
      output: readonly number[];
      /** Channels in the window, centred on each channel. */
      size: number;
      /** Caffe's alpha: the sum of squares is scaled by alpha / size (ONNX's convention too). */
      alpha: number;
      beta: number;
      k: number;
    }
  | {
      kind: 'fc';
      name: string;
      /** [C, H, W] for fc6 (flattened in C, H, W order, as Caffe does), [C] after. */
      input: readonly number[];
      output: readonly number[];
      /** [outputs, inputs], row-major; the input index runs over `input` in C, H, W order. */
      weight: Float32Array;
      /** [outputs]. */
      bias: Float32Array;
      outputs: number;
    }
  | { kind: 'softmax'; name: string; input: readonly number[]; output: readonly number[] };

function float32(blob: Blob): Float32Array {
  const data = blob.data.data;
  if (!(data instanceof Float32Array)) throw new Error(`${blob.name} is not float32`);
  return data;
}

/**
 * The forward pass of `net` as a list of ops with their parameters (the Float32Arrays are the
 * net's own, not copies). Throws on anything the peers could not reproduce exactly: dilation,
 * uneven kernels or padding, a pooling whose Caffe (ceil) and floor output sizes differ.
 */
export function netOps(net: Net): NetOp[] {
  const ops: NetOp[] = [];
  net.layers.forEach((layer, index) => {
    const { bottoms, tops } = net.blobsOf(index);
    const name = layer.name;
    if (layer instanceof InputLayer || layer instanceof DropoutLayer) return; // Dropout is the identity in TEST
    const input = bottoms[0]!.shape.slice(1);
    const output = tops[0]!.shape.slice(1);
    if (layer instanceof ConvolutionLayer) {
      const square = layer.kernelH === layer.kernelW && layer.strideH === layer.strideW && layer.padH === layer.padW;
      if (!square || layer.dilationH !== 1 || layer.dilationW !== 1 || !layer.biasTerm) throw new Error(`${name}: unsupported convolution geometry`);
      const [weight, bias] = layer.params.map(float32);
      ops.push({ kind: 'conv', name, input, output, weight: weight!, bias: bias!, outChannels: layer.numOutput, kernel: layer.kernelH, stride: layer.strideH, pad: layer.padH, group: layer.group });
    } else if (layer instanceof ReLULayer) {
      if (layer.negativeSlope !== 0) throw new Error(`${name}: leaky ReLU`);
      ops.push({ kind: 'relu', name, input, output });
    } else if (layer instanceof ClipLayer) {
      ops.push({ kind: 'clip', name, input, output, min: layer.min, max: layer.max });
    } else if (layer instanceof PoolingLayer && layer.pool === 'AVE') {
      const [, height, width] = input as [number, number, number];
      const whole = layer.globalPooling || (layer.kernelH === height && layer.kernelW === width && layer.padH === 0 && layer.padW === 0);
      if (!whole) throw new Error(`${name}: average pooling over part of the map`);
      ops.push({ kind: 'globalAvgPool', name, input, output });
    } else if (layer instanceof PoolingLayer) {
      const { kernelH: kernel, strideH: stride } = layer;
      const square = kernel === layer.kernelW && stride === layer.strideW && layer.padH === 0 && layer.padW === 0;
      if (layer.pool !== 'MAX' || layer.globalPooling || !square) throw new Error(`${name}: unsupported pooling`);
      // Caffe rounds pooled sizes up; the peers round down. CaffeNet's sizes (55, 27, 13) agree.
      for (const size of input.slice(1)) {
        if (pooledSize(size, kernel, stride, 0, 'CEIL') !== pooledSize(size, kernel, stride, 0, 'FLOOR')) throw new Error(`${name}: ceil and floor pooling differ at ${size}`);
      }
      ops.push({ kind: 'maxPool', name, input, output, kernel, stride });
    } else if (layer instanceof LRNLayer) {
      if (layer.normRegion !== 'ACROSS_CHANNELS') throw new Error(`${name}: LRN within channels`);
      ops.push({ kind: 'lrn', name, input, output, size: layer.localSize, alpha: layer.alpha, beta: layer.beta, k: layer.k });
    } else if (layer instanceof InnerProductLayer) {
      if (layer.axis !== 1 || layer.transpose || !layer.biasTerm) throw new Error(`${name}: unsupported inner product`);
      const [weight, bias] = layer.params.map(float32);
      ops.push({ kind: 'fc', name, input, output, weight: weight!, bias: bias!, outputs: layer.numOutput });
    } else if (layer instanceof SoftmaxLayer) {
      if (layer.axis !== 1) throw new Error(`${name}: softmax over axis ${layer.axis}`);
      ops.push({ kind: 'softmax', name, input, output });
    } else {
      throw new Error(`${name}: layer type ${layer.type} has no peer equivalent here`);
    }
  });
  return ops;
}

/**
 * `batch` images, NCHW [batch, C, H, W], uniform in the model's input range; the same seed for
 * every system, so image 0 is the same image at every batch size.
 */
export function inputImages(model: PeerModel, batch: number): Float32Array {
  const [channels, height, width] = model.imageShape;
  const images = new Float32Array(batch * channels * height * width);
  const rng = new Rng(inputSeed);
  for (let i = 0; i < images.length; i++) images[i] = rng.uniform(model.inputRange[0], model.inputRange[1]);
  return images;
}
