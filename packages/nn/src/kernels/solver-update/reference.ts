import type { FloatArray } from '@cnn/tensor';

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

/**
 * One parameter's update, written as the formulas: for each i < count,
 *
 *   g = g / iterSize + decay * (l1 ? sign(w) : w)      (written back: the regularized gradient)
 *   SGD:      v = momentum v + rate g;  w -= v
 *   Nesterov: v' = momentum v + rate g;  w -= (1 + momentum) v' - momentum v;  v = v'
 *   Adam:     v = momentum v + (1 - momentum) g;  s = momentum2 s + (1 - momentum2) g^2;
 *             w -= rate correction v / (sqrt(s) + epsilon)
 *
 * `s` (Adam's second moments) is only read for Adam.
 */
export function updateParameterReference(w: FloatArray, g: FloatArray, v: FloatArray, s: FloatArray | undefined, count: number, c: UpdateConstants): void {
  updateRange(w, g, v, s ?? v, c, 0, count);
}

/** `updateParameterReference` over elements [start, end) (`s` is read only for Adam). */
export function updateRange(w: FloatArray, g: FloatArray, v: FloatArray, s: FloatArray, c: UpdateConstants, start: number, end: number): void {
  const { rate, decay, l1, iterSize, momentum, momentum2, epsilon, correction } = c;
  /** The regularized gradient of element i, also stored back into g. */
  const gradient = (i: number): number => {
    const grad = g[i]! / iterSize + decay * (l1 ? Math.sign(w[i]!) : w[i]!);
    g[i] = grad;
    return grad;
  };
  if (c.rule === 'SGD') {
    for (let i = start; i < end; i++) {
      const step = momentum * v[i]! + rate * gradient(i);
      v[i] = step;
      w[i] -= step;
    }
  } else if (c.rule === 'Nesterov') {
    for (let i = start; i < end; i++) {
      const previous = v[i]!;
      const step = momentum * previous + rate * gradient(i);
      v[i] = step;
      w[i] -= (1 + momentum) * step - momentum * previous;
    }
  } else {
    for (let i = start; i < end; i++) {
      const grad = gradient(i);
      v[i] = momentum * v[i]! + (1 - momentum) * grad;
      s[i] = momentum2 * s[i]! + (1 - momentum2) * grad * grad;
      w[i] -= (rate * correction * v[i]!) / (Math.sqrt(s[i]!) + epsilon);
    }
  }
}
