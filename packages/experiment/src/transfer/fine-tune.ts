import { Net, Solver, type LayerDef, type NetDef } from '@cnn/nn';
import { Rng } from '@cnn/tensor';
import { netInputSize, toNetInput, type InputRecipe, type StoredImage } from '../data/index.js';
import { ExperimentError } from '../errors.js';
import { startProgress } from '../progress.js';
import { argmaxRows, readCheckpoint, writeCheckpoint, type CheckpointState, type HeadCheckpoint } from './head.js';
import type { TransferPlan } from './plan.js';

/** Settings of fine-tuning. */
export interface FineTuneSettings {
  /** The first layer of the base that learns; every base layer before it stays frozen. */
  from: string;
  iterations: number;
  batchSize: number;
  /** Base learning rate; each parameter's rate is this times its lr_mult. */
  baseLr: number;
  momentum: number;
  weightDecay: number;
  validationInterval: number;
  seed: number;
}

/** What fine-tuning produced. */
export interface FineTuneResult {
  /** The whole classifier (base + head + `prob`) in TEST phase, batch 1, with the best validation weights. */
  net: Net;
  loss: number[];
  validation: { iter: number; accuracy: number }[];
  /** Validation accuracy of the head alone (iteration 0) and of the weights kept. */
  before: number;
  after: number;
  resumedAt: number;
  seconds: number;
}

/**
 * The whole classifier as one net: the base's layers, the head's (new classifier included),
 * and a loss (TRAIN, with a `label` input) or a Softmax `prob` (TEST).
 *
 * Caffe's lr_mult semantics decide what learns: every parameter of a base layer before
 * `from` gets lr_mult 0 (frozen: the net runs no backward there); the layers from `from`
 * on keep the ParamSpecs their prototxt gives (lr_mult 1 where it gives none), and the new
 * classifier keeps its 10 / 20. `from: undefined` freezes the whole base.
 */
export function classifierNetDef(plan: TransferPlan, batch: number, phase: 'TRAIN' | 'TEST', from?: string): NetDef {
  const names = plan.baseLayers.map((layer) => layer.name);
  const start = from === undefined ? names.length : names.indexOf(from);
  if (start < 0) throw new ExperimentError(`--fine-tune-from ${from}: the base has no such layer; its layers: ${names.slice(1).join(', ')}`);
  const [inputDef, ...rest] = plan.baseLayers;
  const [, channels, height, width] = plan.input.shape;
  const input: LayerDef = {
    name: inputDef!.name,
    type: 'Input',
    top: phase === 'TRAIN' ? [plan.input.blob, 'label'] : [plan.input.blob],
    input: { shape: phase === 'TRAIN' ? [{ dim: [batch, channels!, height!, width!] }, { dim: [batch] }] : [{ dim: [batch, channels!, height!, width!] }] },
  };
  const base = rest.map((layer, i): LayerDef => (i + 1 < start ? frozen(layer) : layer));
  const classifierTop = plan.headLayers[plan.headLayers.length - 1]!.top![0]!;
  const output: LayerDef =
    phase === 'TRAIN'
      ? { name: 'loss', type: 'SoftmaxWithLoss', bottom: [classifierTop, 'label'], top: ['loss'] }
      : { name: 'prob', type: 'Softmax', bottom: [classifierTop], top: ['prob'] };
  return { name: 'fine-tune', layers: [input, ...base, ...plan.headLayers, output] };
}

/** The layer with lr_mult 0 on each of its parameters (a layer without any is unchanged). */
function frozen(layer: LayerDef): LayerDef {
  const count = layer.type === 'Convolution' || layer.type === 'InnerProduct' ? 2 : layer.param?.length ?? 0;
  if (count === 0) return layer;
  return { ...layer, param: Array.from({ length: count }, (_, i) => ({ ...layer.param?.[i], lrMult: 0 })) };
}

/**
 * Fine-tunes the trained classifier on images: after the head has been trained on cached
 * features, the layers from `settings.from` on train too, on the training images with a
 * random crop and mirror per draw (`augment`), by SGD with the Caffe solver. Validation
 * accuracy is measured at iteration 0 and at intervals; the weights of the best one are
 * kept (so fine-tuning that does not help leaves the head's weights). With a checkpoint,
 * progress is saved at every validation and an interrupted run resumes where it stopped.
 *
 * `weights(layer, index)` gives the starting values: the base's, and the trained head's.
 */
