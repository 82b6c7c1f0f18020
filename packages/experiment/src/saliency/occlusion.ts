import type { Net } from '@cnn/nn';
import { SaliencyError } from './errors.js';
import { defaultScoreBlob } from './grad-cam.js';
import type { SaliencyMap } from './map.js';

/** Options of `occlusionMap`. */
export interface OcclusionOptions {
  /** Side of the square patch, in input pixels (default: a fifth of the input side). */
  patch?: number;
  /** Step between patch positions (default: half the patch). */
  stride?: number;
  /** The value written into the occluded pixels (default 0: the mean, once the recipe subtracted it). */
  fill?: number;
  /** The class score blob (default as in gradCam). */
  scoreBlob?: string;
  /** Occluded copies per forward pass (default 16). */
  batch?: number;
}

/**
 * Occlusion sensitivity (Zeiler and Fergus, 2014), the model-agnostic check of a saliency
 * map: a patch of `fill` slides over the input, and each pixel gets the mean drop of the
 * class score y_c over the patch positions that covered it,
 *
 *   O[y, x] = mean over patches P containing (y, x) of max(0, y_c(input) - y_c(input with P filled)),
 *
 * divided by its maximum (so in [0, 1]). It needs one forward pass per position and no
 * gradient, so it checks Grad-CAM independently.
 */
export function occlusionMap(net: Net, input: Float32Array, classIndex: number, options: OcclusionOptions = {}): SaliencyMap {
  const inputName = net.inputNames[0];
  if (inputName === undefined) throw new SaliencyError(`net '${net.name}' has no input blob to feed`);
  const [, channels, height, width] = net.blob(inputName).shape as [number, number, number, number];
  if (input.length !== channels * height * width) throw new SaliencyError(`occlusionMap: ${input.length} input values for an input of ${channels} x ${height} x ${width}`);
  const patch = options.patch ?? Math.max(1, Math.round(Math.min(width, height) / 5));
  const stride = options.stride ?? Math.max(1, Math.floor(patch / 2));
  const fill = options.fill ?? 0;
  const scoreName = options.scoreBlob ?? defaultScoreBlob(net);
  const positions: [number, number][] = [];
  const starts = (size: number) => {
    const list: number[] = [];
    for (let at = 0; at + patch < size; at += stride) list.push(at);
    list.push(Math.max(0, size - patch));
    return list;
  };
  for (const y of starts(height)) for (const x of starts(width)) positions.push([y, x]);

  const plane = width * height;
  const scoreOf = (images: Float32Array[]): number[] => {
    net.setBatchSize(images.length);
    const data = net.blob(inputName).data.data;
    images.forEach((image, n) => data.set(image, n * channels * plane));
    net.forward();
    const scores = net.blob(scoreName);
    const classes = scores.count / images.length;
    return images.map((_, n) => scores.data.data[n * classes + classIndex]!);
  };
  const [original] = scoreOf([input]);
  const sum = new Float32Array(plane);
  const covered = new Float32Array(plane);
  const batch = options.batch ?? 16;
  for (let start = 0; start < positions.length; start += batch) {
    const chunk = positions.slice(start, start + batch);
    const images = chunk.map(([y0, x0]) => {
      const image = Float32Array.from(input);
      for (let c = 0; c < channels; c++) for (let y = y0; y < y0 + patch; y++) image.fill(fill, c * plane + y * width + x0, c * plane + y * width + x0 + patch);
      return image;
    });
    scoreOf(images).forEach((score, k) => {
      const [y0, x0] = chunk[k]!;
      const drop = Math.max(0, original! - score);
      for (let y = y0; y < y0 + patch; y++) {
        for (let x = x0; x < x0 + patch; x++) {
          sum[y * width + x] += drop;
          covered[y * width + x] += 1;
        }
      }
    });
  }
  net.setBatchSize(1);
  const values = sum.map((s, i) => (covered[i]! > 0 ? s / covered[i]! : 0));
  const max = values.reduce((m, v) => Math.max(m, v), 0);
  if (max > 0) for (let i = 0; i < plane; i++) values[i] = values[i]! / max;
  return { values, width, height };
}
