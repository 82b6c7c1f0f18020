import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Net } from '@cnn/nn';
import { crop, decodeImage, netInputSize, pixelLimit, resize, type InputRecipe, type RasterImage } from '../data/index.js';
import { gradCam, lastConvolution } from './grad-cam.js';
import { saliencyPng } from './overlay.js';

/**
 * The image as the net sees it, before its values are normalised: resized to the recipe's
 * side and centre-cropped as the recipe crops, in its own colours.
 */
export function imageAsSeen(image: RasterImage, recipe: InputRecipe): RasterImage {
  const sized = resize(image, recipe.resizeTo, recipe.resizeTo);
  const side = netInputSize(recipe);
  const offset = Math.floor((recipe.resizeTo - side) / 2);
  return side === recipe.resizeTo ? sized : crop(sized, offset, offset, side, side);
}

/**
 * `cnn classify --saliency DIR`: the Grad-CAM of `classIndex` at the net's last convolution
 * for the preprocessed `input` of image file `file`, laid over that image as the net saw it,
 * written atomically as `DIR/<image name>.saliency.png`. Returns the path written.
 */
export function writeSaliencyFile(
  net: Net,
  input: Float32Array,
  classIndex: number,
  file: string,
  recipe: InputRecipe,
  dir: string,
  options: { scoreBlob?: string; maxMegapixels?: number } = {},
): string {
  const cam = gradCam(net, input, lastConvolution(net), classIndex, { scoreBlob: options.scoreBlob });
  const image = decodeImage(readFileSync(file), file, { maxPixels: pixelLimit(options.maxMegapixels) });
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${basename(file).replace(/\.[^.]+$/, '')}.saliency.png`);
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, saliencyPng(imageAsSeen(image, recipe), cam));
  renameSync(temporary, path);
  return path;
}
