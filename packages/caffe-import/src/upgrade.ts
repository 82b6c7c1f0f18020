import { CaffeFormatError } from './errors.js';
import {
  messageDef,
  V1_TYPE_TO_V2,
  type BlobShape,
  type LayerParameter,
  type NetParameter,
  type ParamSpec,
  type SolverParameter,
  type V1LayerParameter,
} from './schema.js';

/** The result of upgrading a net definition. */
export interface UpgradeResult {
  /** The net with V2 `layer`s only and no net-level inputs. */
  net: NetParameter;
  /** The format the net was written in: 'V1' when it had legacy `layers`. */
  sourceFormat: 'V1' | 'V2';
  /** What was changed, one line per step, for logs ("V1 layers -> V2", "inputs -> Input layer"). */
  notes: string[];
}

// Data layer types whose deprecated scale/mean_file/crop_size/mirror fields moved into
// transform_param (upgrade_proto.cpp UpgradeNetDataTransformation).
const DATA_TRANSFORM_PARAMS: Record<string, string> = {
  DATA: 'data_param',
  IMAGE_DATA: 'image_data_param',
  WINDOW_DATA: 'window_data_param',
};
const MOVED_TRANSFORM_FIELDS = ['scale', 'mean_file', 'crop_size', 'mirror'] as const;

// V1 fields handled one by one below; every other V1 field is a `*_param` copied by name.
const V1_SPECIAL = new Set(['layer', 'bottom', 'top', 'name', 'type', 'blobs', 'blobs_lr', 'weight_decay', 'include', 'exclude', 'loss_weight', 'param', 'blob_share_mode']);

/**
 * Upgrades a net definition to the current V2 form the way Caffe's util/upgrade_proto.cpp does:
 * - deprecated data-layer transformation fields (data_param.mean_file, crop_size, mirror, scale)
 *   move into transform_param;
 * - V1 `layers` become V2 `layer`s: enum types become type strings (CONVOLUTION -> "Convolution",
 *   SOFTMAX_LOSS -> "SoftmaxWithLoss", ...), blobs_lr / weight_decay become param[i].lr_mult /
 *   decay_mult, `param` names and blob_share_mode go into ParamSpec, the `*_param` messages,
 *   include/exclude, loss_weight and blobs are kept;
 * - net-level `input` with `input_shape` or `input_dim` (in groups of 4) becomes an Input layer
 *   named "input" placed first; `input` alone (as in old caffemodels) is dropped, as Caffe does.
 * A V2 net comes back unchanged apart from the input upgrade. The input object is not modified.
 *
 * @param net a decoded NetParameter (from a caffemodel or a prototxt)
 * @param file the name used in error messages
 * @throws CaffeFormatError when the net has both `layer` and `layers`, a V0 layer definition,
 *   or inputs whose dims do not match their count.
 */
export function upgradeNetParameter(net: NetParameter, file = '<net>'): UpgradeResult {
  const v1 = net.layers ?? [];
  const v2 = net.layer ?? [];
  if (v1.length > 0 && v2.length > 0) {
    throw new CaffeFormatError(
      `the net has both V2 'layer' (${v2.length}) and legacy V1 'layers' (${v1.length}) entries; Caffe cannot upgrade such a net`,
      { file },
    );
  }
  const notes: string[] = [];
  const { layers: _v1, layer: _v2, input: _in, input_dim: _dim, input_shape: _shape, ...rest } = net;
  const out: NetParameter = { ...rest };
  let layer: LayerParameter[];
  if (v1.length > 0) {
    layer = v1.map((l, i) => upgradeV1Layer(l, i, file, notes));
    notes.unshift(`upgraded ${v1.length} V1 'layers' to V2 'layer'`);
  } else {
    layer = [...v2];
  }
  const input = upgradeInputs(net, file, notes);
  if (input) layer.unshift(input);
  if (layer.length > 0) out.layer = layer;
  return { net: out, sourceFormat: v1.length > 0 ? 'V1' : 'V2', notes };
}

function upgradeV1Layer(v1: V1LayerParameter, index: number, file: string, notes: string[]): LayerParameter {
  const label = v1.name ?? `#${index}`;
  if (v1.layer !== undefined) {
    throw new CaffeFormatError('V0 layer definitions (pre-2014 Caffe) are not supported; upgrade the file with an old Caffe first', {
      file,
      layer: label,
    });
  }
  const l: LayerParameter = {};
  if (v1.name !== undefined) l.name = v1.name;
  if (v1.type !== undefined) {
    const type = Object.hasOwn(V1_TYPE_TO_V2, v1.type) ? V1_TYPE_TO_V2[v1.type] : undefined;
    if (type === undefined) throw new CaffeFormatError(`unknown V1 layer type ${v1.type}`, { file, layer: label });
    l.type = type;
  }
  if (v1.bottom) l.bottom = [...v1.bottom];
  if (v1.top) l.top = [...v1.top];
  if (v1.loss_weight) l.loss_weight = [...v1.loss_weight];
  const param = upgradeParamSpecs(v1);
  if (param.length > 0) l.param = param;
  if (v1.blobs) l.blobs = [...v1.blobs];
  if (v1.include) l.include = v1.include.map((r) => ({ ...r }));
  if (v1.exclude) l.exclude = v1.exclude.map((r) => ({ ...r }));
  const v2Def = messageDef('LayerParameter');
  for (const [key, value] of Object.entries(v1)) {
    if (V1_SPECIAL.has(key) || value === undefined) continue;
    if (!v2Def.byName.has(key)) throw new CaffeFormatError(`V1 field ${key} has no V2 equivalent`, { file, layer: label });
    l[key] = structuredClone(value);
  }
  moveDataTransformFields(v1.type, l, label, notes);
  return l;
}

