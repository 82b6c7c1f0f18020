import { Net, type NetDef, type Param } from '@cnn/nn';
import { messageDef, type BlobProto, type LayerParameter, type NetParameter } from './schema.js';

/** Fields of an nn LayerDef that map to LayerParameter fields of their own. */
const COMMON_FIELDS = new Set(['name', 'type', 'bottom', 'top', 'lossWeight', 'param', 'include', 'exclude', 'propagateDown']);

/** camelCase to snake_case: `numOutput` -> `num_output`. */
function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/**
 * Renames an nn parameter object's keys to snake_case, recursively. With the Caffe
 * message type known, a single value given for a repeated field (`kernelSize: 3`)
 * becomes a list, as the message has it (`kernel_size: [3]`).
 */
function snakeKeys(value: unknown, messageType?: string): unknown {
  if (Array.isArray(value)) return value.map((item) => snakeKeys(item, messageType));
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return value;
  const fields = messageType ? messageDef(messageType).byName : undefined;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, inner]) => inner !== undefined)
      .map(([key, inner]) => {
        const name = snake(key);
        const field = fields?.get(name);
        const converted = snakeKeys(inner, field?.kind === 'message' ? field.type : undefined);
        return [name, field?.repeated && !Array.isArray(converted) ? [converted] : converted];
      }),
  );
}

/**
 * An nn net definition as a Caffe NetParameter (V2), the inverse of `toNetDef`:
 * each type's parameters go back under `<snake_case>_param`. With `net`, every layer
 * that has parameters gets its current values as blobs (with BlobShape dims), ready
 * for `writeCaffemodel`. Instead of one net, `params` may say where each layer's
 * parameters are (a model assembled from several nets: a frozen base and a new head).
 */
export function toNetParameter(def: NetDef, params?: Net | ((layer: string) => readonly Param[] | undefined)): NetParameter {
  const paramsOf =
    params instanceof Net
      ? (name: string): readonly Param[] => (params.layers.some((l) => l.name === name) ? params.layer(name).params : [])
      : (params ?? (() => undefined));
  const layers: LayerParameter[] = def.layers.map((layer) => {
    const out: LayerParameter = { name: layer.name, type: layer.type };
    if (layer.bottom?.length) out.bottom = [...layer.bottom];
    if (layer.top?.length) out.top = [...layer.top];
    if (layer.lossWeight?.length) out.loss_weight = [...layer.lossWeight];
    if (layer.param?.length) out.param = snakeKeys(layer.param, 'ParamSpec') as LayerParameter['param'];
    if (layer.include?.length) out.include = snakeKeys(layer.include, 'NetStateRule') as LayerParameter['include'];
    if (layer.exclude?.length) out.exclude = snakeKeys(layer.exclude, 'NetStateRule') as LayerParameter['exclude'];
    if (layer.propagateDown?.length) out.propagate_down = [...layer.propagateDown];
    const layerFields = messageDef('LayerParameter').byName;
    for (const [key, value] of Object.entries(layer)) {
      if (COMMON_FIELDS.has(key) || value === undefined || key === 'splitRewritten') continue;
      const field = layerFields.get(`${snake(key)}_param`);
      (out as Record<string, unknown>)[`${snake(key)}_param`] = snakeKeys(value, field?.type);
    }
    const layerParams = paramsOf(layer.name) ?? [];
    if (layerParams.length > 0) {
      out.blobs = layerParams.map(
        (param): BlobProto => ({ shape: { dim: [...param.shape] }, data: Float32Array.from(param.data.data.subarray(0, param.count)) }),
      );
    }
    return out;
  });
  return { name: def.name, layer: layers };
}
