import { allocate, pinWhileViewed, type DType } from '@cnn/tensor';
import type { Net, NetDef, Phase } from '@cnn/nn';
import { buildNet, type WeightReport } from './build.js';
import { readCaffemodel } from './caffemodel.js';
import { MAX_BINARY_BYTES, readFileSniffed } from './file-read.js';
import { readNetPrototxtFile } from './prototxt.js';
import type { NetParameter } from './schema.js';
import { sniffBinaryProto } from './sniff.js';

/**
 * Reads a whole file into shared memory, so that the weight blobs viewed in it can be
 * handed to the worker pool without a copy: with the wasm backend, into the wasm heap,
 * where its kernels use them in place. The memory lives while the returned bytes do (and
 * while any view pinned to them with `pinWhileViewed` does).
 */
export function readFileShared(path: string): Uint8Array {
  return readFileOwned(path).bytes;
}

/**
 * `readFileShared`, also returning the array that owns the memory (to pin views of the file
 * to). The file's head is checked first (readFileSniffed): memory is allocated only for a file
 * that may be a caffemodel of a supported size.
 */
function readFileOwned(path: string): { bytes: Uint8Array; owner: Float32Array } {
  let owner: Float32Array | undefined;
  const bytes = readFileSniffed(path, {
    kind: '.caffemodel',
    maxBytes: MAX_BINARY_BYTES,
    sniff: sniffBinaryProto('.caffemodel'),
    allocate: (size) => {
      owner = allocate(Math.ceil(size / 4), { shared: true }) as Float32Array;
      const view = new Uint8Array(owner.buffer, owner.byteOffset, size);
      pinWhileViewed(owner, [view]);
      return view;
    },
  });
  return { bytes, owner: owner! };
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
  /**
   * Let layers with parameters that the weights file lacks start from their fillers (a
   * fine-tuning recipe's new layers); by default that is a CaffeFormatError naming them.
   */
  allowMissingWeights?: boolean;
}

/**
 * Loads a Caffe model from its prototxt and caffemodel: the weights file is read
 * once into shared memory and each blob becomes the parameter's storage in place.
 */
export function loadModel(options: LoadModelOptions): LoadedModel {
  const definition = readNetPrototxtFile(options.prototxt);
  // The buffer is private to this call, so unaligned payloads may be aligned in it instead of copied.
  const file = options.weights ? readFileOwned(options.weights) : undefined;
  const weightsParameter = file ? readCaffemodel(file.bytes, options.weights, { alignInPlace: true }) : undefined;
  // The parameters become views of the file's memory: it must live as long as any of them.
  if (file && weightsParameter) pinWhileViewed(file.owner, blobViews(weightsParameter));
  const { net, def, weights } = buildNet(definition, weightsParameter, {
    phase: options.phase,
    dtype: options.dtype,
    seed: options.seed,
    file: options.prototxt,
    weightsFile: options.weights,
    allowMissingWeights: options.allowMissingWeights,
  });
  return { net, def, definition, weightsParameter, weights };
}

/** The value arrays of every blob of every layer (V2 `layer` and V1 `layers`). */
function blobViews(parameter: NetParameter): Float32Array[] {
  return [...(parameter.layer ?? []), ...(parameter.layers ?? [])].flatMap((layer) => (layer.blobs ?? []).map((blob) => blob.data));
}
