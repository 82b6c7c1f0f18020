import { Rng, formatShape, getBackend, physicalMemory, type DType } from '@cnn/tensor';
import { Blob, type Param } from './blob.js';
import { NetError } from './errors.js';
import type { Layer, Phase, PretrainedSource } from './layer.js';
import { layerIncluded, type LayerDef, type NetDef, type NetState } from './net-def.js';
import { insertSplits } from './splits.js';
import { createLayer } from './registry.js';
import { ClipLayer } from './layers/clip.js';
import { ConvolutionLayer } from './layers/convolution.js';
import { ReLULayer } from './layers/relu.js';
import type { Clamp } from './kernels/convolution/index.js';

/** Builds a layer from its definition; `createLayer` knows every layer type of this package. */
export type LayerFactory = (def: LayerDef) => Layer;

/** How a net is built. */
export interface NetOptions {
  /** TRAIN or TEST (default): chooses layers by their include/exclude rules, and Dropout's behaviour. */
  phase?: Phase;
  level?: number;
  stages?: string[];
  /** Element type of every blob: float32, or float64 for gradient checks. */
  dtype?: DType;
  /** Seed of the parameter fillers (and of Dropout's masks). */
  seed?: number;
  /** Trained parameter values (from a .caffemodel); parameters found there are not filled. */
  pretrained?: PretrainedSource;
  factory?: LayerFactory;
  /**
   * The most memory, in bytes, the net may need at its shapes (see `memoryEstimate`): a net
   * needing more is refused at setup or reshape, before it runs, instead of growing until the
   * process dies. Default: the machine's physical memory (no limit where it is unknown).
   */
  memoryLimit?: number;
}

/** What a net needs in memory at its current shapes, in bytes (see `Net.memoryEstimate`). */
export interface MemoryEstimate {
  bytes: number;
  /** The storage of every blob and parameter (and of their gradients in TRAIN). */
  blobs: number;
  /** The largest scratch one layer takes while it runs (one serves all layers in turn). */
  workspace: number;
  /** The layer that takes it. */
  workspaceLayer?: string;
}

/**
 * A layer's reshape, with a failure to allocate its tops (a typed array beyond what the engine
 * can make) named as the net's, not left as a bare RangeError.
 */
function reshapeLayer(layer: Layer, bottoms: readonly Blob[], tops: readonly Blob[]): void {
  try {
    layer.reshape(bottoms, tops);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    throw new NetError(`layer '${layer.name}' (bottom ${bottoms.map(String).join(', ') || 'none'}): its output cannot be allocated (${error.message}): the input is too large`, { cause: error });
  }
}

