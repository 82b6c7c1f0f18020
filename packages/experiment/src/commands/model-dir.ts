import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Net } from '@cnn/nn';
import type { InputRecipe } from '../data/index.js';
import { readLabels } from './classify.js';
import { CommandError } from './errors.js';
import { loadForCommand, netInput, recipeFromFlags, type NetInput, type PreprocessFlags } from './input.js';

/** An experiment's retrained model, opened: `cnn serve --model` and `cnn label --model` read it. */
export interface ModelDir {
  /** The folder's name. */
  name: string;
  prototxt: string;
  weights: string;
  classes: string[];
  recipe: InputRecipe;
  net: Net;
  input: NetInput;
}

/**
 * Opens an experiment's output folder (deploy.prototxt, retrained.caffemodel, classes.txt):
 * the net is built (so a broken model is reported now, with the importer's error) and its
 * input recipe is the one the experiment used (experiment.json), each preprocessing flag
 * given replacing its part, exactly as `cnn classify` with those flags would preprocess.
 *
 * @throws CommandError naming a missing file or a bad experiment.json, or the importer's error
 */
export function openModelDir(dir: string, flags: PreprocessFlags = {}): ModelDir {
  const file = (name: string): string => {
    const full = path.join(dir, name);
    if (!existsSync(full)) throw new CommandError(`--model ${dir}: ${name} is missing (an experiment's output folder holds deploy.prototxt, retrained.caffemodel and classes.txt)`);
    return full;
  };
  const prototxt = file('deploy.prototxt');
  const weights = file('retrained.caffemodel');
  const classes = readLabels(file('classes.txt'));
  const config = path.join(dir, 'experiment.json');
  const used: PreprocessFlags = existsSync(config) ? experimentFlags(config) : {};
  const { net } = loadForCommand(prototxt, weights);
  const input = netInput(net, prototxt);
  const recipe = recipeFromFlags({ ...used, ...definedOnly(flags) }, input);
  return { name: path.basename(path.resolve(dir)), prototxt, weights, classes, recipe, net, input };
}

/** The preprocessing settings an experiment ran with (experiment.json's keys). */
function experimentFlags(file: string): PreprocessFlags {
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new CommandError(`${file}: not valid JSON (${(error as Error).message})`);
  }
  const text = (key: string): string | undefined => (typeof config[key] === 'string' ? (config[key] as string) : undefined);
  const number = (key: string): number | undefined => (typeof config[key] === 'number' ? (config[key] as number) : undefined);
  return definedOnly({
    preset: text('preset'),
    meanFile: text('mean'),
    meanValues: text('meanValues'),
    channelOrder: text('channelOrder'),
    scale: number('scale'),
    resize: number('resize'),
    crop: number('crop'),
  });
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
