import { ArgumentError, Rng, Tensor } from '@cnn/tensor';
import type { RasterImage } from './image.js';
import { resize } from './preprocess.js';

/** A mean image, channels-first `[channels, height, width]`, in the recipe's channel order. */
export interface MeanImage {
  image: Float32Array;
  channels: number;
  height: number;
  width: number;
}

/** Per-channel mean values in the recipe's channel order (one value = the same for every channel). */
export interface MeanValues {
  values: number[];
}

/**
 * How a preprocessed image becomes the net's input, following Caffe's DataTransformer:
 * 1. resize to `resizeTo x resizeTo` (skipped when it already has that size);
 * 2. gray images are replicated into 3 channels; channels are put in `channelOrder`;
 * 3. crop `crop x crop` (centred at `floor((resizeTo - crop) / 2)`, or at a random offset when
 *    `randomCrop` and an Rng is given) - no crop when `crop` is undefined;
 * 4. `out[c][y][x] = (pixel[c][y0+y][x0+x] - mean[c][y0+y][x0+x]) * scale`, the mean image being
 *    read at the same crop offset (a mean value is the same everywhere);
 * 5. mirrored left-right when `flip`, or with probability 1/2 when `mirror` and an Rng is given.
 * The result is `[3, S, S]` channels-first with `S = crop ?? resizeTo`.
 */
export interface InputRecipe {
  channelOrder: 'BGR' | 'RGB';
  mean: MeanValues | MeanImage;
  scale: number;
  /** Crop size, or undefined for the whole resized image. */
  crop: number | undefined;
  resizeTo: number;
  /** Training only: mirror half of the images. */
  mirror?: boolean;
  /** Training only: crop at a random offset instead of the centre. */
  randomCrop?: boolean;
  /** Every image mirrored left-right, with or without an Rng: the second view of test-time augmentation. */
  flip?: boolean;
}

/** ILSVRC-2012 per-channel means of the reference CaffeNet, in BGR order. */
export const CAFFENET_MEAN_BGR = [104, 117, 123];

/** Options of caffenetRecipe. */
export interface CaffenetOptions {
  /** The ILSVRC-2012 mean image (BGR, 3 x 256 x 256) instead of the per-channel mean values. */
  meanImage?: MeanImage;
  mirror?: boolean;
  randomCrop?: boolean;
}

/**
 * The reference CaffeNet input: pixels 0-255, BGR, resize 256, subtract the mean image or
 * (104, 117, 123), centre crop 227 (offset (256 - 227) / 2 = 14 in integer division, Caffe's TEST
 * phase). Random crops and mirroring are opt-in for training (Caffe's TRAIN phase).
 */
export function caffenetRecipe(options: CaffenetOptions = {}): InputRecipe {
  return validateRecipe({
    channelOrder: 'BGR',
    mean: options.meanImage ?? { values: [...CAFFENET_MEAN_BGR] },
    scale: 1,
    crop: 227,
    resizeTo: 256,
    mirror: options.mirror ?? false,
    randomCrop: options.randomCrop ?? false,
  });
}

/**
 * The MobileNet v1 fixtures' input (see shared/fixtures/imagenet): RGB, `(pixel - 128) / 128`
 * (mean 128, scale 0.0078125), the whole image resized to the net's input size, no crop.
 * The fixtures were made with PIL's Lanczos resize; ours is area averaging (see resize), so
 * probabilities may differ slightly from theirs for the same photo.
 *
 * @param inputSize the net's input side (160 or 192 for the two fixtures)
 */
export function mobilenetRecipe(inputSize: number): InputRecipe {
  return validateRecipe({
    channelOrder: 'RGB',
    mean: { values: [128, 128, 128] },
    scale: 1 / 128,
    crop: undefined,
    resizeTo: inputSize,
    mirror: false,
    randomCrop: false,
  });
}

/** The named presets, each then adjustable part by part with makeRecipe's overrides. */
export type RecipePreset = 'caffenet' | 'mobilenet';

/**
 * A preset with some parts replaced (the command line's flags). `mobilenet` needs `resizeTo`
 * (the net's input size) unless the default 224 of the original MobileNet is wanted.
 */
export function makeRecipe(preset: RecipePreset, overrides: Partial<InputRecipe> = {}): InputRecipe {
  const base = preset === 'caffenet' ? caffenetRecipe() : mobilenetRecipe(overrides.resizeTo ?? 224);
  return validateRecipe({ ...base, ...overrides });
}

/**
 * The recipe's mean from a blob such as Caffe's mean .binaryproto (`[1,3,256,256]`, BGR):
 * `data` channels-first. The values are copied.
 */
export function meanImage(blob: { data: ArrayLike<number>; channels: number; height: number; width: number }): MeanImage {
  const size = blob.channels * blob.height * blob.width;
  if (blob.data.length !== size) {
    throw new ArgumentError(
      `mean image has ${blob.data.length} values, expected channels x height x width = ${blob.channels} x ${blob.height} x ${blob.width} = ${size}`,
    );
  }
  return { image: Float32Array.from(blob.data), channels: blob.channels, height: blob.height, width: blob.width };
}

/** The side S of the net's input `[3, S, S]`. */
export function netInputSize(recipe: InputRecipe): number {
  return recipe.crop ?? recipe.resizeTo;
}