/** `1.2 GB`, `340 MB`: a size for messages. */
function formatBytes(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(1)} GB` : `${Math.max(1, Math.round(bytes / 1e6))} MB`;
}

/** One line of `Net.summary()`. */
export interface LayerSummary {
  name: string;
  type: string;
  /** The shape of each top. */
  outputs: (readonly number[])[];
  parameters: number;
  multiplyAdds: number;
  /** True when every parameter has lr_mult 0. */
  frozen: boolean;
}

/** Which layers a forward pass runs: by index or by name, both ends included. */
export interface ForwardRange {
  from?: number | string;
  to?: number | string;
  /** Called after each layer runs, with its tops (for dumping every layer's output). */
  afterLayer?: (index: number, layer: Layer, tops: readonly Blob[]) => void;
}

/**
 * A directed acyclic graph of layers joined by named blobs, as in Caffe's net.cpp:
 * layers run in definition order; a layer whose top names its bottom works in place;
 * a blob read by several layers is split so their gradients add up; loss layers (and
 * any top with a `lossWeight`) make up the loss.
 *
 * Backward runs only where it is needed: a layer is skipped when none of its
 * parameters learns (lr_mult 0) and nothing below it needs a gradient, and when it
 * does not contribute to the loss. A frozen convolutional base costs nothing in
 * backward; only the head runs.
 */
export class Net {
  readonly name: string;
  readonly state: NetState;
  readonly dtype: DType;
  /** The definitions of the layers in the net (after phase filtering and split insertion). */
  readonly layerDefs: LayerDef[];
  readonly layers: Layer[] = [];
  private readonly blobsByName = new Map<string, Blob>();
  private readonly bottoms: Blob[][] = [];
  private readonly tops: Blob[][] = [];
  private readonly lossWeights: number[][] = [];
  private readonly layerNeedsBackward: boolean[] = [];
  private readonly bottomNeedsBackward: boolean[][] = [];
  /** Per layer: the clamp of the in-place activation after it that its epilogue runs (see `fusableClamp`). */
  private readonly fusedClamps: (Clamp | undefined)[];
  /** Names of the blobs no layer reads: the net's outputs. */
  readonly outputNames: string[];
  /** Names of the blobs filled by the caller (the tops of Input layers). */
  readonly inputNames: string[] = [];
  /** The generator of the fillers and of Dropout's masks (its state goes into solver snapshots). */
  readonly rng: Rng;
  private readonly memoryLimit: number;

  constructor(def: NetDef, options: NetOptions = {}) {
    this.name = def.name ?? 'net';
    this.state = { phase: options.phase ?? 'TEST', level: options.level, stages: options.stages };
    this.dtype = options.dtype ?? 'float32';
    const factory = options.factory ?? createLayer;
    const rng = new Rng(options.seed ?? 1);
    this.rng = rng;
    this.memoryLimit = options.memoryLimit ?? physicalMemory() ?? Infinity;
    checkUniqueNames(def.layers);
    this.layerDefs = insertSplits(def.layers.filter((layer) => layerIncluded(layer, this.state)));

    const consumed = new Set<string>();
    for (const layerDef of this.layerDefs) {
      const layer = factory(layerDef);
      layer.phase = this.state.phase;
      const bottoms = (layerDef.bottom ?? []).map((name) => this.bottomBlob(layerDef, name));
      const tops = (layerDef.top ?? []).map((name, j) => this.topBlob(layerDef, layer, name, j));
      for (const name of layerDef.bottom ?? []) consumed.add(name);
      if (layerDef.type === 'Input') this.inputNames.push(...(layerDef.top ?? []));
      layer.setup(bottoms, tops, { dtype: this.dtype, rng, pretrained: options.pretrained });
      reshapeLayer(layer, bottoms, tops);
      this.layers.push(layer);
      this.bottoms.push(bottoms);
      this.tops.push(tops);
      this.lossWeights.push(lossWeightsOf(layerDef, layer));
    }
    this.outputNames = [...this.blobsByName.keys()].filter((name) => !consumed.has(name) || this.isLossTop(name));
    this.planBackward();
    this.fusedClamps = this.layers.map((_, i) => this.fusableClamp(i));
    this.checkMemory();
  }

  /** The blob called `name` (its latest version when layers work in place). */
  blob(name: string): Blob {
    const blob = this.blobsByName.get(name);
    if (!blob) throw new NetError(`net '${this.name}' has no blob '${name}'; blobs: ${[...this.blobsByName.keys()].join(', ')}`);
    return blob;
  }

  /** Every blob name, in the order blobs were created. */
  get blobNames(): string[] {
    return [...this.blobsByName.keys()];
  }

  /** The layer called `name`. */
  layer(name: string): Layer {
    return this.layers[this.layerIndex(name)]!;
  }

  /** The position of the layer called `name`. */
  layerIndex(name: string): number {
    const index = this.layers.findIndex((layer) => layer.name === name);
    if (index < 0) throw new NetError(`net '${this.name}' has no layer '${name}'; layers: ${this.layers.map((l) => l.name).join(', ')}`);
    return index;
  }

  /** The bottoms and tops of layer `index`. */
  blobsOf(index: number): { bottoms: readonly Blob[]; tops: readonly Blob[] } {
    return { bottoms: this.bottoms[index]!, tops: this.tops[index]! };
  }

  /** Every parameter of every layer, in layer order. */
  get params(): Param[] {
    return this.layers.flatMap((layer) => layer.params);
  }

  /** The parameters that learn (lr_mult > 0). */
  get learnableParams(): Param[] {
    return this.params.filter((param) => !param.frozen);
  }

  /** Whether backward runs layer `index` at all (false for a frozen base). */
  needsBackward(index: number): boolean {
    return this.layerNeedsBackward[index]!;
  }

  /**
   * Re-derives every shape from the input blobs, after the caller reshaped them
   * (for example to a new batch size). Storage is reused when it is big enough.
   */
  reshape(): void {
    this.layers.forEach((layer, i) => reshapeLayer(layer, this.bottoms[i]!, this.tops[i]!));
    this.checkMemory();
  }

  /**
   * The memory the net needs at its current shapes: every blob's and parameter's storage
   * (twice, with the gradients, in TRAIN), and the largest scratch of one layer (the
   * convolutions' im2col columns; one buffer serves them all in turn).
   */
  memoryEstimate(): MemoryEstimate {
    const width = this.dtype === 'float64' ? 8 : 4;
    const copies = this.state.phase === 'TRAIN' ? 2 : 1;
    const blobs = new Set<Blob>([...this.tops.flat(), ...this.bottoms.flat(), ...this.params]);
    let floats = 0;
    for (const blob of blobs) floats += blob.count * copies;
    let workspace = 0;
    let workspaceLayer: string | undefined;
    this.layers.forEach((layer, i) => {
      const need = layer.workspace(this.bottoms[i]!, this.tops[i]!);
      if (need > workspace) [workspace, workspaceLayer] = [need, layer.name];
    });
    return { bytes: (floats + workspace) * width, blobs: floats * width, workspace: workspace * width, workspaceLayer };
  }

  /** Refuses shapes that need more than the memory limit, saying what would fit. */
  private checkMemory(): void {
    if (!(this.memoryLimit < Infinity)) return;
    const need = this.memoryEstimate();
    if (need.bytes <= this.memoryLimit) return;
    const input = this.inputNames[0] === undefined ? undefined : this.blob(this.inputNames[0]);
    const parameters = this.params.reduce((sum, param) => sum + param.count, 0) * (this.dtype === 'float64' ? 8 : 4);
    // Everything but the parameters grows with the input's size: scale it down to the limit.
    const scale = (this.memoryLimit - parameters) / (need.bytes - parameters);
    let fits = 'the parameters alone do not fit';
    if (scale > 0 && input?.shape.length === 4) {
      const [n, , h, w] = input.shape as [number, number, number, number];
      fits =
        n > 1 && Math.floor(n * scale) >= 1
          ? `a batch of ${Math.floor(n * scale)} fits`
          : `an input of about ${Math.floor(h * Math.sqrt(scale))} x ${Math.floor(w * Math.sqrt(scale))} fits`;
    }
    const workspace = need.workspaceLayer ? `, the im2col columns of '${need.workspaceLayer}' ${formatBytes(need.workspace)}` : '';
    throw new NetError(
      `net '${this.name}' needs about ${formatBytes(need.bytes)} at ${input ? `input ${input}` : 'its shapes'} ` +
        `(blobs and parameters ${formatBytes(need.blobs)}${workspace}), more than the ${formatBytes(this.memoryLimit)} of memory here: ${fits}`,
    );
  }

  /** Sets the batch size (the first axis) of every input blob and reshapes the net. */
  setBatchSize(batch: number): void {
    for (const name of this.inputNames) {
      const blob = this.blob(name);
      blob.reshape([batch, ...blob.shape.slice(1)]);
    }
    this.reshape();
  }

  /** Runs the layers in `range` (all by default) and returns the weighted loss they computed. */
  forward(range: ForwardRange = {}): number {
    const from = range.from === undefined ? 0 : this.resolve(range.from);
    const to = range.to === undefined ? this.layers.length - 1 : this.resolve(range.to);
    let loss = 0;
    for (let i = from; i <= to; i++) {
      // A caller that watches each layer's tops sees the convolution's own outputs, unfused.
      // So does one stepping through the reference kernels, which run every layer as written.
      const unfused = range.afterLayer || i + 1 > to || getBackend().name === 'reference';
      const clamp = unfused ? undefined : this.fusedClamps[i];
      if (clamp) {
        (this.layers[i] as ConvolutionLayer).forward(this.bottoms[i]!, this.tops[i]!, clamp);
        const activation = this.layers[i + 1]!;
        if (activation instanceof ClipLayer) activation.forwardFused();
        loss += this.weightedLoss(i) + this.weightedLoss(i + 1);
        i++;
        continue;
      }
      this.layers[i]!.forward(this.bottoms[i]!, this.tops[i]!);
      loss += this.weightedLoss(i);
      range.afterLayer?.(i, this.layers[i]!, this.tops[i]!);
    }
    return loss;
  }

  /**
   * The clamp a Convolution at `index` can run in its epilogue for the layer after it: a ReLU
   * (no negative slope) or a Clip working in place on the convolution's only top, the common
   * Caffe pattern. The forward then skips that layer; its backward still runs (ReLU's reads
   * the clamped top, which is all it needs; Clip's see `ClipLayer.forwardFused`).
   */
  private fusableClamp(index: number): Clamp | undefined {
    const [layer, next] = [this.layers[index], this.layers[index + 1]];
    const top = this.tops[index]![0];
    if (!(layer instanceof ConvolutionLayer) || this.tops[index]!.length !== 1 || !next) return undefined;
    if (this.bottoms[index + 1]![0] !== top || this.tops[index + 1]![0] !== top) return undefined;
    if (next instanceof ReLULayer && next.negativeSlope === 0) return { min: 0, max: Infinity };
    if (next instanceof ClipLayer) return { min: next.min, max: next.max };
    return undefined;
  }

  /**
   * Backpropagates the loss through every layer that needs it, last to first: each
   * loss top's gradient is its loss weight; parameter gradients are added to, so call
   * `clearParamDiffs` first (the solver does).
   */
  backward(): void {
    this.layers.forEach((_, i) => {
      this.tops[i]!.forEach((top, j) => {
        const weight = this.lossWeights[i]![j] ?? 0;
        if (weight !== 0) top.diff.data.fill(weight, 0, top.count);
      });
    });
    for (let i = this.layers.length - 1; i >= 0; i--) {
      if (this.layerNeedsBackward[i]) this.layers[i]!.backward(this.tops[i]!, this.bottomNeedsBackward[i]!, this.bottoms[i]!);
    }
  }

  /** Forward then backward; returns the loss. */
  forwardBackward(): number {
    const loss = this.forward();
    this.backward();
    return loss;
  }

  /** Zeroes every parameter gradient. */
  clearParamDiffs(): void {
    for (const param of this.params) param.zeroDiff();
  }

  /** Per layer: type, output shapes, parameter count and multiply-adds at the current shapes. */
  summary(): LayerSummary[] {
    return this.layers.map((layer, i) => ({
      name: layer.name,
      type: layer.type,
      outputs: this.tops[i]!.map((top) => top.shape),
      parameters: layer.params.reduce((sum, param) => sum + param.count, 0),
      multiplyAdds: layer.multiplyAdds(this.bottoms[i]!, this.tops[i]!),
      frozen: layer.params.length > 0 && layer.params.every((param) => param.frozen),
    }));
  }

  /** `summary()` as an aligned text table with totals. */
  summaryTable(): string {
    const rows = this.summary();
    const lines = rows.map((row) => [
      row.name,
      row.type,
      row.outputs.map((shape) => formatShape(shape)).join(' '),
      row.parameters.toLocaleString('en-US'),
      row.multiplyAdds.toLocaleString('en-US'),
      row.frozen ? 'frozen' : '',
    ]);
    const totalParams = rows.reduce((sum, row) => sum + row.parameters, 0);
    const totalMacs = rows.reduce((sum, row) => sum + row.multiplyAdds, 0);
    lines.push(['total', '', '', totalParams.toLocaleString('en-US'), totalMacs.toLocaleString('en-US'), '']);
    const header = ['layer', 'type', 'output', 'parameters', 'multiply-adds', ''];
    const widths = header.map((h, c) => Math.max(h.length, ...lines.map((line) => line[c]!.length)));
    const format = (line: string[]): string => line.map((cell, c) => (c >= 3 && c <= 4 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ').trimEnd();
    return [format(header), ...lines.map(format)].join('\n');
  }

  private resolve(layer: number | string): number {
    if (typeof layer === 'string') return this.layerIndex(layer);
    if (!Number.isInteger(layer) || layer < 0 || layer >= this.layers.length) {
      throw new NetError(`net '${this.name}': layer index ${layer} is outside 0..${this.layers.length - 1}`);
    }
    return layer;
  }

  private weightedLoss(index: number): number {
    let loss = 0;
    this.tops[index]!.forEach((top, j) => {
      const weight = this.lossWeights[index]![j] ?? 0;
      if (weight === 0) return;
      const data = top.data.data;
      for (let k = 0; k < top.count; k++) loss += weight * data[k]!;
    });
    return loss;
  }

  private isLossTop(name: string): boolean {
    return this.layerDefs.some((def, i) => (def.top ?? []).some((top, j) => top === name && (this.lossWeights[i]?.[j] ?? 0) !== 0));
  }

  private bottomBlob(def: LayerDef, name: string): Blob {
    const blob = this.blobsByName.get(name);
    if (!blob) {
      throw new NetError(
        `layer '${def.name}' (${def.type}) reads blob '${name}', which no earlier layer produces; ` +
          `blobs so far: ${[...this.blobsByName.keys()].join(', ') || '(none)'}`,
      );
    }
    return blob;
  }

  private topBlob(def: LayerDef, layer: Layer, name: string, index: number): Blob {
    const inPlace = def.bottom?.[index] === name;
    if (inPlace) {
      if (!layer.allowsInPlace) throw new NetError(`layer '${def.name}' (${def.type}) cannot work in place (top '${name}' = bottom '${name}')`);
      return this.blobsByName.get(name)!;
    }
    if (this.blobsByName.has(name) && !(def.bottom ?? []).includes(name) && !isSplitRewritten(def)) {
      throw new NetError(`top blob '${name}' of layer '${def.name}' is already produced by an earlier layer`);
    }
    const blob = new Blob(name, [0], this.dtype);
    this.blobsByName.set(name, blob);
    return blob;
  }

  /**
   * Caffe's rules for which layers and bottoms need backward: a blob needs a
   * gradient when the layer that made it learns something or has a bottom that
   * does; then layers that feed no loss are pruned, walking back from the losses.
   */
  private planBackward(): void {
    const blobNeeds = new Map<Blob, boolean>();
    this.layers.forEach((layer, i) => {
      const def = this.layerDefs[i]!;
      const bottomNeeds = this.bottoms[i]!.map((blob, j) => (blobNeeds.get(blob) ?? false) && (def.propagateDown?.[j] ?? true));
      const needs = layer.params.some((param) => !param.frozen) || bottomNeeds.some(Boolean);
      this.layerNeedsBackward.push(needs);
      this.bottomNeedsBackward.push(bottomNeeds);
      for (const top of this.tops[i]!) blobNeeds.set(top, needs);
    });

    const underLoss = new Set<Blob>();
    for (let i = this.layers.length - 1; i >= 0; i--) {
      const contributes = this.tops[i]!.some((top, j) => (this.lossWeights[i]![j] ?? 0) !== 0 || underLoss.has(top));
      if (!contributes) {
        this.layerNeedsBackward[i] = false;
        this.bottomNeedsBackward[i] = this.bottomNeedsBackward[i]!.map(() => false);
      }
      else for (const blob of this.bottoms[i]!) underLoss.add(blob);
    }
  }
}

function lossWeightsOf(def: LayerDef, layer: Layer): number[] {
  const tops = def.top?.length ?? 0;
  const given = def.lossWeight ?? (layer.isLoss ? [1] : []);
  if (given.length > tops) throw new NetError(`layer '${def.name}' has ${given.length} loss weights for ${tops} tops`);
  return Array.from({ length: tops }, (_, j) => given[j] ?? 0);
}

function checkUniqueNames(layers: readonly LayerDef[]): void {
  const seen = new Set<string>();
  for (const layer of layers) {
    if (!layer.name) throw new NetError(`a layer of type '${layer.type}' has no name`);
    // Caffe allows two layers of one name in different phases; names must differ within a phase only.
    const key = `${layer.name}\u0000${JSON.stringify(layer.include ?? [])}${JSON.stringify(layer.exclude ?? [])}`;
    if (seen.has(key)) throw new NetError(`two layers are called '${layer.name}'`);
    seen.add(key);
  }
}

function isSplitRewritten(def: LayerDef): boolean {
  return def.splitRewritten === true;
}
