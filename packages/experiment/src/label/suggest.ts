import { DatasetError, isFileSystemError } from '../data/index.js';
import { imageToInput, setNetInput } from '../commands/input.js';
import type { ModelDir } from '../commands/model-dir.js';
import { rankClasses, scoreBlob } from '../commands/scores.js';
import { LabelError } from './errors.js';

/** The model's guess for one image: its best class and that class's probability. */
export interface Suggestion {
  label: string;
  confidence: number;
}

/**
 * The model's suggestion for each image, as `cnn classify` ranks classes (top 1 and its
 * probability). An image that cannot be read gets none, and a line in `problems`.
 */
export function suggestLabels(model: ModelDir, files: readonly string[], maxMegapixels?: number): { suggestions: (Suggestion | undefined)[]; problems: string[] } {
  const { net, input, recipe, classes } = model;
  const output = scoreBlob(net);
  if (output === undefined) throw new LabelError(`--model ${model.name}: the net's last layer has no top blob to read classes from`);
  const channels = input.shape[1] ?? 3;
  const problems: string[] = [];
  const suggestions = files.map((file): Suggestion | undefined => {
    let pixels: { values: Float32Array; side: number };
    try {
      pixels = imageToInput(file, recipe, channels, maxMegapixels);
    } catch (error) {
      if (!(error instanceof DatasetError || isFileSystemError(error))) throw error;
      problems.push(file);
      return undefined;
    }
    setNetInput(net, input, [1, channels, pixels.side, pixels.side], pixels.values);
    net.forward();
    const blob = net.blob(output.blob);
    const count = blob.count / (blob.shape[0] ?? 1);
    if (count !== classes.length) throw new LabelError(`--model ${model.name}: classes.txt names ${classes.length} classes but the net scores ${count}`);
    const [best] = rankClasses(Array.from(blob.data.data.subarray(0, count)), output.softmaxApplied, classes, 1);
    return { label: best!.label!, confidence: best!.probability };
  });
  return { suggestions, problems };
}
