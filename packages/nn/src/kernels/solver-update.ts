import { getBackend, getPool, getThreads, isShared, partRange, type FloatArray, type KernelRef, type PartKernel } from '@cnn/tensor';

/** The update rules `updateParameter` applies (see `Solver`). */
export type UpdateRule = 'SGD' | 'Nesterov' | 'Adam';

/** The constants of one parameter's update. */
export interface UpdateConstants {
  rule: UpdateRule;
  /** The policy's learning rate times the parameter's lr_mult. */
  rate: number;
  /** weight_decay times the parameter's decay_mult. */
  decay: number;
  /** L1 regularization (decay * sign(w)) instead of L2 (decay * w). */
  l1: boolean;
  /** The gradient is a sum over iter_size batches: divided by it. */
  iterSize: number;
  momentum: number;
  /** Adam: beta2, epsilon, and sqrt(1 - beta2^t) / (1 - beta1^t). */
  momentum2: number;
  epsilon: number;
  correction: number;
}

/** Below this many elements an update runs on one thread. */
const MIN_PARALLEL_ELEMENTS = 1 << 18;

const updatePartRef: KernelRef = { module: import.meta.url, name: 'updatePart' };

/**
 * One parameter's update, in a single pass over its `count` elements (one read and write of
 * each array instead of a pass for the regularization and another for the step), shared
 * out over the thread pool when large: for each i,
 *
 *   g = g / iterSize + decay * (l1 ? sign(w) : w)      (written back: the regularized gradient)
 *   SGD:      v = momentum v + rate g;  w -= v
 *   Nesterov: v' = momentum v + rate g;  w -= (1 + momentum) v' - momentum v;  v = v'
 *   Adam:     v = momentum v + (1 - momentum) g;  s = momentum2 s + (1 - momentum2) g^2;
 *             w -= rate correction v / (sqrt(s) + epsilon)
 *
 * `s` (Adam's second moments) is only read for Adam.
 */
export function updateParameter(w: FloatArray, g: FloatArray, v: FloatArray, s: FloatArray | undefined, count: number, c: UpdateConstants): void {
  const arrays = [w, g, v, s ?? v];
  const scalars = [['SGD', 'Nesterov', 'Adam'].indexOf(c.rule), count, c.rate, c.decay, c.l1 ? 1 : 0, c.iterSize, c.momentum, c.momentum2, c.epsilon, c.correction];
  const threads = getThreads();
  const parts = threads > 1 && count >= MIN_PARALLEL_ELEMENTS && arrays.every(isShared) ? Math.min(threads, Math.ceil(count / MIN_PARALLEL_ELEMENTS)) : 1;
  if (parts === 1) updatePart(arrays, scalars, 0, 1);
  else getPool().run(updatePartRef, updatePart, arrays, scalars, parts);
}

/** Part `part` of `parts` of `updateParameter`: arrays [w, g, v, s], scalars as it packs them. */
export const updatePart: PartKernel = ([w, g, v, s], scalars, part, parts) => {
  const [rule, count, rate, decay, l1, iterSize, momentum, momentum2, epsilon, correction] = scalars as [
    number, number, number, number, number, number, number, number, number, number,
  ];
  const [start, end] = partRange(count, part, parts);
  // Plain SGD with L2 decay may run in the backend's own loop (wasm SIMD, on its heap).
  const sgd = { rate, decay, momentum, iterSize };
  if (rule === 0 && !l1 && getBackend().layers.sgdUpdate(w!.subarray(start, end), g!.subarray(start, end), v!.subarray(start, end), end - start, sgd)) return;
  /** The regularized gradient of element i, also stored back into g. */
  const gradient = (i: number): number => {
    const grad = g![i]! / iterSize + decay * (l1 ? Math.sign(w![i]!) : w![i]!);
    g![i] = grad;
    return grad;
  };
  if (rule === 0) {
    for (let i = start; i < end; i++) {
      const step = momentum * v![i]! + rate * gradient(i);
      v![i] = step;
      w![i] -= step;
    }
  } else if (rule === 1) {
    for (let i = start; i < end; i++) {
      const previous = v![i]!;
      const step = momentum * previous + rate * gradient(i);
      v![i] = step;
      w![i] -= (1 + momentum) * step - momentum * previous;
    }
  } else {
    for (let i = start; i < end; i++) {
      const grad = gradient(i);
      v![i] = momentum * v![i]! + (1 - momentum) * grad;
      s![i] = momentum2 * s![i]! + (1 - momentum2) * grad * grad;
      w![i] -= (rate * correction * v![i]!) / (Math.sqrt(s![i]!) + epsilon);
    }
  }
};