// V1 kept per-blob settings in parallel arrays; V2 keeps one ParamSpec per blob.
function upgradeParamSpecs(v1: V1LayerParameter): ParamSpec[] {
  const specs: ParamSpec[] = [];
  const at = (i: number): ParamSpec => {
    while (specs.length <= i) specs.push({});
    return specs[i];
  };
  v1.param?.forEach((name, i) => (at(i).name = name));
  v1.blob_share_mode?.forEach((mode, i) => (at(i).share_mode = mode));
  v1.blobs_lr?.forEach((lr, i) => (at(i).lr_mult = lr));
  v1.weight_decay?.forEach((decay, i) => (at(i).decay_mult = decay));
  return specs;
}

function moveDataTransformFields(v1Type: string | undefined, l: LayerParameter, label: string, notes: string[]): void {
  const paramName = v1Type && Object.hasOwn(DATA_TRANSFORM_PARAMS, v1Type) ? DATA_TRANSFORM_PARAMS[v1Type] : undefined;
  if (!paramName) return;
  const param = l[paramName] as Record<string, unknown> | undefined;
  if (!param) return;
  const moved = MOVED_TRANSFORM_FIELDS.filter((f) => param[f] !== undefined);
  if (moved.length === 0) return;
  const transform = { ...(l.transform_param ?? {}) } as Record<string, unknown>;
  const kept = { ...param };
  for (const f of moved) {
    transform[f] = kept[f];
    delete kept[f];
  }
  l[paramName] = kept;
  // Field order in transform_param is its field-number order, which writers follow anyway.
  l.transform_param = transform;
  notes.push(`layer "${label}": moved deprecated ${paramName} fields ${moved.join(', ')} to transform_param`);
}

function upgradeInputs(net: NetParameter, file: string, notes: string[]): LayerParameter | null {
  const inputs = net.input ?? [];
  const shapes = net.input_shape ?? [];
  const dims = net.input_dim ?? [];
  if (shapes.length === 0 && dims.length === 0) {
    if (inputs.length > 0) notes.push(`dropped net inputs ${inputs.join(', ')} declared without dims (as Caffe does)`);
    return null;
  }
  if (shapes.length > 0 && dims.length > 0) {
    throw new CaffeFormatError('the net gives both input_shape and input_dim; use one', { file });
  }
  let shape: BlobShape[];
  if (shapes.length > 0) {
    if (shapes.length !== inputs.length) {
      throw new CaffeFormatError(`${inputs.length} input(s) but ${shapes.length} input_shape(s); there must be one shape per input`, { file });
    }
    shape = shapes.map((s) => ({ dim: [...s.dim] }));
  } else {
    if (dims.length !== 4 * inputs.length) {
      throw new CaffeFormatError(
        `${inputs.length} input(s) but ${dims.length} input_dim value(s); there must be 4 (num, channels, height, width) per input`,
        { file },
      );
    }
    shape = inputs.map((_, i) => ({ dim: dims.slice(4 * i, 4 * i + 4) }));
  }
  notes.push(`converted net inputs ${inputs.join(', ')} to an Input layer`);
  return { name: 'input', type: 'Input', top: [...inputs], input_param: { shape } };
}

/**
 * Upgrades a solver as Caffe does: the deprecated `solver_type` enum becomes the `type` string
 * (SGD, Nesterov, AdaGrad, RMSProp, AdaDelta, Adam). The input object is not modified.
 *
 * @throws CaffeFormatError when both `solver_type` and `type` are set.
 */
export function upgradeSolverParameter(solver: SolverParameter, file = '<solver>'): SolverParameter {
  if (solver.solver_type === undefined) return { ...solver };
  if (solver.type !== undefined) {
    throw new CaffeFormatError('the solver sets both the deprecated solver_type and type; use type only', { file });
  }
  const names = { SGD: 'SGD', NESTEROV: 'Nesterov', ADAGRAD: 'AdaGrad', RMSPROP: 'RMSProp', ADADELTA: 'AdaDelta', ADAM: 'Adam' } as const;
  const { solver_type, ...rest } = solver;
  return { ...rest, type: names[solver_type] };
}
