import { closeSync, openSync, writeSync } from 'node:fs';
import { formatPrototxt, toNetParameter, writeCaffemodel } from '@cnn/caffe-import';
import { Net, caffeNet, type NetDef } from '@cnn/nn';
import { Rng } from '@cnn/tensor';

/** One layer's parameters as generated: shapes and values, weights first, then the bias. */
export interface GeneratedParam {
  shape: number[];
  data: Float32Array;
}

/** What writeRandomCaffeNet produced. */
export interface RandomCaffeNet {
  /** The deploy definition (batch 1, 227 x 227, ends in Softmax `prob`). */
  def: NetDef;
  /** Its text form, for `loadModel({ prototxt })`. */
  prototxt: string;
  /** Bytes of the written `.caffemodel`. */
  bytes: number;
  /** Number of weights and biases (60,965,224 at 1000 classes). */
  parameters: number;
  /** The values written, by layer name: an independent copy to check a loaded net against. */
  weights: Map<string, GeneratedParam[]>;
}

/**
 * Seeded random values for one CaffeNet parameter. Weights are uniform with the He standard
 * deviation sqrt(2 / fan_in): the BVLC fillers (std 0.01) make an untrained net's activations
 * vanish by fc8, so prob would be a flat 1/1000 that any bug passes. fc8 is scaled down (by 50: its logits would have an rms near 75) so prob
 * is neither flat nor one-hot. Biases are small and positive so ReLUs are neither all on nor
 * all off. A uniform on [-a, a] has std a / sqrt(3), and is cheaper than 61 M Box-Muller draws.
 */
function randomParam(rng: Rng, layer: string, index: number, shape: readonly number[]): Float32Array {
  const count = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(count);
  if (index === 1) {
    for (let i = 0; i < count; i++) out[i] = rng.uniform(0, 0.5);
    return out;
  }
  const fanIn = count / shape[0]!;
  const a = (layer === 'fc8' ? 0.02 : 1) * Math.sqrt(2 / fanIn) * Math.sqrt(3);
  for (let i = 0; i < count; i++) out[i] = rng.uniform(-a, a);
  return out;
}

/**
 * Writes a full-size CaffeNet (the BVLC reference architecture, 1000 classes, 60,965,224
 * parameters) with seeded random weights as a `.caffemodel` through the package's writer: by
 * default in the legacy V1 layout of the 2014 reference file (`layers` = 2, enum types, blob
 * dims num/channels/height/width with 1 x 1 x OUT x IN InnerProduct weights), 243.9 MB like the
 * real one. Returns the deploy definition to load it with and the values written.
 */
export function writeRandomCaffeNet(path: string, options: { seed?: number; format?: 'V1' | 'V2' } = {}): RandomCaffeNet {
  const def = caffeNet({ batch: 1 });
  const rng = new Rng(options.seed ?? 2014);
  const weights = new Map<string, GeneratedParam[]>();
  // The `pretrained` hook hands every parameter its values, so the net's fillers never run; the
  // net is built only to give each parameter its shape.
  new Net(def, {
    phase: 'TEST',
    pretrained: (layer, index, shape) => {
      const data = randomParam(rng, layer, index, shape);
      const list = weights.get(layer) ?? [];
      list[index] = { shape: [...shape], data };
      weights.set(layer, list);
      return data;
    },
  });
  const model = toNetParameter(def);
  for (const layer of model.layer ?? []) {
    const params = weights.get(layer.name ?? '');
    // The blobs point at the generated arrays: no second 244 MB copy before encoding.
    if (params) layer.blobs = params.map((param) => ({ shape: { dim: param.shape }, data: param.data }));
  }
  const bytes = writeCaffemodel(model, { format: options.format ?? 'V1', file: path });
  const fd = openSync(path, 'w');
  try {
    let at = 0;
    while (at < bytes.length) at += writeSync(fd, bytes, at, bytes.length - at);
  } finally {
    closeSync(fd);
  }
  let parameters = 0;
  for (const params of weights.values()) for (const param of params) parameters += param.data.length;
  return { def, prototxt: formatPrototxt(toNetParameter(def)), bytes: bytes.length, parameters, weights };
}
