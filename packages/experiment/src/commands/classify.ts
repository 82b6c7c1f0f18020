import { readFileSync } from 'node:fs';
import { DatasetError, isFileSystemError } from '../data/index.js';
import { writeSaliencyFile } from '../saliency/file.js';
import { CommandError } from './errors.js';
import { describeRecipe, imageToInput, loadForCommand, netInput, recipeFromFlags, setNetInput, type PreprocessFlags } from './input.js';
import { rankClasses, scoreBlob, type ClassScore } from './scores.js';

export type { ClassScore } from './scores.js';

/** Options of `cnn classify`. */
export interface ClassifyOptions extends PreprocessFlags {
  prototxt: string;
  weights: string;
  /** One class name per line, line i for class i (Caffe's synset_words.txt, labels.txt). */
  labels?: string;
  /** The blob holding the class scores (default: the top of the net's last layer). */
  blob?: string;
  /** How many classes to report per image (default 5). */
  top?: number;
  /** Run even when the weights lack layers that have parameters (they keep their fillers). */
  allowMissingWeights?: boolean;
  /** A folder to write each image's Grad-CAM overlay for its top class into (`<name>.saliency.png`). */
  saliency?: string;
}

/** The result for one image: its best classes, or why it could not be classified (then `top` is empty). */
export interface ImageResult {
  image: string;
  top: ClassScore[];
  /** The Grad-CAM overlay written for the top class (with --saliency). */
  saliency?: string;
  error?: string;
}

/** What `cnn classify` reports. */
export interface ClassifyReport {
  model: { prototxt: string; weights: string; loadMs: number };
  /** The blob read, and whether softmax was applied to it here (its layer was not a Softmax). */
  output: { blob: string; classes: number; softmaxApplied: boolean };
  preprocess: Record<string, unknown>;
  results: ImageResult[];
}

/** Reads a labels file: one label per line, trailing blank lines ignored. */
export function readLabels(file: string): string[] {
  const lines = readFileSync(file, 'utf8').split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1]!.trim() === '') lines.pop();
  return lines.map((line) => line.trim());
}

/**
 * `cnn classify`: each image (PNG, JPEG or DICOM) is preprocessed as the flags say, run through
 * the net one at a time, and its best classes are reported with their probabilities. The
 * scores are the output blob itself when a Softmax made it, else its softmax. An image that
 * cannot be read or decoded gets an `error` in its place and the others are still classified
 * (see classifyFailures).
 */
export function runClassify(images: readonly string[], options: ClassifyOptions): ClassifyReport {
  if (images.length === 0) throw new CommandError('give at least one image to classify');
  const model = loadForCommand(options.prototxt, options.weights, options.allowMissingWeights);
  const { net } = model;
  const input = netInput(net, options.prototxt);
  const recipe = recipeFromFlags(options, input);
  const channels = input.shape[1] ?? 3;

  const output = scoreBlob(net, options.blob);
  if (output === undefined) throw new CommandError(`${options.prototxt}: the last layer has no top blob to read classes from; name one with --blob`);
  const { blob: blobName, softmaxApplied } = output;
  const labels = options.labels ? readLabels(options.labels) : undefined;
  const count = options.top ?? 5;

  let classes = 0;
  const results = images.map((image): ImageResult => {
    let pixels: { values: Float32Array; side: number };
    try {
      pixels = imageToInput(image, recipe, channels, options.maxMegapixels);
    } catch (error) {
      // One unreadable image among many is reported in its place; the others are still classified.
      if (!(error instanceof DatasetError || isFileSystemError(error))) throw error;
      return { image, top: [], error: `${(error as Error).name}: ${(error as Error).message}` };
    }
    const { values, side } = pixels;
    setNetInput(net, input, [1, channels, side, side], values);
    net.forward();
    const blob = net.blob(blobName);
    classes = blob.count / (blob.shape[0] ?? 1);
    if (labels && labels.length !== classes) {
      throw new CommandError(
        `${options.labels} has ${labels.length} labels but blob '${blobName}' has ${classes} classes ` +
          '(a labels file with a background line 0, or the wrong one?)',
      );
    }
    const top = rankClasses(Array.from(blob.data.data.subarray(0, classes)), softmaxApplied, labels, count);
    // Grad-CAM differentiates the score before any softmax: a Softmax's output is traced back to its input.
    const saliency = options.saliency
      ? writeSaliencyFile(net, values, top[0]!.index, image, recipe, options.saliency, { scoreBlob: softmaxApplied ? blobName : undefined, maxMegapixels: options.maxMegapixels })
      : undefined;
    return { image, top, ...(saliency ? { saliency } : {}) };
  });
  return {
    model: { prototxt: options.prototxt, weights: options.weights, loadMs: Math.round(model.loadMs) },
    output: { blob: blobName, classes, softmaxApplied },
    preprocess: describeRecipe(recipe, options),
    results,
  };
}

/** The text `cnn classify` prints: per image, its best classes with probabilities. */
export function formatClassify(report: ClassifyReport): string {
  const lines: string[] = [];
  for (const result of report.results) {
    lines.push(result.image);
    if (result.error !== undefined) lines.push(`  error: ${result.error}`);
    result.top.forEach((score, rank) => {
      const label = score.label === null ? '' : `  ${score.label}`;
      lines.push(`  ${rank + 1}. ${score.probability.toFixed(4)}  class ${score.index}${label}`);
    });
    if (result.saliency) lines.push(`  saliency: ${result.saliency}`);
  }
  if (report.output.softmaxApplied) lines.push(`(probabilities: softmax of blob '${report.output.blob}')`);
  return lines.join('\n');
}

/** The error that ends a classify run in which some images failed (after all results are printed), or undefined. */
export function classifyFailures(report: ClassifyReport): CommandError | undefined {
  const failed = report.results.filter((result) => result.error !== undefined);
  if (failed.length === 0) return undefined;
  return new CommandError(`${failed.length} of ${report.results.length} image(s) could not be classified: ${failed.map((r) => r.image).join(', ')}`);
}
