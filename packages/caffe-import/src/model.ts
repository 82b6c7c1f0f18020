import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { DType } from '@cnn/tensor';
import type { Net, NetDef, Phase } from '@cnn/nn';
import { buildNet, type WeightReport } from './build.js';
import { readCaffemodel } from './caffemodel.js';
import { CaffeFormatError } from './errors.js';
import { readNetPrototxtFile } from './prototxt.js';
import type { NetParameter } from './schema.js';

/**
 * Reads a whole file into shared memory, so that the weight blobs viewed in it can
 * be handed to the worker pool without a copy.
 */
export function readFileShared(path: string): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const bytes = new Uint8Array(new SharedArrayBuffer(size));
    let at = 0;
    while (at < size) {
      const read = readSync(fd, bytes, at, size - at, at);
      if (read === 0) throw new CaffeFormatError(`${path}: the file shrank while it was read (${at} of ${size} bytes)`, { file: path, offset: at });
      at += read;
    }
    return bytes;
  } finally {
    closeSync(fd);
  }
}

/** A Caffe model loaded as an nn net. */
export interface LoadedModel {
  net: Net;
  /** The net definition as nn reads it (V2, camelCase). */
  def: NetDef;
  /** The definition as read from the prototxt (snake_case, upgraded or not). */
  definition: NetParameter;
  /** The weights as read from the caffemodel, when given. */
  weightsParameter?: NetParameter;
  weights: WeightReport;
}

/** What `loadModel` reads. */
export interface LoadModelOptions {
  /** The net definition (`deploy.prototxt`, V1 or V2). */
  prototxt: string;
  /** Trained weights (`.caffemodel`, V1 or V2); without them every layer keeps its filler. */
  weights?: string;
  /** TEST (default) or TRAIN. */
  phase?: Phase;
  dtype?: DType;
  seed?: number;
}

/**
 * Loads a Caffe model from its prototxt and caffemodel: the weights file is read
 * once into shared memory and each blob becomes the parameter's storage in place.
 */
export function loadModel(options: LoadModelOptions): LoadedModel {
  const definition = readNetPrototxtFile(options.prototxt);
  // The buffer is private to this call, so unaligned payloads may be aligned in it instead of copied.
  const weightsParameter = options.weights
    ? readCaffemodel(readFileShared(options.weights), options.weights, { alignInPlace: true })
    : undefined;
  const { net, def, weights } = buildNet(definition, weightsParameter, {
    phase: options.phase,
    dtype: options.dtype,
    seed: options.seed,
    file: options.prototxt,
    weightsFile: options.weights,
  });
  return { net, def, definition, weightsParameter, weights };
}
