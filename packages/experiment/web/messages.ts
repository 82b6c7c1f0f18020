import type { ClassScore } from '../src/commands/scores.js';
import type { InputRecipe } from '../src/data/recipe.js';

/*
 * What the pages and their engine worker (engine.ts) say to each other. The library runs in
 * the worker: its pool waits with Atomics.wait, which a page's main thread may not do.
 */

/** The library's settings, chosen in the page. */
export interface EngineSettings {
  threads: number;
  backend: 'js' | 'wasm';
}

/** What the engine runs with, as the library reports it. */
export interface EngineInfo {
  backend: string;
  threads: number;
  simd: boolean;
  cores: number;
  crossOriginIsolated: boolean;
}

/** An image as the page decoded it: RGB, 8 bits a sample, row after row. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** A model to open: a prototxt and its weights, with the names errors give. */
export interface ModelFiles {
  prototxt: string;
  prototxtName: string;
  weights: ArrayBuffer;
  weightsName: string;
  /** Class names, line i for class i, or null. */
  classes: string[] | null;
  /** How images become the net's input, or null to use the preset on the net's input size. */
  recipe: InputRecipe | null;
  preset: 'caffenet' | 'mobilenet';
}

/** A map (one channel of a blob) to draw: `height x width` values. */
export interface Plane {
  width: number;
  height: number;
  values: Float32Array;
}

/** The convolution walkthrough: the kidney patch, a filter, and what the library computed. */
export interface ConvolutionSteps {
  patch: number[][];
  filter: number[][];
  /** The library's output, `[outH][outW]`. */
  output: number[][];
  /** For each output position (row-major), the pixels under the filter, as im2col lays them out. */
  windows: number[][];
}

/** One report of the training run. */
export interface LearnProgress {
  iter: number;
  /** Loss and training-batch accuracy of every iteration since the last report. */
  losses: number[];
  accuracies: number[];
  classes: string[];
  /** The chosen example: its pixels, class, and the net's probabilities for it. */
  example: { image: Plane; label: number; probabilities: number[] };
  /** conv1's filters. */
  filters: Plane[];
  /** The example's activations per layer (top blobs after the layer ran). */
  activations: { layer: string; planes: Plane[] }[];
  /** The gradient backprop sends to each blob, for the example (the input's is not computed: nothing learns there). */
  gradients: { blob: string; planes: Plane[] }[];
  millisecondsPerIteration: number;
}

/** A classified image. */
export interface Classified {
  top: ClassScore[];
  /** The forward pass and ranking, without the saliency map. */
  milliseconds: number;
  /** Grad-CAM of the top class at `layer`, over the image as the net saw it, as RGBA pixels. */
  saliency: { layer: string; width: number; height: number; rgba: Uint8Array };
}

/** A model the engine opened. */
export interface OpenedModel {
  input: readonly number[];
  layers: number;
  classes: number | null;
  milliseconds: number;
}

export type Request =
  | { type: 'configure'; settings: EngineSettings }
  | { type: 'open-model'; files: ModelFiles }
  | { type: 'classify'; image: RgbImage }
  | { type: 'convolution' }
  | { type: 'learn'; seed: number; iterations: number };

/** The engine's answer to request `id`. */
export type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: { name: string; message: string } };

/** What the engine sends unasked. */
export type EngineEvent = { type: 'learn-progress'; progress: LearnProgress };