/** Checks a recipe once (sizes, mean shape) so toNetInput need not; returns it. */
export function validateRecipe(recipe: InputRecipe): InputRecipe {
  const { resizeTo, crop, scale, mean } = recipe;
  if (!Number.isInteger(resizeTo) || resizeTo < 1) throw new ArgumentError(`recipe resizeTo ${resizeTo} must be a positive integer`);
  if (crop !== undefined && (!Number.isInteger(crop) || crop < 1 || crop > resizeTo)) {
    throw new ArgumentError(`recipe crop ${crop} must be an integer in [1, resizeTo = ${resizeTo}]`);
  }
  if (!Number.isFinite(scale)) throw new ArgumentError(`recipe scale ${scale} must be finite`);
  if ('values' in mean) {
    if (mean.values.length !== 1 && mean.values.length !== 3) {
      throw new ArgumentError(`recipe mean has ${mean.values.length} values; give 1 or 3 (one per channel, ${recipe.channelOrder})`);
    }
  } else {
    if (mean.channels !== 3 || mean.height !== resizeTo || mean.width !== resizeTo) {
      throw new ArgumentError(
        `mean image is ${mean.channels} x ${mean.height} x ${mean.width}; it must be 3 x ${resizeTo} x ${resizeTo}, ` +
          'the resized image (as in Caffe, it is cropped with the image)',
      );
    }
    if (mean.image.length !== 3 * resizeTo * resizeTo) {
      throw new ArgumentError(`mean image has ${mean.image.length} values, expected 3 x ${resizeTo} x ${resizeTo}`);
    }
  }
  return recipe;
}

/**
 * `[H,W,1|3]` (HWC, RGB or gray, 0-255) -> `[3,S,S]` channels-first, as described in InputRecipe.
 * With an Rng (training) the crop may be random and the image mirrored, as the recipe allows;
 * without one (validation, test) the crop is centred and nothing is mirrored, so evaluation is
 * deterministic.
 */
export function toNetInput(image: RasterImage, recipe: InputRecipe, rng?: Rng): Float32Array {
  const r = recipe.resizeTo;
  const sized = image.width === r && image.height === r ? image : resize(image, r, r);
  const size = netInputSize(recipe);
  const slack = r - size;
  const random = recipe.randomCrop === true && rng !== undefined;
  const y0 = random ? rng.int(slack + 1) : Math.floor(slack / 2);
  const x0 = random ? rng.int(slack + 1) : Math.floor(slack / 2);
  const mirror = recipe.flip === true || (recipe.mirror === true && rng !== undefined && rng.int(2) === 1);
  const { mean, scale } = recipe;
  const src = sized.data;
  const channels = sized.channels;
  const plane = size * size;
  const out = new Float32Array(3 * plane);
  // The mean value of output channel c, or undefined for a mean image.
  const meanValue = (c: number): number | undefined => ('values' in mean ? mean.values[mean.values.length === 1 ? 0 : c] : undefined);
  for (let c = 0; c < 3; c++) {
    // A gray image less the same mean value as the channel before: the same plane again.
    if (c > 0 && channels === 1 && meanValue(c) !== undefined && meanValue(c) === meanValue(c - 1)) {
      out.copyWithin(c * plane, (c - 1) * plane, c * plane);
      continue;
    }
    // Images are RGB; BGR output channel c reads RGB channel 2 - c. Gray images feed every channel.
    const from = channels === 1 ? 0 : recipe.channelOrder === 'BGR' ? 2 - c : c;
    // A mean value is read as a mean image whose every pixel is that value (stride 0).
    const [means, meanStep] = 'values' in mean ? [Float64Array.of(meanValue(c)!), 0] : [mean.image.subarray(c * r * r, (c + 1) * r * r), 1];
    for (let y = 0; y < size; y++) {
      normaliseRow(src, ((y0 + y) * r + x0) * channels + from, channels, means, ((y0 + y) * r + x0) * meanStep, meanStep, scale, out, (c * size + y) * size, size, mirror);
    }
  }
  return out;
}

/**
 * One row of a net input plane: `out[at + x] = (pixels[from + x * step] - mean[meanAt + x * meanStep]) * scale`
 * for x in [0, size), or at `size - 1 - x` mirrored.
 */
function normaliseRow(
  pixels: Float32Array | Uint8Array,
  from: number,
  step: number,
  mean: Float32Array | Float64Array,
  meanAt: number,
  meanStep: number,
  scale: number,
  out: Float32Array,
  at: number,
  size: number,
  mirror: boolean,
): void {
  if (mirror) {
    for (let x = 0; x < size; x++) out[at + size - 1 - x] = (pixels[from + x * step]! - mean[meanAt + x * meanStep]!) * scale;
  } else {
    for (let x = 0; x < size; x++) out[at + x] = (pixels[from + x * step]! - mean[meanAt + x * meanStep]!) * scale;
  }
}

/** A batch `[N,3,S,S]` of toNetInput results (same rng rules). */
export function toNetBatch(images: readonly RasterImage[], recipe: InputRecipe, rng?: Rng): Tensor<Float32Array> {
  const size = netInputSize(recipe);
  const per = 3 * size * size;
  const data = new Float32Array(images.length * per);
  images.forEach((image, n) => data.set(toNetInput(image, recipe, rng), n * per));
  return new Tensor(data, [images.length, 3, size, size]);
}