export function fineTune(
  plan: TransferPlan,
  images: readonly StoredImage[],
  labels: readonly number[],
  split: { train: readonly number[]; val: readonly number[] },
  recipe: InputRecipe,
  settings: FineTuneSettings,
  weights: (layer: string, index: number) => Float32Array | undefined,
  options: { checkpoint?: HeadCheckpoint; quiet?: boolean; log?: (line: string) => void } = {},
): FineTuneResult {
  const started = performance.now();
  const batch = Math.min(settings.batchSize, split.train.length);
  const trainNet = new Net(classifierNetDef(plan, batch, 'TRAIN', settings.from), {
    phase: 'TRAIN',
    seed: settings.seed,
    pretrained: (layer, index) => {
      const values = weights(layer, index);
      return values ? copyShared(values) : undefined;
    },
  });
  const testNet = new Net(classifierNetDef(plan, 1, 'TEST'), { pretrained: (layer, index) => trainNet.layer(layer).params[index]!.data.data });
  const solver = new Solver(trainNet, {
    type: 'SGD',
    baseLr: settings.baseLr,
    momentum: settings.momentum,
    weightDecay: settings.weightDecay,
    lrPolicy: 'fixed',
    maxIter: settings.iterations,
  });
  const augment = augmentation(recipe);
  const size = netInputSize(recipe);
  const plane = 3 * size * size;
  const data = trainNet.blob(plan.input.blob).data.data;
  const target = trainNet.blob('label').data.data;
  const validate = (): number => accuracyOn(testNet, plan, images, labels, split.val.length > 0 ? split.val : split.train, recipe);

  let state: CheckpointState = { key: options.checkpoint?.key ?? '', loss: [], validation: [], best: { accuracy: -1, iter: 0 }, sinceBest: 0 };
  let best = solver.snapshot();
  const saved = options.checkpoint?.resume ? readCheckpoint(options.checkpoint) : undefined;
  if (saved) {
    state = saved.state;
    solver.restore(saved.current);
    best = saved.best;
  } else {
    state.best = { accuracy: validate(), iter: 0 };
    state.validation.push({ iter: 0, accuracy: state.best.accuracy, loss: NaN });
  }
  const before = state.validation[0]!.accuracy;
  const resumedAt = solver.iter;
  const progress = startProgress(`fine-tune from ${settings.from}`, settings.iterations, 'iterations', options.quiet);
  while (solver.iter < settings.iterations) {
    const iter = solver.iter;
    const rng = new Rng(settings.seed * 7919 + iter + 1);
    const order = rng.shuffle([...split.train]);
    for (let n = 0; n < batch; n++) {
      const i = order[n % order.length]!;
      data.set(toNetInput(images[i]!, augment, rng), n * plane);
      target[n] = labels[i]!;
    }
    state.loss.push(solver.step(1));
    progress.update(iter + 1);
    if ((iter + 1) % settings.validationInterval === 0 || iter + 1 === settings.iterations) {
      const accuracy = validate();
      state.validation.push({ iter: iter + 1, accuracy, loss: NaN });
      if (accuracy > state.best.accuracy) {
        state.best = { accuracy, iter: iter + 1 };
        best = solver.snapshot();
      }
      if (options.checkpoint) writeCheckpoint(options.checkpoint, state, solver.snapshot(), best);
    }
  }
  progress.stop();
  solver.restore(best);
  options.log?.(`fine-tune from ${settings.from}: ${state.loss.length} iterations; validation accuracy ${(before * 100).toFixed(1)}% (head alone) -> ${(state.best.accuracy * 100).toFixed(1)}% (kept: iteration ${state.best.iter})`);
  return {
    net: testNet,
    loss: state.loss,
    validation: state.validation.map(({ iter, accuracy }) => ({ iter, accuracy })),
    before,
    after: state.best.accuracy,
    resumedAt,
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * The training recipe: a random crop and a random mirror. A recipe that already crops
 * (CaffeNet: 227 of 256) crops at random positions; one that does not (MobileNet) is
 * resized an eighth larger first, so there is room to crop the net's side from.
 */
export function augmentation(recipe: InputRecipe): InputRecipe {
  if (recipe.crop !== undefined) return { ...recipe, randomCrop: true, mirror: true };
  const size = netInputSize(recipe);
  return { ...recipe, resizeTo: Math.round(size * 1.125), crop: size, randomCrop: true, mirror: true };
}

/** Class probabilities of `rows` of `images` through a whole classifier (TEST, any batch), `rows.length x classes`. */
export function classify(net: Net, plan: TransferPlan, images: readonly StoredImage[], rows: readonly number[], recipe: InputRecipe, batch = 16): Float32Array {
  const input = net.blob(plan.input.blob);
  const plane = input.count / input.shape[0]!;
  let out = new Float32Array(0);
  for (let start = 0; start < rows.length; start += batch) {
    const chunk = rows.slice(start, start + batch);
    if (input.shape[0] !== chunk.length) net.setBatchSize(chunk.length);
    chunk.forEach((i, n) => input.data.data.set(toNetInput(images[i]!, recipe), n * plane));
    net.forward();
    const prob = net.blob('prob');
    const classes = prob.shape[1]!;
    if (out.length === 0) out = new Float32Array(rows.length * classes);
    out.set(prob.data.data.subarray(0, chunk.length * classes), start * classes);
  }
  net.setBatchSize(1);
  return out;
}

function accuracyOn(net: Net, plan: TransferPlan, images: readonly StoredImage[], labels: readonly number[], rows: readonly number[], recipe: InputRecipe): number {
  const probabilities = classify(net, plan, images, rows, recipe);
  const predicted = argmaxRows(probabilities, probabilities.length / rows.length);
  return predicted.filter((p, k) => p === labels[rows[k]!]).length / rows.length;
}

function copyShared(values: Float32Array): Float32Array {
  const copy = new Float32Array(new SharedArrayBuffer(values.length * 4));
  copy.set(values);
  return copy;
}
