import type { Net } from '@cnn/nn';
import { netInputSize, toNetInput, type InputRecipe } from '../data/recipe.js';
import { toGray } from '../data/preprocess.js';
import type { RasterImage } from '../data/image.js';
import { CommandError } from './errors.js';

/*
 * Feeding a decoded image to a net, without touching files: shared by `cnn forward`,
 * `cnn classify` and the pages of `cnn serve` (which bundle this module for the browser).
 */

/** The net's input blob: its name and shape `[N, C, H, W]`. */
export interface NetInput {
  name: string;
  shape: readonly number[];
}

/** The first input blob of the net (the top of its Input layer, or its `input:` field). */
export function netInput(net: Net, prototxt: string): NetInput {
  const name = net.inputNames[0];
  if (name === undefined) {
    throw new CommandError(`${prototxt}: the net has no input blob (no Input layer and no 'input:' field), so there is nothing to feed`);
  }
  return { name, shape: net.blob(name).shape };
}

/** Puts `values` of `shape` into the net's input blob, reshaping the whole net when the shape changed. */
export function setNetInput(net: Net, input: NetInput, shape: readonly number[], values: Float32Array): void {
  const blob = net.blob(input.name);
  if (shape.length !== blob.shape.length || shape.some((d, i) => d !== blob.shape[i])) {
    blob.reshape(shape);
    net.reshape();
  }
  blob.data.data.set(values.subarray(0, blob.count));
}

/**
 * Applies the recipe to a decoded image: `[channels, S, S]` with S = crop or resize. A
 * 1-channel net (LeNet) gets the image's luminance; a 3-channel net gets its colours (gray
 * images replicated) in the recipe's order.
 */
export function rasterToInput(image: RasterImage, recipe: InputRecipe, channels: number): { values: Float32Array; side: number } {
  const side = netInputSize(recipe);
  if (channels === 3) return { values: toNetInput(image, recipe), side };
  if (channels === 1) {
    // A gray image goes to every channel of toNetInput's output; plane 0 is the one we need.
    const planes = toNetInput(toGray(image), recipe);
    return { values: planes.slice(0, side * side), side };
  }
  throw new CommandError(`the net's input has ${channels} channels; images can feed 1- or 3-channel inputs only (use a raw tensor with --shape)`);
}
