import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { logitsTolerance } from '../peers/check.js';
import type { SystemReport } from '../peers/measure-system.js';
import { peerModel, peerModels, type PeerModel } from '../peers/reference.js';
import { batches, systems, threadCounts, tooSlowAt64, type System } from '../peers/systems.js';
import { markdownTable, writeSection } from '../results.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** Runs peers/child for one system on one net at one thread count; its output lines show as they come. */
function runChild(system: System, model: PeerModel, threads: number): Promise<SystemReport> {
  const fromSource = import.meta.url.endsWith('.ts');
  const script = fileURLToPath(new URL(`../peers/child.${fromSource ? 'ts' : 'js'}`, import.meta.url));
  const child = fork(script, [system.id, String(threads), model.id], {
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
      else reject(new Error(`${model.label}, ${system.label}, ${threads} thread(s): child exited with ${signal ?? `code ${code}`}`));
    });
  });
}

const formatRate = (rate: number): string => rate.toFixed(rate >= 100 ? 0 : rate >= 10 ? 1 : 2);

/** One net's table: every system's images/s per batch size and thread count, and its ratio to ours. */
async function modelTable(model: PeerModel, reports: SystemReport[], failures: string[]): Promise<string> {
  const rows = chosenSystems();
  const byKey = new Map<string, SystemReport>();
  const key = (id: string, threads: number): string => `${id}/${threads}`;
  for (const system of rows) {
    for (const threads of threadCounts) {
      if (system.skip(model, 1, threads) !== undefined) continue;
      console.log(`peers: ${model.label}, ${system.label}, ${threads} thread(s)`);
      try {
        const report = await runChild(system, model, threads);
        byKey.set(key(system.id, threads), report);
        reports.push(report);
        if (!report.check.passed) failures.push(`${model.label}, ${system.label}, ${threads} thread(s): output differs from this project's`);
      } catch (error) {
        failures.push((error as Error).message);
      }
    }
  }
  const rate = (id: string, batch: number, threads: number): number | undefined => byKey.get(key(id, threads))?.results.find((result) => result.batch === batch)?.imagesPerSecond;
  const cell = (system: System, batch: number, threads: number): string => {
    const skipped = system.skip(model, batch, threads);
    if (skipped !== undefined) return skipped;
    const report = byKey.get(key(system.id, threads));
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
    .filter((system) => system.skip(model, 64, 1) === tooSlowAt64 && rate(system.id, 1, 1) !== undefined)
    .map((system) => `${system.label} would take about ${(64 / rate(system.id, 1, 1)!).toFixed(0)} s per batch of 64 (per benchmark.js sample) at its batch-1 speed`);
  return `### ${model.label}\n\n${table}${slow.length > 0 ? `\n\nToo slow at batch 64: ${slow.join('; ')}.` : ''}`;
}

/** The systems to run: all, or those named in CNN_BENCH_SYSTEMS (comma-separated ids, e.g. ours-wasm,opencv). */
function chosenSystems(): System[] {
  const wanted = process.env.CNN_BENCH_SYSTEMS?.split(',').map((id) => id.trim());
  return wanted ? systems().filter((system) => wanted.includes(system.id)) : systems();
}

/** The nets to compare: all of `peerModels`, or those named in CNN_BENCH_MODELS (comma-separated ids). */
function chosenModels(): readonly PeerModel[] {
  const wanted = process.env.CNN_BENCH_MODELS;
  return wanted ? wanted.split(',').map((id) => peerModel(id.trim())) : peerModels;
}

/**
 * The same nets (weights, input) in this project and in the libraries a user would pick instead:
 * images/s per batch size and thread count, each peer's ratio to this project's wasm backend in
 * the same configuration, and the check that each computes the same function.
 */
export async function peersSuite(): Promise<void> {
  const reports: SystemReport[] = [];
  const failures: string[] = [];
  const tables: string[] = [];
  for (const model of chosenModels()) tables.push(await modelTable(model, reports, failures));
  const rows = systems();
  const checks = markdownTable(
    ['net', 'system', 'threads', 'max abs. logits difference', 'relative to max abs. logit', 'max relative prob difference', 'top-5 classes', 'same function'],
    reports.map((report) => {
      const { check } = report;
      const label = `${rows.find((system) => system.id === report.id)!.label}${report.id === 'ours-js' ? ' (the reference)' : ''}`;
      return [peerModel(report.model).label, label, String(report.threads), check.logitsMaxAbs.toExponential(2), check.logitsRelative.toExponential(2), check.probRelative.toExponential(2), check.top5Same ? 'same' : 'different', check.passed ? 'yes' : '**no**'];
    }),
  );
  const spans = chosenModels()
    .map((model) => {
      const reference = reports.find((report) => report.model === model.id)?.reference;
      return reference ? `${model.label}: ${model.logits} from ${reference.logitsMin.toFixed(2)} to ${reference.logitsMax.toFixed(2)}, largest probability ${reference.probMax.toFixed(4)} (uniform: ${(1 / model.classes).toFixed(4)})` : undefined;
    })
    .filter(Boolean);
  const body = `Forward passes of the same nets with the same weights and the same random input images in every system: CaffeNet (227 x 227 x 3) with the random weights of \`new Net(caffeNet({ batch }), { phase: 'TEST', seed: 1 })\`, input uniform in [-128, 128); the MobileNet v1 fixtures of ../shared/fixtures/imagenet (real ImageNet weights, read through the Caffe importer), input uniform in [-1, 1). Images/s (benchmark.js mean); in brackets, the ratio to this project's wasm backend in the same column (peer / ours, above 1 = the peer is faster). Each system at each thread count ran in a process of its own.

${tables.join('\n\n')}

Cells without a number:
- *single-threaded (JavaScript)*: tfjs's cpu backend and convnetjs are plain JavaScript on the main thread; they have no thread setting.
- *single-threaded in Node*: tfjs-backend-wasm reports no thread support under Node (its WASM_HAS_MULTITHREAD_SUPPORT flag is false there) and loads its single-threaded SIMD binary.
- *too slow: skipped*: a batch of 64 would take minutes per sample; batch 1 shows their speed.
- *CaffeNet only*: convnetjs has no depthwise convolution, and tfjs's cpu backend would take minutes per MobileNet batch.

How each peer runs the nets:
- tfjs: built from ops, NHWC: fused conv2d (bias and ReLU fused) per channel group on tf.split halves, then tf.concat (tfjs has no grouped convolution); MobileNet's depthwise layers as fused depthwiseConv2d, its Clip (0, 6) fused as relu6, pool6 as a mean over H and W; tf.localResponseNormalization with depthRadius 2 and alpha / 5 (tfjs does not divide alpha by the window); maxPool 'valid' (floor, equal to Caffe's ceil at 55, 27, 13); fused matMul with the weights pre-transposed to [in, out] (tfjs-backend-wasm's fused matMul with transposeB adds the bias wrongly) and fc6's columns reordered to the H, W, C order of an NHWC flatten.
- onnxruntime-web and onnxruntime-node: one ONNX model (opset 13) per net written by bench/src/peers/onnx-writer.ts: Conv with group, LRN (ONNX, like Caffe, scales by alpha / size), MaxPool, Relu, Clip, GlobalAveragePool, Flatten, Gemm (transB), Softmax; the weights are initializers. onnxruntime-web: its WebAssembly SIMD build, threads through worker threads, one thread count per process; onnxruntime-node: the native CPU build bundled in the package (intraOpNumThreads = threads, sequential execution).
- OpenCV dnn: Debian's python3-opencv in a Python child process (bench/src/peers/opencv_peer.py) that stays up, one line per forward pass; cv2.dnn.readNetFromCaffe on the same Caffe files (CaffeNet written from the net by the project's caffemodel writer; the MobileNet fixtures with Clip written as OpenCV's ReLU6), OpenCV's own CPU backend with its layer fusion on, cv2.setNumThreads(threads).
- convnetjs: its Conv, Pool, LRN, ReLU, FullyConn and Softmax layers driven by hand, one image at a time, two ConvLayers per grouped convolution on copied channel halves; it computes in float64.

Correctness: every system, at every thread count, ran image 0 at batch 1 and its logits (fc8 of CaffeNet, fc7 of MobileNet, before the softmax) and probabilities were compared with this project's js backend (1 thread). Pass: identical top-5 classes and max |logits difference| at most ${logitsTolerance} of max |logit|. A system that fails is not timed.${spans.length > 0 ? ` The references' logits and largest probabilities (how far from flat the softmax is, so the comparison is informative): ${spans.join('; ')}.` : ''}

${checks}${failures.length > 0 ? `\n\nFailed:\n${failures.map((failure) => `- ${failure}`).join('\n')}` : ''}`;
  console.log(`\n${body}\n`);
  // A run limited to some nets writes a section of its own, so runs over different nets stand side by side.
  const models = chosenModels();
  const section = models.length === peerModels.length ? 'peers' : `peers:${models.map((model) => model.id).join(',')}`;
  writeSection(section, `Peers: ${models.map((model) => model.label).join(', ')} in this project, OpenCV and the libraries a user would pick instead (images/s)`, body);
  if (failures.length > 0) throw new Error(`peers: ${failures.join('; ')}`);
}
