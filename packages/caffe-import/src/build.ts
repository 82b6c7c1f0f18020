import { ShapeError, allocate, findNonFinite, formatShape, isShared, sizeOf, type DType, type FloatArray } from '@cnn/tensor';
import { Net, type LayerCommon, type LayerDef, type NetDef, type Phase } from '@cnn/nn';
import { CaffeFormatError } from './errors.js';
import type { Camel, Camelized } from './layer-params.js';
import { blobShape, type BlobProto, type LayerParameter, type NetParameter } from './schema.js';
import { upgradeNetParameter } from './upgrade.js';

/** Fields of a LayerParameter that are not a type's `<x>_param`, handled one by one. */
const COMMON_FIELDS = new Set(['name', 'type', 'bottom', 'top', 'loss_weight', 'param', 'blobs', 'include', 'exclude', 'phase', 'propagate_down']);

/** snake_case to camelCase: `num_output` -> `numOutput`. */
function camel<S extends string>(name: S): Camel<S> {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()) as Camel<S>;
}

/** Renames every key of a decoded message (recursively) to camelCase; typed arrays are kept. */
function camelKeys<T>(value: T): Camelized<T> {
  if (Array.isArray(value)) return value.map(camelKeys) as Camelized<T>;
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return value as Camelized<T>;
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [camel(key), camelKeys(inner)])) as Camelized<T>;
}

/**
 * A V2 Caffe layer as an nn `LayerDef`: common fields renamed, and each `<x>_param`
 * stored under the camelCase of `x` (`inner_product_param` -> `innerProduct`).
 */
export function toLayerDef(layer: LayerParameter): LayerDef {
  const def: LayerCommon & { type: string; [typeParams: string]: unknown } = { name: layer.name ?? '', type: layer.type ?? '' };
  if (layer.bottom?.length) def.bottom = [...layer.bottom];
  if (layer.top?.length) def.top = [...layer.top];
  if (layer.loss_weight?.length) def.lossWeight = [...layer.loss_weight];
  if (layer.param?.length) def.param = layer.param.map((spec) => ({ name: spec.name, lrMult: spec.lr_mult, decayMult: spec.decay_mult }));
  if (layer.include?.length) def.include = camelKeys(layer.include);
  if (layer.exclude?.length) def.exclude = camelKeys(layer.exclude);
  if (layer.propagate_down?.length) def.propagateDown = [...layer.propagate_down];
  for (const [field, value] of Object.entries(layer)) {
    if (COMMON_FIELDS.has(field) || !field.endsWith('_param')) continue;
    def[camel(field.slice(0, -'_param'.length))] = camelKeys(value);
  }
  // Each `<x>_param` field's fields are those of nn's parameters of the same name, of the same
  // types: layer-params.ts checks it at compile time (SchemaMatchesNn). A file may still hold
  // more than nn's types say: any layer type name (createLayer refuses the ones it does not
  // build, a custom factory may build them) and any filler type name (refused when a blob is
  // filled from it), so the definition enters the typed union here, checked when it is built.
  return def as LayerDef;
}

/** A Caffe net definition (V1 or V2, upgraded here) as an nn `NetDef`. */
export function toNetDef(net: NetParameter, file = '<net>'): NetDef {
  const { net: upgraded } = upgradeNetParameter(net, file);
  return { name: upgraded.name, layers: (upgraded.layer ?? []).map(toLayerDef) };
}

/** Where each layer's weights came from, after building a net from a model. */
export interface WeightReport {
  /** Layers whose blobs were copied from the model. */
  copied: string[];
  /** Layers of the model that are not in the net (their weights were not used). */
  ignored: string[];
  /** Layers of the net with parameters that the model does not have: left at their fillers. */
  initialised: string[];
}

/**
 * True when a model blob fits a parameter shape: the same BlobShape, or legacy
 * num/channels/height/width equal to the shape padded with leading 1s to four axes
 * (an InnerProduct weight O x I was stored as 1 x 1 x O x I, a bias as 1 x 1 x 1 x O).
 */
