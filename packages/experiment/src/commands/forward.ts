import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Net, NetDef } from '@cnn/nn';
import { detectFormat } from '../data/index.js';
import { openOutFolder } from '../out-folder.js';
import { CommandError } from './errors.js';
import { float32Bytes, layerFileName, readFloat32File, writeFileAtomic } from './files.js';
import { describeRecipe, imageToInput, loadForCommand, netInput, parseShape, recipeFromFlags, setNetInput, type PreprocessFlags } from './input.js';

/** Options of `cnn forward`. */
export interface ForwardOptions extends PreprocessFlags {
  prototxt: string;
  weights?: string;
  /** A raw little-endian float32 tensor (with `shape`) or an image file. */
  input: string;
  /** `N,C,H,W` of a raw input; its presence says the input is raw. */
  shape?: string;
  /** Output folder (created when missing). */
  out: string;
  /** Comma-separated layer names: write only these layers' tops. */
  outputs?: string;
  /** Run even when the weights lack layers that have parameters (they keep their fillers). */
  allowMissingWeights?: boolean;
}

/** One written tensor, as listed in `index.json`. */
export interface ForwardEntry {
  layer: string;
  type: string;
  top: string;
  shape: number[];
  file: string;
}

/** The contents of `DIR/index.json`. */
export interface ForwardIndex {
  layers: ForwardEntry[];
  input: {
    source: string;
    kind: 'raw' | 'image';
    blob: string;
    shape: number[];
    /** The tensor fed to the net, as written to the folder. */
    file: string;
    preprocess?: Record<string, unknown>;
  };
  model: { prototxt: string; weights: string | null };
  timing: { loadMs: number; forwardMs: number };
}

/**
 * `cnn forward`: runs the net once on one input and writes, right after each layer runs, that
 * layer's top blob to `DIR/<layer>.f32` (raw little-endian float32, NCHW). An in-place layer
 * (ReLU, Dropout, ...) rewrites its bottom, so writing after each layer is what gives `conv1`
 * and `relu1` each their own file. `DIR/index.json` lists the files in execution order. Layers
 * the runtime adds (the Split copies of a blob read twice) and the Input layer are not listed;
 * the input tensor is described under `input` and written as `input.f32`. The folder is built
 * beside DIR and moved into place at the end (openOutFolder): a failed run leaves no partial
 * folder, and `log` says when an earlier output was replaced.
 */
export function runForward(options: ForwardOptions, log: (line: string) => void = () => undefined): ForwardIndex {
  const model = loadForCommand(options.prototxt, options.weights, options.allowMissingWeights);
  const { net, def } = model;
  const input = netInput(net, options.prototxt);

  let values: Float32Array;
  let shape: number[];
  let kind: 'raw' | 'image';
  let preprocess: Record<string, unknown> | undefined;
  if (options.shape !== undefined) {
    shape = parseShape(options.shape);
    values = readFloat32File(options.input, shape);
    kind = 'raw';
  } else {
    const head = readFileSync(options.input).subarray(0, 132);
    if (detectFormat(head) === undefined) {
      throw new CommandError(`${options.input} is not a PNG, JPEG or DICOM image; for a raw float32 tensor give --shape N,C,H,W`);
    }
    const recipe = recipeFromFlags(options, input);
    const channels = input.shape[1] ?? 3;
    const image = imageToInput(options.input, recipe, channels, options.maxMegapixels);
    values = image.values;
    shape = [1, channels, image.side, image.side];
    kind = 'image';
    preprocess = describeRecipe(recipe, options);
  }
  setNetInput(net, input, shape, values);

  const wanted = options.outputs?.split(',').map((name) => name.trim()).filter(Boolean);
  if (wanted) {
    const known = new Set(net.layers.map((layer) => layer.name));
    const unknown = wanted.filter((name) => !known.has(name));
    if (unknown.length > 0) {
      throw new CommandError(`--outputs names unknown layer(s) ${unknown.join(', ')}; the net's layers: ${net.layers.map((l) => l.name).join(', ')}`);
    }
  }
  const selected = wanted ? new Set(wanted) : undefined;

  // An earlier forward output in the folder is replaced (the run is a pure function of its inputs);
  // a folder holding anything else is refused. Written beside it and moved in at the end.
  const folder = openOutFolder(options.out, { marker: 'index.json', force: true, log });
  try {
    const index = forwardInto(folder.dir, net, def, selected, { options, values, shape, kind, inputName: input.name, preprocess, loadMs: model.loadMs });
    folder.commit();
    return index;
  } catch (error) {
    folder.abandon();
    throw error;
  }
}

/** The forward pass writing each layer's tops into `dir`, then `index.json`. */
function forwardInto(
  dir: string,
  net: Net,
  def: NetDef,
  selected: Set<string> | undefined,
  run: { options: ForwardOptions; values: Float32Array; shape: number[]; kind: 'raw' | 'image'; inputName: string; preprocess: Record<string, unknown> | undefined; loadMs: number },
): ForwardIndex {
  const { options, values, shape, kind, preprocess } = run;
  // Layers named in the prototxt; the runtime's Split layers are not among them.
  const defined = new Set(def.layers.map((layer) => layer.name));
  const taken = new Set<string>(['index.json', 'input.f32']);
  writeFileAtomic(path.join(dir, 'input.f32'), float32Bytes(values, values.length));

  const layers: ForwardEntry[] = [];
  let writeMs = 0;
  const started = performance.now();
  net.forward({
    afterLayer: (_index, layer, tops) => {
      if (layer.type === 'Input' || !defined.has(layer.name)) return;
      if (selected && !selected.has(layer.name)) return;
      const writeStarted = performance.now();
      for (const top of tops) {
        const file = layerFileName(tops.length === 1 ? layer.name : `${layer.name}.${top.name}`, '.f32', taken);
        // Written now: the next in-place layer will overwrite this blob.
        writeFileAtomic(path.join(dir, file), float32Bytes(top.data.data, top.count));
        layers.push({ layer: layer.name, type: layer.type, top: top.name, shape: [...top.shape], file });
      }
      writeMs += performance.now() - writeStarted;
    },
  });
  const forwardMs = performance.now() - started - writeMs;

  const index: ForwardIndex = {
    layers,
    input: { source: options.input, kind, blob: run.inputName, shape, file: 'input.f32', ...(preprocess ? { preprocess } : {}) },
    model: { prototxt: options.prototxt, weights: options.weights ?? null },
    timing: { loadMs: round(run.loadMs), forwardMs: round(forwardMs) },
  };
  writeFileAtomic(path.join(dir, 'index.json'), `${JSON.stringify(index, null, 2)}\n`);
  return index;
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

/** The one line `cnn forward` prints when it is done. */
export function formatForward(index: ForwardIndex, out: string): string {
  return (
    `wrote ${index.layers.length} tensor(s) and index.json to ${out} ` +
    `(input ${index.input.shape.join('x')}, load ${index.timing.loadMs.toFixed(0)} ms, forward ${index.timing.forwardMs.toFixed(0)} ms)`
  );
}
