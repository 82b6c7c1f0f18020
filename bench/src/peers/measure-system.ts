import { setBackend, setThreads } from '@cnn/tensor';
import { measure, measureAsync, type CaseOptions, type Measurement } from '../measure.js';
import { compareOutputs, type CheckResult } from './check.js';
import { caffeNetOps, classes, inputImages, logitsLayer, probLayer, referenceNet } from './reference.js';
import type { Outputs, Runner } from './runner.js';
import { batches, type System } from './systems.js';

/** What one system's process reports at one thread count. */
export interface SystemReport {
  id: string;
  threads: number;
  /** Batch 1, image 0, against this project's js backend. */
  check: CheckResult;
  /** The reference's fc8 range and largest probability (how far from uniform the softmax is). */
  reference: { fc8Min: number; fc8Max: number; probMax: number };
  /** One per batch size the system ran (none when the check failed). */
  results: { batch: number; imagesPerSecond: number; rme: number; samples: number }[];
}

/** benchmark.js settings: a CaffeNet batch of 64 takes seconds, so it gets the fewest samples. */
function caseOptions(batch: number): CaseOptions {
  return batch === 1 ? { minSamples: 3, maxTime: 1 } : { minSamples: 2, maxTime: 0.5 };
}

function time(runner: Runner, name: string, batch: number): Promise<Measurement> | Measurement {
  return runner.async ? measureAsync(name, runner.forward, caseOptions(batch)) : measure(name, runner.forward, caseOptions(batch));
}

/**
 * In a process of its own: builds this project's CaffeNet (the weights everyone uses), computes
 * the reference outputs on image 0 with the js backend on 1 thread, then for each batch size the
 * system runs opens it with the same weights and images, checks it at batch 1 and times it.
 */
export async function measureSystem(system: System, threads: number, log: (line: string) => void): Promise<SystemReport> {
  const net = referenceNet(1);
  setBackend('js');
  setThreads(1);
  net.blob('data').data.data.set(inputImages(1));
  net.forward();
  const ours: Outputs = { fc8: Float32Array.from(net.blob(logitsLayer).data.data), prob: Float32Array.from(net.blob(probLayer).data.data) };
  const reference = { fc8Min: Math.min(...ours.fc8), fc8Max: Math.max(...ours.fc8), probMax: Math.max(...ours.prob) };
  const ops = caffeNetOps(net);
  let check: CheckResult | undefined;
  const results: SystemReport['results'] = [];
  for (const batch of batches) {
    if (system.skip(batch, threads) !== undefined) continue;
    const runner = await system.open({ net, ops, batch, images: inputImages(batch), threads });
    try {
      if (batch === 1) {
        check = compareOutputs(ours, await runner.outputs(), classes);
        const { fc8Relative, top5Same, passed } = check;
        log(`  ${system.label}, ${threads} thread(s): fc8 max difference ${fc8Relative.toExponential(2)} of the largest |fc8|, top-5 ${top5Same ? 'same' : 'DIFFERENT'}: ${passed ? 'same function' : 'FAILED'}`);
        if (!passed) break; // a wrong result is not timed
      }
      // One untimed pass at this batch size first: with 2 samples of a 10-second forward, a first pass that
      // touches fresh memory and grows scratch buffers inside a sample moved the mean by up to a third.
      await runner.forward();
      const result = await time(runner, `${system.label}, batch ${batch}, ${threads} thread(s)`, batch);
      const imagesPerSecond = batch / result.seconds;
      results.push({ batch, imagesPerSecond, rme: result.rme, samples: result.samples });
      log(`  ${result.name.padEnd(62)} ${imagesPerSecond.toFixed(2).padStart(8)} images/s  ±${result.rme.toFixed(1)}%  (${result.samples} samples)`);
    } finally {
      await runner.dispose();
    }
  }
  if (!check) throw new Error(`${system.id} skips batch 1 at ${threads} thread(s), where the check runs`);
  return { id: system.id, threads, check, reference, results };
}
