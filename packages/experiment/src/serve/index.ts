import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { CommandError } from '../commands/errors.js';
import { readLabels } from '../commands/classify.js';
import { loadForCommand, netInput, recipeFromFlags, type PreprocessFlags } from '../commands/input.js';
import { startServeServer, type ServedModel, type ServeServer } from './server.js';

export { startServeServer, DEFAULT_BUNDLE, type ServedModel, type ServeOptions, type ServeServer } from './server.js';

/** The options of `cnn serve`, as commander hands them over. */
export interface ServeCommandOptions extends PreprocessFlags {
  /** An experiment's output folder: deploy.prototxt, retrained.caffemodel, classes.txt (experiment.json for the recipe). */
  model?: string;
  port?: number;
  host?: string;
}

/**
 * Reads an experiment's output folder for the pages: the net is built here once, so a broken
 * model is reported when the server starts (with the importer's error), and its input recipe
 * is the one the experiment used (experiment.json), each preprocessing flag given replacing
 * its part, exactly as `cnn classify` with those flags would preprocess.
 *
 * @throws CommandError naming the missing file, or the importer's error for a bad model
 */
export function readServedModel(dir: string, flags: PreprocessFlags = {}): ServedModel {
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
  const recipe = recipeFromFlags({ ...used, ...definedOnly(flags) }, netInput(net, prototxt));
  return { name: path.basename(path.resolve(dir)), prototxt: readFileSync(prototxt, 'utf8'), weights: readFileSync(weights), classes, recipe };
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

/** Starts `cnn serve` with the command's options. */
export async function startServing(options: ServeCommandOptions): Promise<ServeServer> {
  const { model, port, host, ...flags } = options;
  return startServeServer({
    ...(model !== undefined ? { model: readServedModel(model, flags) } : {}),
    ...(port !== undefined ? { port } : {}),
    ...(host !== undefined ? { host } : {}),
  });
}

/** `cnn serve`: prints the address and serves until Ctrl+C or SIGTERM. */
export async function runServeCommand(options: ServeCommandOptions, print: (text: string) => void = (text) => console.log(text)): Promise<void> {
  const server = await startServing(options);
  print(`cnn serve: ${options.model !== undefined ? `model ${options.model}; ` : ''}pages /learn and /classify\nopen ${server.url}\nCtrl+C stops the server.`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await server.close();
}
