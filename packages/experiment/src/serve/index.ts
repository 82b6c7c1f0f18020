import { readFileSync } from 'node:fs';
import type { PreprocessFlags } from '../commands/input.js';
import { openModelDir } from '../commands/model-dir.js';
import { untilStopped } from '../http/local-server.js';
import { startServeServer, type ServedModel, type ServeServer } from './server.js';

export { startServeServer, DEFAULT_BUNDLE, type ServedModel, type ServeOptions, type ServeServer } from './server.js';

/** The options of `cnn serve`, as commander hands them over. */
export interface ServeCommandOptions extends PreprocessFlags {
  /** An experiment's output folder: deploy.prototxt, retrained.caffemodel, classes.txt (experiment.json for the recipe). */
  model?: string;
  port?: number;
  host?: string;
}

/** An experiment's output folder for the pages (see openModelDir): the files as bytes, the recipe, the classes. */
export function readServedModel(dir: string, flags: PreprocessFlags = {}): ServedModel {
  const model = openModelDir(dir, flags);
  return { name: model.name, prototxt: readFileSync(model.prototxt, 'utf8'), weights: readFileSync(model.weights), classes: model.classes, recipe: model.recipe };
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
  await untilStopped();
  await server.close();
}