export function blobFits(blob: BlobProto, shape: readonly number[]): boolean {
  const stored = blobShape(blob);
  const strip = (dims: readonly number[]): number[] => {
    const out = [...dims];
    while (out.length > 0 && out[0] === 1) out.shift();
    return out;
  };
  if (stored.length === shape.length && stored.every((d, i) => d === shape[i])) return true;
  const a = strip(stored);
  const b = strip(shape);
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Builds an nn net from a Caffe net definition and, optionally, trained weights
 * (Caffe's CopyTrainedLayersFrom): blobs are matched to layers by layer name, their
 * counts and shapes must agree (legacy dims normalised), model layers the net does
 * not have are ignored. Net layers with parameters that the model lacks are an error
 * naming them (a caffemodel cut between two layers is still well-formed protobuf, and would
 * otherwise run with fillers and give wrong answers), unless `allowMissingWeights` says they
 * are meant to start from their fillers, as a fine-tuning recipe's renamed classifier is.
 * A blob holding NaN or infinite values is an error naming the layer and blob (one such value
 * makes every output it reaches NaN), unless `allowNonFinite` (a tool that reports them).
 * The weights are used in place (no copy) when they sit on shared memory.
 */
export function buildNet(
  definition: NetParameter,
  weights: NetParameter | undefined,
  options: { phase?: Phase; dtype?: DType; seed?: number; file?: string; weightsFile?: string; allowMissingWeights?: boolean; allowNonFinite?: boolean } = {},
): { net: Net; def: NetDef; weights: WeightReport } {
  const def = toNetDef(definition, options.file);
  const weightsFile = options.weightsFile ?? '<weights>';
  const trained = new Map<string, BlobProto[]>();
  if (weights) {
    for (const layer of upgradeNetParameter(weights, weightsFile).net.layer ?? []) {
      if (layer.name && layer.blobs?.length) trained.set(layer.name, layer.blobs);
    }
  }
  const used = new Set<string>();
  const dtype = options.dtype ?? 'float32';
  const pretrained = (layer: string, index: number, shape: readonly number[]): FloatArray | undefined => {
    const blobs = trained.get(layer);
    if (!blobs) return undefined;
    const blob = blobs[index];
    if (!blob) {
      throw new ShapeError(`${weightsFile}: layer '${layer}' has ${blobs.length} blob(s) in the model, the net needs blob ${index} too (a bias term?)`);
    }
    if (!blobFits(blob, shape)) {
      throw new ShapeError(
        `${weightsFile}: layer '${layer}' blob ${index}: the model holds ${formatShape(blobShape(blob))}, ` +
          `the net expects ${formatShape(shape)}. When fine-tuning to a different number of classes, ` +
          `rename the layer in the prototxt (for example '${layer}' -> '${layer}_new') so it starts from its filler instead.`,
      );
    }
    const values = blob.data.subarray(0, sizeOf(shape));
    const bad = options.allowNonFinite ? undefined : findNonFinite(values);
    if (bad) {
      throw new CaffeFormatError(
        `holds ${bad.count} non-finite value${bad.count > 1 ? 's' : ''} of ${values.length} (${bad.value} at index ${bad.first}): ` +
          'a damaged or diverged model, every output it reaches would be NaN',
        { file: weightsFile, layer, blob: index },
      );
    }
    used.add(layer);
    return onSharedMemory(blob.data, dtype, sizeOf(shape));
  };
  let net: Net;
  try {
    net = new Net(def, { phase: options.phase ?? 'TEST', dtype, seed: options.seed, pretrained });
  } catch (error) {
    if (error instanceof Error && !(error instanceof ShapeError) && !(error instanceof CaffeFormatError) && options.file) {
      error.message = `${options.file}: ${error.message}`;
    }
    throw error;
  }
  for (const name of used) {
    const blobs = trained.get(name)!;
    const params = net.layer(name).params;
    if (blobs.length !== params.length) {
      throw new ShapeError(`${weightsFile}: layer '${name}' has ${blobs.length} blobs in the model and ${params.length} parameters in the net`);
    }
  }
  const netLayers = new Set(net.layers.map((layer) => layer.name));
  const initialised = net.layers.filter((layer) => layer.params.length > 0 && !used.has(layer.name)).map((layer) => layer.name);
  if (weights && initialised.length > 0 && !options.allowMissingWeights) {
    const last = [...trained.keys()].pop();
    throw new CaffeFormatError(
      `holds no weights for layer${initialised.length > 1 ? 's' : ''} ${initialised.join(', ')}, which ha${initialised.length > 1 ? 've' : 's'} parameters in ${options.file ?? 'the net'}; ` +
        `${last === undefined ? 'it holds no weights at all' : `its last layer with weights is ${last}`}: a file cut short, or the weights of another net. ` +
        'To start those layers from their fillers on purpose (fine-tuning), allow missing weights (cnn: --allow-missing-weights)',
      { file: weightsFile },
    );
  }
  return {
    net,
    def,
    weights: { copied: [...used], ignored: [...trained.keys()].filter((name) => !netLayers.has(name)), initialised },
  };
}

/** The values as the net's dtype on shared memory: the same array when it already is, else a copy. */
function onSharedMemory(values: Float32Array, dtype: DType, count: number): FloatArray {
  if (dtype === 'float32' && isShared(values) && values.length === count) return values;
  const copy = allocate(count, { dtype, shared: true });
  copy.set(values.subarray(0, count));
  return copy;
}
