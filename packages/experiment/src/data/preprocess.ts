import { ArgumentError } from '@cnn/tensor';
import { createImage, type FloatImage, type RasterImage } from './image.js';

/**
 * The study's image preprocessing: grayscale, central square crop, resize (default 256 x 256).
 * The model's own input recipe (channel order, mean, scale, crop) comes after, in recipe.ts.
 */

/** `[H,W,C] -> [h,w,C]`: the `w x h` window whose top-left pixel is (x0, y0). */
export function crop(image: RasterImage, x0: number, y0: number, width: number, height: number): FloatImage {
  if (x0 < 0 || y0 < 0 || width < 1 || height < 1 || x0 + width > image.width || y0 + height > image.height) {
    throw new ArgumentError(
      `crop ${width} x ${height} at (${x0}, ${y0}) does not fit an image of ${image.width} x ${image.height}`,
    );
  }
  const { channels } = image;
  const out = createImage(width, height, channels);
  for (let y = 0; y < height; y++) {
    const from = ((y0 + y) * image.width + x0) * channels;
    out.data.set(image.data.subarray(from, from + width * channels), y * width * channels);
  }
  return out;
}

/**
 * `[H,W,C] -> [s,s,C]` with `s = min(H, W)`: the central square, offsets
 * `x0 = floor((W - s) / 2)`, `y0 = floor((H - s) / 2)` (an odd surplus leaves the extra pixel on the
 * right/bottom). As in the study, nothing is padded: the long side loses its edges.
 */
export function centreSquareCrop(image: RasterImage): FloatImage {
  const side = Math.min(image.width, image.height);
  return crop(image, Math.floor((image.width - side) / 2), Math.floor((image.height - side) / 2), side, side);
}

/**
 * `[H,W,C] -> [height,width,C]`, separable, each axis on its own:
 * - shrinking an axis: **area averaging** (box filter over the exact source footprint, like
 *   OpenCV INTER_AREA / PIL BOX). Output pixel i covers source interval `[i*s, (i+1)*s)` with
 *   `s = in/out`; each source pixel j weighs `overlap([j, j+1), footprint) / s`. Every source pixel
 *   contributes, so ultrasound speckle averages out instead of aliasing into fake texture, which is
 *   what a plain bilinear or nearest-neighbour downsampling would do at ratios like 600 -> 256;
 * - growing an axis (or keeping its size): **bilinear** with pixel centres aligned
 *   (`x = (i + 0.5) * s - 0.5`, clamped to the edge, like OpenCV INTER_LINEAR / align_corners =
 *   false), which is exact for an unchanged size and smooth when upsampling small images such as
 *   the 64 x 64 usanotai frames.
 * Both keep a constant image constant (weights sum to 1) and never leave the input's value range.
 */
export function resize(image: RasterImage, width: number, height: number): FloatImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new ArgumentError(`resize to ${width} x ${height}: sizes must be positive integers`);
  }
  const { channels } = image;
  if (width === image.width && height === image.height) {
    // Both filters are the identity at scale 1; skip the two passes (the shared data is 256 x 256 already).
    return { width, height, channels, data: Float32Array.from(image.data) };
  }
  const across = axisTaps(image.width, width);
  const down = axisTaps(image.height, height);
  const src = image.data;
  // Each output value is accumulated in float32, tap after tap in source order, so the result
  // does not depend on how the loops are nested (the stored images and the feature cache's keys
  // are made from it). The channel loop is outside the tap loop so the common gray case runs a
  // short inner loop over one channel.
  // Horizontal pass: [H, W, C] -> [H, width, C].
  const wide = new Float32Array(image.height * width * channels);
  const { start: xStart, index: xIndex, weight: xWeight } = across;
  for (let y = 0; y < image.height; y++) {
    const rowIn = y * image.width * channels;
    const rowOut = y * width * channels;
    for (let x = 0; x < width; x++) {
      const first = xStart[x]!;
      const end = xStart[x + 1]!;
      for (let c = 0; c < channels; c++) {
        let sum = 0;
        for (let t = first; t < end; t++) sum = Math.fround(sum + xWeight[t]! * src[rowIn + xIndex[t]! * channels + c]!);
        wide[rowOut + x * channels + c] = sum;
      }
    }
  }
  // Vertical pass: [H, width, C] -> [height, width, C], rows added whole (contiguous in memory).
  const out = createImage(width, height, channels);
  const sums = out.data;
  const row = width * channels;
  const { start: yStart, index: yIndex, weight: yWeight } = down;
  for (let y = 0; y < height; y++) {
    const at = y * row;
    for (let t = yStart[y]!; t < yStart[y + 1]!; t++) {
      const from = yIndex[t]! * row;
      const w = yWeight[t]!;
      for (let i = 0; i < row; i++) sums[at + i] += w * wide[from + i]!;
    }
  }
  return out;
}

