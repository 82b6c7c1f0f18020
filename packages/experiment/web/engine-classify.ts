import { buildNet, parseNetPrototxt, readCaffemodel } from '@cnn/caffe-import';
import type { Net } from '@cnn/nn';
import { netInput, rasterToInput, setNetInput, type NetInput } from '../src/commands/net-input.js';
import { rankClasses, scoreBlob, type ScoreBlob } from '../src/commands/scores.js';
import { makeRecipe, netInputSize, type InputRecipe } from '../src/data/recipe.js';
import { crop, resize } from '../src/data/preprocess.js';
import type { RasterImage } from '../src/data/image.js';
import { gradCam, lastConvolution } from '../src/saliency/grad-cam.js';
import { overlaySaliency } from '../src/saliency/overlay.js';
import type { Classified, ModelFiles, OpenedModel, RgbImage } from './messages.js';

/** The classes /classify shows per image. */
const TOP = 5;

/** The open model, as `cnn classify` would hold it. */
interface OpenModel {
  net: Net;
  input: NetInput;
  recipe: InputRecipe;
  output: ScoreBlob;
  classes: string[] | undefined;
}

let model: OpenModel | undefined;

/**
 * Opens a prototxt + caffemodel pair with the importer (its errors reach the page as they are:
 * CaffeFormatError naming file, line or byte offset), and the recipe the server gave or the
 * preset's on the net's input side.
 */
export function openModel(files: ModelFiles): OpenedModel {
  const started = performance.now();
  model = undefined;
  const definition = parseNetPrototxt(files.prototxt, files.prototxtName);
  const weights = readCaffemodel(new Uint8Array(files.weights), files.weightsName);
  const { net } = buildNet(definition, weights, { file: files.prototxtName, weightsFile: files.weightsName });
  const input = netInput(net, files.prototxtName);
  const output = scoreBlob(net);
  if (output === undefined) throw new Error(`${files.prototxtName}: the last layer has no top blob to read classes from`);
  const side = input.shape[2];
  const recipe = files.recipe ?? makeRecipe(files.preset, files.preset === 'mobilenet' && side !== undefined ? { resizeTo: side } : {});
  model = { net, input, recipe, output, classes: files.classes ?? undefined };
  return { input: input.shape, layers: net.layers.length, classes: files.classes?.length ?? null, milliseconds: performance.now() - started };
}

/**
 * The best classes of one image, as `cnn classify` ranks them, and the Grad-CAM map of the
 * best one at the net's last convolution, laid over the image as the net saw it.
 */
export function classifyImage(image: RgbImage): Classified {
  if (!model) throw new Error('open a model first');
  const { net, input, recipe, output, classes } = model;
  const started = performance.now();
  const channels = input.shape[1] ?? 3;
  const raster: RasterImage = { width: image.width, height: image.height, channels: 3, data: image.data };
  const { values, side } = rasterToInput(raster, recipe, channels);
  setNetInput(net, input, [1, channels, side, side], values);
  net.forward();
  const blob = net.blob(output.blob);
  const count = blob.count / (blob.shape[0] ?? 1);
  if (classes && classes.length !== count) throw new Error(`the class list has ${classes.length} names but blob '${output.blob}' has ${count} classes`);
  const top = rankClasses(Array.from(blob.data.data.subarray(0, count)), output.softmaxApplied, classes, TOP);
  const milliseconds = performance.now() - started;
  const layer = lastConvolution(net);
  const cam = gradCam(net, values, layer, top[0]!.index);
  const overlay = overlaySaliency(seenByNet(raster, recipe), cam);
  return { top, milliseconds, saliency: { layer, width: overlay.width, height: overlay.height, rgba: overlay.rgba } };
}

/** The image as the net's input holds it: resized, then centre-cropped (the recipe's steps 1 and 3). */
function seenByNet(image: RasterImage, recipe: InputRecipe): RasterImage {
  const r = recipe.resizeTo;
  const sized = image.width === r && image.height === r ? image : resize(image, r, r);
  const size = netInputSize(recipe);
  const offset = Math.floor((r - size) / 2);
  return size === r ? sized : crop(sized, offset, offset, size, size);
}
