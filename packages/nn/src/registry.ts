import type { ParamSpec } from './blob.js';
import { LayerError } from './errors.js';
import type { Layer } from './layer.js';
import type { LayerDef } from './net-def.js';
import { AccuracyLayer } from './layers/accuracy.js';
import { BatchNormLayer } from './layers/batch-norm.js';
import { ClipLayer } from './layers/clip.js';
import { ConcatLayer } from './layers/concat.js';
import { ConvolutionLayer } from './layers/convolution.js';
import { DropoutLayer } from './layers/dropout.js';
import { EltwiseLayer } from './layers/eltwise.js';
import { FlattenLayer } from './layers/flatten.js';
import { InnerProductLayer } from './layers/inner-product.js';
import { InputLayer } from './layers/input.js';
import { LRNLayer } from './layers/lrn.js';
import { PoolingLayer } from './layers/pooling.js';
import { PReLULayer } from './layers/prelu.js';
import { ReLULayer } from './layers/relu.js';
import { ScaleLayer } from './layers/scale.js';
import { SoftmaxLayer } from './layers/softmax.js';
import { SoftmaxWithLossLayer } from './layers/softmax-with-loss.js';
import { SplitLayer } from './layers/split.js';

/** Builds one layer type from a definition's name, its type's parameters and its ParamSpecs. */
type Builder = (def: LayerDef, specs: ParamSpec[]) => Layer;

/** The parameters stored under `key` in a definition (Caffe's `<key>_param`), or {}. */
function paramsOf<T>(def: LayerDef, key: string): T {
  return (def[key] ?? {}) as T;
}

/** Every layer type this package builds, by Caffe type name. */
const builders: Record<string, Builder> = {
  Accuracy: (def) => new AccuracyLayer(def.name, paramsOf(def, 'accuracy')),
  BatchNorm: (def, specs) => new BatchNormLayer(def.name, paramsOf(def, 'batchNorm'), specs),
  Clip: (def) => new ClipLayer(def.name, paramsOf(def, 'clip')),
  Concat: (def) => new ConcatLayer(def.name, paramsOf(def, 'concat')),
  Convolution: (def, specs) => new ConvolutionLayer(def.name, paramsOf(def, 'convolution'), specs),
  Dropout: (def) => new DropoutLayer(def.name, paramsOf(def, 'dropout')),
  Eltwise: (def) => new EltwiseLayer(def.name, paramsOf(def, 'eltwise')),
  Flatten: (def) => new FlattenLayer(def.name, paramsOf(def, 'flatten')),
  InnerProduct: (def, specs) => new InnerProductLayer(def.name, paramsOf(def, 'innerProduct'), specs),
  Input: (def) => new InputLayer(def.name, paramsOf(def, 'input')),
  LRN: (def) => new LRNLayer(def.name, paramsOf(def, 'lrn')),
  Pooling: (def) => new PoolingLayer(def.name, paramsOf(def, 'pooling')),
  PReLU: (def, specs) => new PReLULayer(def.name, paramsOf(def, 'prelu'), specs),
  ReLU: (def) => new ReLULayer(def.name, paramsOf(def, 'relu')),
  Scale: (def, specs) => new ScaleLayer(def.name, paramsOf(def, 'scale'), specs),
  Softmax: (def) => new SoftmaxLayer(def.name, paramsOf(def, 'softmax')),
  SoftmaxWithLoss: (def) => new SoftmaxWithLossLayer(def.name, { softmax: paramsOf(def, 'softmax'), loss: paramsOf(def, 'loss') }),
  Split: (def) => new SplitLayer(def.name),
};

/** The Caffe type names `createLayer` accepts. */
export function supportedLayerTypes(): string[] {
  return Object.keys(builders).sort();
}

/** Builds the layer a definition describes; an unknown type is a LayerError listing the supported ones. */
export function createLayer(def: LayerDef): Layer {
  const build = builders[def.type];
  if (!build) {
    throw new LayerError(`layer '${def.name}' has unknown type '${def.type}'; supported types: ${supportedLayerTypes().join(', ')}`);
  }
  return build(def, def.param ?? []);
}
