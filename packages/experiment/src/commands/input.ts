import { readFileSync } from 'node:fs';
import { blobShape, loadModel, readBinaryprotoFile, type LoadedModel } from '@cnn/caffe-import';
import {
  decodeImage,
  makeRecipe,
  meanImage,
  pixelLimit,
  validateRecipe,
  type InputRecipe,
  type RecipePreset,
} from '../data/index.js';
import { CommandError } from './errors.js';
import { rasterToInput, type NetInput } from './net-input.js';

export { netInput, setNetInput, type NetInput } from './net-input.js';

/**
 * The preprocessing flags shared by `cnn forward` and `cnn classify`, as commander hands them
 * over. Everything is optional: a preset fills the rest, and each flag replaces its part.
 */
export interface PreprocessFlags {
  /** `caffenet` (BGR, mean 104/117/123, resize 256, crop 227) or `mobilenet` (RGB, (x - 128) / 128). */
  preset?: string;
  /** A mean image `.binaryproto` (Caffe's `mean_file`), in the net's channel order. */
  meanFile?: string;
  /** Per-channel means `B,G,R` (in the net's channel order; one value for all channels). */
  meanValues?: string;
  /** Multiplies `(pixel - mean)`: Caffe's transform_param `scale`. */
  scale?: number;
  channelOrder?: string;
  /** Side of the square the whole image is resized to (default: the net's input side, or the mean's). */
  resize?: number;
  /** Side of the centre crop taken after the resize. */
  crop?: number;
  /** The most megapixels an image may declare (default 50: see DEFAULT_MAX_PIXELS). */
  maxMegapixels?: number;
}

/** A loaded model and how long it took to be ready to run. */
export interface ModelForCommand extends LoadedModel {
  loadMs: number;
}

/**
 * Loads prototxt + weights into a ready net (see loadModel) and times it. Layers the weights
 * lack are an error unless `allowMissingWeights` (`--allow-missing-weights`) lets them start
 * from their fillers.
 */
export function loadForCommand(prototxt: string, weights: string | undefined, allowMissingWeights = false): ModelForCommand {
  const started = performance.now();
  const model = loadModel({ prototxt, weights, allowMissingWeights });
  return { ...model, loadMs: performance.now() - started };
}

/** `"1,3,227,227"` -> `[1, 3, 227, 227]`; every dimension a positive integer. */
export function parseShape(text: string): number[] {
  const dims = text.split(/[,x ]+/).filter(Boolean).map(Number);
  if (dims.length === 0 || dims.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new CommandError(`--shape '${text}' is not a list of positive integers such as 1,3,227,227`);
  }
  return dims;
}

/** `--mean-values`: one number, or three in the net's channel order. */
export function parseMeanValues(text: string): number[] {
  const values = text.split(',').map((v) => Number(v.trim()));
  if (values.some((v) => v === undefined || !Number.isFinite(v)) || (values.length !== 1 && values.length !== 3)) {
    throw new CommandError(`--mean-values '${text}' must be one number or three (B,G,R in the net's channel order), such as 104,117,123`);
  }
  return values;
}

/**
 * The input recipe the flags describe for a net whose input is `[N, C, H, W]`. Without a preset:
 * BGR, no mean, scale 1, the whole image resized to the net's input side (or to the mean image's
 * side when a mean file is given, since Caffe crops the mean with the image).
 */
export function recipeFromFlags(flags: PreprocessFlags, input: NetInput): InputRecipe {
  const preset = flags.preset;
  if (preset !== undefined && preset !== 'caffenet' && preset !== 'mobilenet') {
    throw new CommandError(`--preset '${preset}' is not one of caffenet, mobilenet`);
  }
  const order = flags.channelOrder?.toUpperCase();
  if (order !== undefined && order !== 'BGR' && order !== 'RGB') {
    throw new CommandError(`--channel-order '${flags.channelOrder}' must be BGR or RGB`);
  }
  if (flags.meanFile !== undefined && flags.meanValues !== undefined) {
    throw new CommandError('give either --mean-file or --mean-values, not both');
  }
  const [, , height, width] = input.shape;
  const overrides: Partial<InputRecipe> = {};
  if (order !== undefined) overrides.channelOrder = order;
  if (flags.scale !== undefined) overrides.scale = flags.scale;
  if (flags.crop !== undefined) overrides.crop = flags.crop;
  if (flags.meanValues !== undefined) overrides.mean = { values: parseMeanValues(flags.meanValues) };
  let meanSide: number | undefined;
  if (flags.meanFile !== undefined) {
    const blob = readBinaryprotoFile(flags.meanFile);
    const dims = blobShape(blob);
    const [channels, h, w] = dims.slice(-3);
    if (dims.length < 3 || channels === undefined || h === undefined || w === undefined || h !== w) {
      throw new CommandError(`${flags.meanFile}: the mean blob is [${dims.join(',')}]; a square C x S x S mean image is needed`);
    }
    overrides.mean = meanImage({ data: blob.data, channels, height: h, width: w });
    meanSide = h;
  }
  const resize = flags.resize ?? meanSide;
  if (resize !== undefined) overrides.resizeTo = resize;
  if (preset !== undefined) {
    // mobilenet resizes the whole image to the net's side unless told otherwise.
    if (preset === 'mobilenet' && overrides.resizeTo === undefined && height !== undefined) overrides.resizeTo = height;
    return makeRecipe(preset as RecipePreset, overrides);
  }
  if (overrides.resizeTo === undefined) {
    if (height === undefined || width === undefined || height !== width) {
      throw new CommandError(
        `the net's input '${input.name}' is [${input.shape.join(',')}], not square: give --resize (and --crop), or feed a raw tensor with --shape`,
      );
    }
    overrides.resizeTo = height;
  }
  return validateRecipe({
    channelOrder: 'BGR',
    mean: { values: [0] },
    scale: 1,
    crop: undefined,
    ...overrides,
    resizeTo: overrides.resizeTo,
  });
}

/** A one-line account of a recipe, for index.json and the classify report. */
export function describeRecipe(recipe: InputRecipe, flags: PreprocessFlags): Record<string, unknown> {
  return {
    preset: flags.preset ?? null,
    channelOrder: recipe.channelOrder,
    mean: 'values' in recipe.mean ? { values: recipe.mean.values } : { file: flags.meanFile, shape: [recipe.mean.channels, recipe.mean.height, recipe.mean.width] },
    scale: recipe.scale,
    resize: recipe.resizeTo,
    crop: recipe.crop ?? null,
  };
}

/**
 * Decodes an image file (PNG, JPEG or DICOM, told by its bytes) and applies the recipe (see
 * rasterToInput). An image declaring more than `maxMegapixels` (default 50) is refused before
 * it is decoded.
 */
export function imageToInput(file: string, recipe: InputRecipe, channels: number, maxMegapixels?: number): { values: Float32Array; side: number } {
  return rasterToInput(decodeImage(readFileSync(file), file, { maxPixels: pixelLimit(maxMegapixels) }), recipe, channels);
}
