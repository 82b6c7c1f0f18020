import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { fc8Tolerance } from '../peers/check.js';
import type { SystemReport } from '../peers/measure-system.js';
import { batches, systems, threadCounts, type System } from '../peers/systems.js';
import { markdownTable, writeSection } from '../results.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** Runs peers/child for one system at one thread count; its output lines show as they come. */
function runChild(system: System, threads: number): Promise<SystemReport> {
  const fromSource = import.meta.url.endsWith('.ts');
  const script = fileURLToPath(new URL(`../peers/child.${fromSource ? 'ts' : 'js'}`, import.meta.url));
  const child = fork(script, [system.id, String(threads)], {
    cwd: repoRoot,
    execArgv: fromSource ? ['--conditions=source', '--import', 'tsx'] : [],
    stdio: 'inherit',
  });
  return new Promise((resolve, reject) => {
    let report: SystemReport | undefined;
    child.on('message', (message) => {
      report = message as SystemReport;
      child.disconnect();
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (report && code === 0) resolve(report);
      else reject(new Error(`${system.label}, ${threads} thread(s): child exited with ${signal ?? `code ${code}`}`));
    });
  });
}

const formatRate = (rate: number): string => rate.toFixed(rate >= 100 ? 0 : rate >= 10 ? 1 : 2);

/**
 * The same CaffeNet (weights, input) in this project and in the libraries a user would pick
 * instead: images/s per batch size and thread count, each peer's ratio to this project's wasm
 * backend in the same configuration, and the check that each computes the same function.
 */
export async function peersSuite(): Promise<void> {
  const rows = systems();
  const reports = new Map<string, SystemReport>();
  const failures: string[] = [];
  const key = (id: string, threads: number): string => `${id}/${threads}`;
  for (const system of rows) {
    for (const threads of threadCounts) {
      if (system.skip(1, threads) !== undefined) continue;
      console.log(`peers: ${system.label}, ${threads} thread(s)`);
      try {
        const report = await runChild(system, threads);
        reports.set(key(system.id, threads), report);
        if (!report.check.passed) failures.push(`${system.label}, ${threads} thread(s): output differs from this project's`);
      } catch (error) {
        failures.push((error as Error).message);
      }
    }
  }

  const rate = (id: string, batch: number, threads: number): number | undefined => reports.get(key(id, threads))?.results.find((result) => result.batch === batch)?.imagesPerSecond;
  const cell = (system: System, batch: number, threads: number): string => {
    const skipped = system.skip(batch, threads);
    if (skipped !== undefined) return skipped;
    const report = reports.get(key(system.id, threads));
    if (!report) return 'failed (see below)';
    if (!report.check.passed) return 'wrong output: not timed';
    const ours = rate('ours-wasm', batch, threads);
    const theirs = rate(system.id, batch, threads)!;
    return system.id === 'ours-wasm' || ours === undefined ? formatRate(theirs) : `${formatRate(theirs)} (${(theirs / ours).toFixed(2)}x)`;
  };
  const columns = batches.flatMap((batch) => threadCounts.map((threads) => ({ batch, threads })));
  const table = markdownTable(
    ['system', ...columns.map(({ batch, threads }) => `batch ${batch}, ${threads} thread${threads > 1 ? 's' : ''}`)],
    rows.map((system) => [system.label, ...columns.map(({ batch, threads }) => cell(system, batch, threads))]),
  );

  const slow = rows
    .filter((system) => system.skip(64, 1) !== undefined && rate(system.id, 1, 1) !== undefined)
    .map((system) => `${system.label} would take about ${(64 / rate(system.id, 1, 1)!).toFixed(0)} s per batch of 64 (per benchmark.js sample) at its batch-1 speed`)
    .join('; ');
  const checks = markdownTable(
    ['system', 'threads', 'max abs. fc8 difference', 'relative to max abs. fc8', 'max relative prob difference', 'top-5 classes', 'same function'],
    [...reports.values()].map((report) => {
      const { check } = report;
      const label = `${rows.find((system) => system.id === report.id)!.label}${report.id === 'ours-js' ? ' (the reference)' : ''}`;
      return [label, String(report.threads), check.fc8MaxAbs.toExponential(2), check.fc8Relative.toExponential(2), check.probRelative.toExponential(2), check.top5Same ? 'same' : 'different', check.passed ? 'yes' : '**no**'];
    }),
  );
  const reference = [...reports.values()][0]?.reference;
  const body = `CaffeNet forward, 227 x 227 x 3, the random weights of \`new Net(caffeNet({ batch }), { phase: 'TEST', seed: 1 })\` copied into every system, the same random input images. Images/s (benchmark.js mean); in brackets, the ratio to this project's wasm backend in the same column (peer / ours, above 1 = the peer is faster). Each system at each thread count ran in a process of its own.

${table}

Cells without a number:
- *single-threaded (JavaScript)*: tfjs's cpu backend and convnetjs are plain JavaScript on the main thread; they have no thread setting.
- *single-threaded in Node*: tfjs-backend-wasm reports no thread support under Node (its WASM_HAS_MULTITHREAD_SUPPORT flag is false there) and loads its single-threaded SIMD binary.
- *too slow: skipped*: ${slow || 'none this run'}; batch 1 shows their speed.

How each peer runs the net:
- tfjs: built from ops, NHWC: fused conv2d (bias and ReLU fused) per channel group on tf.split halves, then tf.concat (tfjs has no grouped convolution); tf.localResponseNormalization with depthRadius 2 and alpha / 5 (tfjs does not divide alpha by the window); maxPool 'valid' (floor, equal to Caffe's ceil at 55, 27, 13); fused matMul with the weights pre-transposed to [in, out] (tfjs-backend-wasm's fused matMul with transposeB adds the bias wrongly) and fc6's columns reordered to the H, W, C order of an NHWC flatten.
- onnxruntime-web and onnxruntime-node: one ONNX model (opset 13) written by bench/src/peers/onnx-writer.ts: Conv with group, LRN (ONNX, like Caffe, scales by alpha / size), MaxPool, Relu, Flatten, Gemm (transB), Softmax; the weights are initializers. onnxruntime-web: its WebAssembly SIMD build, threads through worker threads, one thread count per process; onnxruntime-node: the native CPU build bundled in the package (intraOpNumThreads = threads, sequential execution).
- convnetjs: its Conv, Pool, LRN, ReLU, FullyConn and Softmax layers driven by hand, one image at a time, two ConvLayers per grouped convolution on copied channel halves; it computes in float64.

Correctness: every system, at every thread count, ran image 0 at batch 1 and its fc8 (before the softmax) and probabilities were compared with this project's js backend (1 thread). Pass: identical top-5 classes and max |fc8 difference| at most ${fc8Tolerance} of max |fc8|. A system that fails is not timed.${reference ? ` The reference's fc8 spans ${reference.fc8Min.toFixed(2)} to ${reference.fc8Max.toFixed(2)} and its largest probability is ${reference.probMax.toFixed(4)} (uniform: 0.001), so the softmax is far from flat and the comparison is informative.` : ''}

${checks}${failures.length > 0 ? `\n\nFailed:\n${failures.map((failure) => `- ${failure}`).join('\n')}` : ''}`;
  console.log(`\n${body}\n`);
  writeSection('peers', 'Peers: the same CaffeNet in this project, tfjs, onnxruntime and convnetjs (images/s)', body);
  if (failures.length > 0) throw new Error(`peers: ${failures.join('; ')}`);
}