/** Output pixel i of one axis reads source pixels `index[t]` with `weight[t]` for t in `[start[i], start[i+1])`. */
interface AxisTaps {
  start: Int32Array;
  index: Int32Array;
  weight: Float64Array;
}

function axisTaps(inSize: number, outSize: number): AxisTaps {
  const start = [0];
  const index: number[] = [];
  const weight: number[] = [];
  const s = inSize / outSize;
  for (let i = 0; i < outSize; i++) {
    if (outSize < inSize) {
      const lo = i * s;
      const hi = (i + 1) * s;
      for (let j = Math.floor(lo); j < Math.min(inSize, Math.ceil(hi)); j++) {
        const overlap = Math.min(j + 1, hi) - Math.max(j, lo);
        if (overlap > 0) {
          index.push(j);
          weight.push(overlap / s);
        }
      }
    } else {
      const x = Math.min(inSize - 1, Math.max(0, (i + 0.5) * s - 0.5));
      const j0 = Math.floor(x);
      const f = x - j0;
      index.push(j0);
      weight.push(1 - f);
      if (f > 0) {
        index.push(j0 + 1);
        weight.push(f);
      }
    }
    start.push(index.length);
  }
  return { start: Int32Array.from(start), index: Int32Array.from(index), weight: Float64Array.from(weight) };
}

/**
 * `[H,W,3] -> [H,W,1]`, luminance `Y = 0.299 R + 0.587 G + 0.114 B` (ITU-R BT.601, the weights of
 * PIL's convert('L'), with which the shared data sets were made gray). A 1-channel image is copied.
 */
export function toGray(image: RasterImage): FloatImage {
  const count = image.width * image.height;
  const out = createImage(image.width, image.height, 1);
  if (image.channels === 1) {
    out.data.set(image.data);
    return out;
  }
  const d = image.data;
  for (let p = 0; p < count; p++) out.data[p] = 0.299 * d[p * 3]! + 0.587 * d[p * 3 + 1]! + 0.114 * d[p * 3 + 2]!;
  return out;
}

/** `[H,W,1] -> [H,W,3]` with R = G = B = the gray value, the way the study fed gray images to an RGB net. */
export function replicateGray(image: RasterImage): FloatImage {
  if (image.channels !== 1) throw new ArgumentError(`replicateGray needs a 1-channel image, got ${image.channels} channels`);
  const count = image.width * image.height;
  const out = createImage(image.width, image.height, 3);
  for (let p = 0; p < count; p++) {
    const v = image.data[p]!;
    out.data[p * 3] = v;
    out.data[p * 3 + 1] = v;
    out.data[p * 3 + 2] = v;
  }
  return out;
}

/** Options of studyPreprocess. */
export interface StudyPreprocessOptions {
  /** Side of the stored square image. Default 256, the study's. */
  size?: number;
  /** Convert to grayscale (the study's images are gray). Default true; false keeps RGB. */
  gray?: boolean;
}

/**
 * The study's preprocessing: `[H,W,C] -> [size,size,1]` (or `[size,size,C]` with gray = false):
 * grayscale (toGray), central square crop (centreSquareCrop), resize (resize: area averaging down,
 * bilinear up). The result is what the study stored; the net's recipe is applied per batch later.
 * A step that would change nothing is skipped (the shared data sets are 256 x 256 gray already),
 * so the result may be `image` itself.
 */
export function studyPreprocess(image: RasterImage, options: StudyPreprocessOptions = {}): RasterImage {
  const size = options.size ?? 256;
  const gray = (options.gray ?? true) && image.channels === 3 ? toGray(image) : image;
  const square = gray.width === gray.height ? gray : centreSquareCrop(gray);
  return square.width === size ? square : resize(square, size, size);
}
