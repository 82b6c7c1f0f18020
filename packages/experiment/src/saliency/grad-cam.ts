import type { Blob, Net } from '@cnn/nn';
import { SaliencyError } from './errors.js';
import { resizeMap, type SaliencyMap } from './map.js';

/** What Grad-CAM returns: the map at the input's resolution, and at the layer's own. */
export interface GradCamResult extends SaliencyMap {
  /** The map at the layer's resolution (before upsampling), same scaling. */
  coarse: SaliencyMap;
  /** The class explained and its score (the blob before the softmax). */
  classIndex: number;
  score: number;
  /** The layer whose activations were weighted, and the score blob differentiated. */
  layer: string;
  scoreBlob: string;
}

/** Options of `gradCam`. */
export interface GradCamOptions {
  /** The blob holding the class scores (default: the bottom of a final Softmax, else the last layer's top). */
  scoreBlob?: string;
}

/**
 * Grad-CAM (Selvaraju et al., 2017): where in the image the evidence for class c lies,
 * seen from the activations A (K maps of h x w) of a convolutional layer.
 *
 *   alpha_k = (1 / hw) sum_ij d y_c / d A_k[i, j]     (y_c: the class score, before the softmax)
 *   L_c[i, j] = ReLU(sum_k alpha_k A_k[i, j])
 *
 * The gradients come from the layers' own backward passes, run from the score blob down to
 * the layer (and the in-place layers after it, such as its ReLU: A is what the next layer
 * reads). L_c is upsampled bilinearly to the input's H x W and divided by its maximum, so it
 * lies in [0, 1] (all zero when no location speaks for the class).
 *
 * `input` is one preprocessed image, C x H x W, as the net's input blob takes it; the net is
 * run at batch 1. Parameter gradients the backward passes add are cleared afterwards.
 *
 * For a net that ends in global average pooling and one fully connected layer (MobileNet,
 * at its last convolution), alpha_k is w_ck / hw and Grad-CAM is CAM (Zhou et al., 2016).
 */
export function gradCam(net: Net, input: Float32Array, layer: string, classIndex: number, options: GradCamOptions = {}): GradCamResult {
  const inputName = net.inputNames[0];
  if (inputName === undefined) throw new SaliencyError(`net '${net.name}' has no input blob to feed`);
  const inputBlob = net.blob(inputName);
  const [, channels, height, width] = inputBlob.shape;
  if (inputBlob.shape.length !== 4 || input.length !== channels! * height! * width!) {
    throw new SaliencyError(`gradCam: ${input.length} input values for net '${net.name}' whose input '${inputName}' is [${inputBlob.shape.join(',')}] (one image of C x H x W expected)`);
  }
  const layerIndex = layerIndexOf(net, layer);
  const scoreName = options.scoreBlob ?? defaultScoreBlob(net);
  const scoreLayer = producerOf(net, scoreName);
  if (scoreLayer <= layerIndex) throw new SaliencyError(`gradCam: the score blob '${scoreName}' is made before layer '${layer}' (it must come after it)`);

  if (inputBlob.shape[0] !== 1) net.setBatchSize(1);
  inputBlob.data.data.set(input);
  net.forward({ to: scoreLayer });

  // A is the top of the layer as the next layer reads it: after its in-place layers.
  const activations = net.blobsOf(layerIndex).tops[0]!;
  let last = layerIndex;
  while (last + 1 < scoreLayer && net.blobsOf(last + 1).tops.includes(activations)) last++;

  const scores = net.blob(scoreName);
  const classes = scores.count;
  if (!Number.isInteger(classIndex) || classIndex < 0 || classIndex >= classes) throw new SaliencyError(`gradCam: class ${classIndex} is outside 0..${classes - 1} of blob '${scoreName}'`);
  for (let i = last + 1; i <= scoreLayer; i++) for (const top of net.blobsOf(i).tops) top.diff.data.fill(0, 0, top.count);
  scores.diff.data[classIndex] = 1;
  for (let i = scoreLayer; i > last; i--) {
    const { tops, bottoms } = net.blobsOf(i);
    net.layers[i]!.backward(tops, bottoms.map(() => true), bottoms);
  }
  for (let i = scoreLayer; i > last; i--) for (const param of net.layers[i]!.params) param.zeroDiff();

  const coarse = weightedActivations(activations);
  return {
    ...resizeMap(coarse, width!, height!),
    coarse,
    classIndex,
    score: scores.data.data[classIndex]!,
    layer,
    scoreBlob: scoreName,
  };
}

/** ReLU(sum_k alpha_k A_k), alpha_k the mean of A_k's gradient, divided by its maximum. */
function weightedActivations(activations: Blob): SaliencyMap {
  const [, maps, h, w] = activations.shape as [number, number, number, number];
  const plane = h * w;
  const a = activations.data.data;
  const gradient = activations.diff.data;
  const values = new Float32Array(plane);
  for (let k = 0; k < maps; k++) {
    let alpha = 0;
    for (let p = 0; p < plane; p++) alpha += gradient[k * plane + p]!;
    alpha /= plane;
    for (let p = 0; p < plane; p++) values[p] += alpha * a[k * plane + p]!;
  }
  let max = 0;
  for (let p = 0; p < plane; p++) max = Math.max(max, values[p]!);
  for (let p = 0; p < plane; p++) values[p] = max > 0 ? Math.max(0, values[p]!) / max : 0;
  return { values, width: w, height: h };
}

function layerIndexOf(net: Net, layer: string): number {
  const index = net.layers.findIndex((l) => l.name === layer);
  if (index < 0) throw new SaliencyError(`net '${net.name}' has no layer '${layer}'; layers: ${net.layers.map((l) => l.name).join(', ')}`);
  const top = net.blobsOf(index).tops[0];
  if (!top || top.shape.length !== 4) throw new SaliencyError(`layer '${layer}' makes [${top?.shape.join(',') ?? ''}], not the N x K x h x w maps Grad-CAM weighs`);
  return index;
}

/** The last layer that writes `blob` (in-place layers included). */
function producerOf(net: Net, blob: string): number {
  for (let i = net.layers.length - 1; i >= 0; i--) if (net.blobsOf(i).tops.some((top) => top.name === blob)) return i;
  throw new SaliencyError(`net '${net.name}' has no blob '${blob}'`);
}

/** The class scores: what a final Softmax reads, else the last layer's top. */
export function defaultScoreBlob(net: Net): string {
  const last = net.layers.length - 1;
  const { bottoms, tops } = net.blobsOf(last);
  return net.layers[last]!.type === 'Softmax' ? bottoms[0]!.name : tops[0]!.name;
}

/**
 * The layer Grad-CAM looks at by default: the last Convolution whose maps are still larger
 * than 1 x 1 (CaffeNet: conv5; MobileNet: conv6/sep), where the maps keep their layout and
 * carry the most class-specific features.
 */
export function lastConvolution(net: Net): string {
  for (let i = net.layers.length - 1; i >= 0; i--) {
    const top = net.blobsOf(i).tops[0];
    if (net.layers[i]!.type === 'Convolution' && top && top.shape.length === 4 && top.shape[2]! * top.shape[3]! > 1) return net.layers[i]!.name;
  }
  throw new SaliencyError(`net '${net.name}' has no convolution with spatial maps to explain`);
}
