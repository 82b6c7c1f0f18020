import { Rng, allocate, getBackend, setBackend, setThreads, shutdownPool, type BackendName } from '@cnn/tensor';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { updateParameter, type UpdateConstants, type UpdateRule } from './index.js';
import { updateWasmKernels } from './wasm.js';

afterAll(() => shutdownPool());

const count = 300_001; // above the parallel threshold, and odd
const base: Omit<UpdateConstants, 'rule' | 'l1'> = { rate: 0.01, decay: 5e-4, iterSize: 2, momentum: 0.9, momentum2: 0.999, epsilon: 1e-8, correction: 0.3 };

/** w, g, v, s on shared memory, seeded (s non-negative, as second moments are). */
function state(seed: number): Float32Array[] {
  const rng = new Rng(seed);
  return [0, 1, 2, 3].map((k) => {
    const a = allocate(count, { shared: true }) as Float32Array;
    for (let i = 0; i < count; i++) a[i] = k === 3 ? rng.uniform(0, 1) : rng.uniform(-1, 1);
    return a;
  });
}

describe('the solver update kernel', () => {
  const rules = (['SGD', 'Nesterov', 'Adam'] as UpdateRule[]).flatMap((rule) => [false, true].map((l1) => ({ rule, l1 })));
  it.each((['js', 'wasm'] as BackendName[]).flatMap((backend) => rules.map((r) => ({ ...r, backend }))))(
    '$rule (L1: $l1), $backend backend: the formula element by element, and the same bits on 2 threads as on 1',
    ({ rule, l1, backend }) => {
      const initial = getBackend().name;
      setBackend(backend);
      const sgdUpdate = vi.spyOn(updateWasmKernels.sgdUpdate, 'run');
      try {
        check({ ...base, rule, l1 });
        // The wasm backend runs plain SGD with L2 decay itself (its arrays are on its heap).
        const ranInWasm = sgdUpdate.mock.results.some((result) => result.value === true);
        expect(ranInWasm).toBe(backend === 'wasm' && rule === 'SGD' && !l1);
      } finally {
        sgdUpdate.mockRestore();
        setBackend(initial);
      }
    },
  );
});

/** Runs the update on 1 and 2 threads: same bits; and checks a few elements against the formula. */
function check(c: UpdateConstants): void {
  const { rule, l1 } = c;
  const [w0, g0, v0, s0] = state(1);
  const run = (threads: number) => {
    setThreads(threads);
    const [w, g, v, s] = [w0, g0, v0, s0].map((a) => Float32Array.from(a!)).map((a) => {
      const shared = allocate(count, { shared: true }) as Float32Array;
      shared.set(a);
      return shared;
    });
    updateParameter(w!, g!, v!, s, count, c);
    return { w: w!, g: g!, v: v!, s: s! };
  };
  const one = run(1);
  const two = run(2);
  expect(two.w).toEqual(one.w);
  expect(two.v).toEqual(one.v);
  for (const i of [0, 1, 77_777, count - 1]) {
    const grad = g0![i]! / c.iterSize + c.decay * (l1 ? Math.sign(w0![i]!) : w0![i]!);
    expect(one.g[i]).toBeCloseTo(grad, 6);
    if (rule === 'SGD') {
      const step = c.momentum * v0![i]! + c.rate * grad;
      expect(one.v[i]).toBeCloseTo(step, 6);
      expect(one.w[i]).toBeCloseTo(w0![i]! - step, 6);
    } else if (rule === 'Nesterov') {
      const step = c.momentum * v0![i]! + c.rate * grad;
      expect(one.w[i]).toBeCloseTo(w0![i]! - ((1 + c.momentum) * step - c.momentum * v0![i]!), 6);
    } else {
      const m = c.momentum * v0![i]! + (1 - c.momentum) * grad;
      const s = c.momentum2 * s0![i]! + (1 - c.momentum2) * grad * grad;
      expect(one.s[i]).toBeCloseTo(s, 6);
      expect(one.w[i]).toBeCloseTo(w0![i]! - (c.rate * c.correction * m) / (Math.sqrt(s) + c.epsilon), 6);
    }
  }
}
