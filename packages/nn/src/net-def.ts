import type { ParamSpec } from './blob.js';
import type { Phase } from './layer.js';
import type { AccuracyParams } from './layers/accuracy.js';
import type { BatchNormParams } from './layers/batch-norm.js';
import type { ClipParams } from './layers/clip.js';
import type { ConcatParams } from './layers/concat.js';
import type { ConvolutionParams } from './layers/convolution.js';
import type { DropoutParams } from './layers/dropout.js';
import type { EltwiseParams } from './layers/eltwise.js';
import type { FlattenParams } from './layers/flatten.js';
import type { InnerProductParams } from './layers/inner-product.js';
import type { InputParams } from './layers/input.js';
import type { LRNParams } from './layers/lrn.js';
import type { PoolingParams } from './layers/pooling.js';
import type { PReLUParams } from './layers/prelu.js';
import type { ReLUParams } from './layers/relu.js';
import type { ScaleParams } from './layers/scale.js';
import type { LossParams } from './layers/softmax-with-loss.js';
import type { SoftmaxParams } from './layers/softmax.js';

/** Caffe's NetStateRule: when a layer is part of the net. */
export interface NetStateRule {
  phase?: Phase;
  minLevel?: number;
  maxLevel?: number;
  stage?: string[];
  notStage?: string[];
}

/** The fields every layer definition has, whatever its type (Caffe's LayerParameter in camelCase). */
export interface LayerCommon {
  name: string;
  bottom?: string[];
  top?: string[];
  /** One ParamSpec per learnable blob (lr_mult 0 freezes it). */
  param?: ParamSpec[];
  /** Weight of each top in the loss (loss layers default to 1 on their first top). */
  lossWeight?: number[];
  include?: NetStateRule[];
  exclude?: NetStateRule[];
  /** Per bottom: false stops the gradient into that bottom. */
  propagateDown?: boolean[];
  /** Set by `insertSplits` on a layer whose in-place bottom it renamed, so the net accepts the new name. */
  splitRewritten?: boolean;
}

/**
 * Each layer type's parameters, under the camelCase name of Caffe's `<type>_param` without the
 * suffix: the one place a type's parameter type is named (the registry builds each type from
 * exactly these).
 */
export interface LayerParamsByType {
  Accuracy: { accuracy?: AccuracyParams };
  BatchNorm: { batchNorm?: BatchNormParams };
  Clip: { clip?: ClipParams };
  Concat: { concat?: ConcatParams };
  Convolution: { convolution?: ConvolutionParams };
  Dropout: { dropout?: DropoutParams };
  Eltwise: { eltwise?: EltwiseParams };
  Flatten: { flatten?: FlattenParams };
  InnerProduct: { innerProduct?: InnerProductParams };
  Input: { input?: InputParams };
  LRN: { lrn?: LRNParams };
  Pooling: { pooling?: PoolingParams };
  PReLU: { prelu?: PReLUParams };
  ReLU: { relu?: ReLUParams };
  Scale: { scale?: ScaleParams };
  Softmax: { softmax?: SoftmaxParams };
  SoftmaxWithLoss: { softmax?: SoftmaxParams; loss?: LossParams };
  Split: Record<never, never>;
}

/** The Caffe type names of the layers this package builds. */
export type LayerType = keyof LayerParamsByType;

/** The definition of a layer of type `T`: the common fields, `type`, and that type's parameters. */
export type LayerDefOf<T extends LayerType> = LayerCommon & { type: T } & LayerParamsByType[T];

/**
 * One layer of a net definition, shaped like Caffe's LayerParameter in camelCase: a union keyed
 * on `type`, so a misspelt type, a parameter under the wrong key or a misspelt parameter is a
 * compile error in a definition written in TypeScript.
 */
export type LayerDef = { [T in LayerType]: LayerDefOf<T> }[LayerType];

/** A net definition: Caffe's NetParameter with V2 `layer`s. */
export interface NetDef {
  name?: string;
  layers: LayerDef[];
}

/** The state a net is built in, matched against include/exclude rules. */
export interface NetState {
  phase: Phase;
  level?: number;
  stages?: string[];
}

/** Caffe's StateMeetsRule: does `state` satisfy every condition of `rule`? */
export function stateMeetsRule(state: NetState, rule: NetStateRule): boolean {
  const level = state.level ?? 0;
  const stages = state.stages ?? [];
  if (rule.phase !== undefined && rule.phase !== state.phase) return false;
  if (rule.minLevel !== undefined && level < rule.minLevel) return false;
  if (rule.maxLevel !== undefined && level > rule.maxLevel) return false;
  if (rule.stage?.some((stage) => !stages.includes(stage))) return false;
  if (rule.notStage?.some((stage) => stages.includes(stage))) return false;
  return true;
}

/**
 * Whether a layer is in the net for `state` (Caffe's FilterNet): with `include` rules,
 * when any of them is met; with `exclude` rules, when none is; with neither, always.
 */
export function layerIncluded(def: LayerDef, state: NetState): boolean {
  if (def.include && def.include.length > 0) return def.include.some((rule) => stateMeetsRule(state, rule));
  if (def.exclude && def.exclude.length > 0) return !def.exclude.some((rule) => stateMeetsRule(state, rule));
  return true;
}
