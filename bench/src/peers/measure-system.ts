import { setBackend, setThreads } from '@cnn/tensor';
import { measure, measureAsync, type CaseOptions, type Measurement } from '../measure.js';
import { compareOutputs, type CheckResult } from './check.js';
import { inputImages, netOps, type PeerModel } from './reference.js';
import type { Outputs, Runner } from './runner.js';
import { batches, type System } from './systems.js';

/** What one system's process reports at one thread count. */
export interface SystemReport {
  id: string;
  model: PeerModel['id'];
  threads: number;
  /** Batch 1, image 0, against this project's js backend. */
  check: CheckResult;
  /** The reference's logits range and largest probability (how far from uniform the softmax is). */
  reference: { logitsMin: number; logitsMax: number; probMax: number };
  /** One per batch size the system ran (none when the check failed). */
  results: { batch: number; imagesPerSecond: number; rme: number; samples: number }[];
}

/** benchmark.js settings: a batch of 64 takes seconds, so it gets the fewest samples. */
function caseOptions(batch: number): CaseOptions {
  return batch === 1 ? { minSamples: 3, maxTime: 1 } : { minSamples: 2, maxTime: 0.5 };
}

function time(runner: Runner, name: string, batch: number): Promise<Measurement> | Measurement {
  return runner.async ? measureAsync(name, runner.forward, caseOptions(batch)) : measure(name, runner.forward, caseOptions(batch));
}

/**
 * In a process of its own: builds this project's net of `model` (the weights everyone uses),
 * computes the reference outputs on image 0 with the js backend on 1 thread, then for each batch
 * size the system runs opens it with the same weights and images, checks it at batch 1 and times it.
 */
export async function measureSystem(system: System, model: PeerModel, threads: number, log: (line: string) => void): Promise<SystemReport> {
  setBackend('js');
  setThreads(1);
  const net = model.net(1);
  net.blob('data').data.data.set(inputImages(model, 1));
  net.forward();
  const ours: Outputs = { logits: Float32Array.from(net.blob(model.logits).data.data), prob: Float32Array.from(net.blob(model.prob).data.data) };
  const reference = { logitsMin: Math.min(...ours.logits), logitsMax: Math.max(...ours.logits), probMax: Math.max(...ours.prob) };
  const ops = netOps(net);
  let check: CheckResult | undefined;
  const results: SystemReport['results'] = [];
  for (const batch of batches) {
    if (system.skip(model, batch, threads) !== undefined) continue;
    const runner = await system.open({ model, net, ops, batch, images: inputImages(model, batch), threads });
    try {
      if (batch === 1) {
        check = compareOutputs(ours, await runner.outputs(), model.classes);
        const { logitsRelative, top5Same, passed } = check;
        log(`  ${system.label}, ${threads} thread(s): ${model.logits} max difference ${logitsRelative.toExponential(2)} of the largest |${model.logits}|, top-5 ${top5Same ? 'same' : 'DIFFERENT'}: ${passed ? 'same function' : 'FAILED'}`);
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
  return { id: system.id, model: model.id, threads, check, reference, results };
}
