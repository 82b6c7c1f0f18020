import type { ParamSpec } from './blob.js';
import type { Phase } from './layer.js';

/** Caffe's NetStateRule: when a layer is part of the net. */
export interface NetStateRule {
  phase?: Phase;
  minLevel?: number;
  maxLevel?: number;
  stage?: string[];
  notStage?: string[];
}

/**
 * One layer of a net definition, shaped like Caffe's LayerParameter in camelCase:
 * the common fields below, plus the type's parameters under the camelCase name of
 * Caffe's `<type>_param` without the suffix (`convolution`, `pooling`, `lrn`,
 * `innerProduct`, `relu`, `dropout`, `softmax`, `loss`, `accuracy`, ...).
 */
export interface LayerDef {
  name: string;
  type: string;
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
  [typeParams: string]: unknown;
}

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
