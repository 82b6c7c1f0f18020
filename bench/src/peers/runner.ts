import type { Net } from '@cnn/nn';
import type { NetOp, PeerModel } from './reference.js';

/** What a forward pass ends in, each [batch, classes] row-major: the logits (before the softmax) and prob. */
export interface Outputs {
  logits: Float32Array;
  prob: Float32Array;
}

/**
 * One system with the shared weights and images loaded, at one batch size and thread count.
 * `forward` is what gets timed: a whole forward pass to `prob`, its result read back where the
 * system computes lazily. It is synchronous or returns a promise (onnxruntime), as the system is.
 */
export type Runner = {
  /** Runs a forward pass and returns both outputs (for the correctness check). */
  outputs(): Promise<Outputs>;
  /** Frees what the runner holds (sessions, tensors); it is not used afterwards. */
  dispose(): Promise<void>;
} & ({ async: false; forward(): void } | { async: true; forward(): Promise<void> });

/** What every system's `open` gets. */
export interface RunnerSetup {
  model: PeerModel;
  /** This project's net: the reference, whose parameters the peers copy (our own runner runs it). */
  net: Net;
  /** The net's layers with its weights (see reference.ts), what the peers build from. */
  ops: readonly NetOp[];
  batch: number;
  /** NCHW [batch, ...model.imageShape]. */
  images: Float32Array;
  threads: number;
}
