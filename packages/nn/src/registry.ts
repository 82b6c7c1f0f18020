import type { ParamSpec } from './blob.js';
import { LayerError } from './errors.js';
import type { Layer } from './layer.js';
import type { LayerDef, LayerDefOf, LayerType } from './net-def.js';
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

/** Every layer type this package builds, by Caffe type name, from its definition and its ParamSpecs. */
const builders: { [T in LayerType]: (def: LayerDefOf<T>, specs: ParamSpec[]) => Layer } = {
  Accuracy: (def) => new AccuracyLayer(def.name, def.accuracy),
  BatchNorm: (def, specs) => new BatchNormLayer(def.name, def.batchNorm, specs),
  Clip: (def) => new ClipLayer(def.name, def.clip),
  Concat: (def) => new ConcatLayer(def.name, def.concat),
  Convolution: (def, specs) => new ConvolutionLayer(def.name, def.convolution, specs),
  Dropout: (def) => new DropoutLayer(def.name, def.dropout),
  Eltwise: (def) => new EltwiseLayer(def.name, def.eltwise),
  Flatten: (def) => new FlattenLayer(def.name, def.flatten),
  InnerProduct: (def, specs) => new InnerProductLayer(def.name, def.innerProduct, specs),
  Input: (def) => new InputLayer(def.name, def.input),
  LRN: (def) => new LRNLayer(def.name, def.lrn),
  Pooling: (def) => new PoolingLayer(def.name, def.pooling),
  PReLU: (def, specs) => new PReLULayer(def.name, def.prelu, specs),
  ReLU: (def) => new ReLULayer(def.name, def.relu),
  Scale: (def, specs) => new ScaleLayer(def.name, def.scale, specs),
  Softmax: (def) => new SoftmaxLayer(def.name, def.softmax),
  SoftmaxWithLoss: (def) => new SoftmaxWithLossLayer(def.name, { softmax: def.softmax, loss: def.loss }),
  Split: (def) => new SplitLayer(def.name),
};

/** The Caffe type names `createLayer` accepts. */
export function supportedLayerTypes(): string[] {
  return Object.keys(builders).sort();
}

/** Builds the layer a definition describes; an unknown type is a LayerError listing the supported ones. */
export function createLayer(def: LayerDef): Layer {
  // A definition read from a file may name any type: the table is looked up as a plain record.
  const build = Object.hasOwn(builders, def.type) ? (builders as Record<string, (def: LayerDef, specs: ParamSpec[]) => Layer>)[def.type] : undefined;
  if (!build) {
    throw new LayerError(`layer '${def.name}' has unknown type '${def.type}'; supported types: ${supportedLayerTypes().join(', ')}`);
  }
  return build(def, def.param ?? []);
}
