/** What the A/B harness asks of one side's child process (bench/src/ab/child.ts). */
export interface ChildRequest {
  /** The side's checkout: its packages are loaded from here. */
  root: string;
  /** `caffenet` (random weights, seed 1) or a MobileNet of ../shared/fixtures/imagenet. */
  net: string;
  /** The folder holding the MobileNet fixtures. */
  fixtures: string;
  backend: 'js' | 'wasm';
  threads: number;
  batches: number[];
  /** Only the layers whose name matches this regular expression. */
  layers?: string;
  /** Timed blocks per layer and direction; the median block counts. */
  blocks: number;
  /** The shortest block, in seconds of the clock. */
  blockSeconds: number;
}

/** One layer's seconds per call in one child run. */
export interface LayerTime {
  layer: string;
  type: string;
  batch: number;
  direction: 'forward' | 'backward';
  seconds: number;
}
