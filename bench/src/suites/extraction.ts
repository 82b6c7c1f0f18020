import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { data, extractFeatures, loadFrozenBase, resolveConfig, SHIPPED_BASE } from '@cnn/experiment';
import { getThreads } from '@cnn/tensor';
import { measure } from '../measure.js';
import { markdownTable, writeSection } from '../results.js';

/*
 * Issue 14's target for the experiment: feature extraction (decode + preprocess + forward) at
 * 70% or more of the pure forward rate. On each shared data set, with the shipped base (or, with
 * CNN_BENCH_BASE=mobilenet_v1_0.5_160, that fixture of ../shared/fixtures/imagenet, the base the
 * issue names), cut where `cnn experiment` cuts it, and the experiment's batch of 16:
 * - the pure forward: the base's forward up to the cut on a batch already in place (benchmark.js);
 * - the whole extraction as `cnn experiment` runs it and report.json rates it: the files read,
 *   decoded and screened (prepareImages) then run through the base (extractFeatures, into a fresh cache),
 *   images over the wall time of both, with the image workers, and in turn on the main thread
 *   (what a run on one worker-less thread does, for comparison).
 * Each is measured ROUNDS times, interleaved, and the medians kept: other work on the machine
 * slows both alike.
 */

const ROUNDS = 3;
const BATCH = 16;
const SETS = ['busi', 'usanotai'];
const sharedData = fileURLToPath(new URL('../../../../shared/data/', import.meta.url));
const sharedImagenet = fileURLToPath(new URL('../../../../shared/fixtures/imagenet/', import.meta.url));

/** The base timed: the shipped one, or the ImageNet fixture that CNN_BENCH_BASE names. */
const timedBase = benchBase();

function benchBase(): { name: string; prototxt: string; weights: string } {
  const fixture = process.env.CNN_BENCH_BASE;
  if (!fixture) return SHIPPED_BASE;
  const dir = path.join(sharedImagenet, fixture);
  return { name: `${fixture} (../shared/fixtures/imagenet)`, prototxt: path.join(dir, 'deploy.prototxt'), weights: path.join(dir, `${fixture}.caffemodel`) };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Images per second of the whole extraction of `set` (prepareImages + extractFeatures), with or without image workers. */
async function extraction(set: string, withWorkers: boolean): Promise<{ imagesPerSecond: number; images: number }> {
  const config = resolveConfig({ data: path.join(sharedData, set), prototxt: timedBase.prototxt, weights: timedBase.weights, preset: 'mobilenet' });
  const dataset = await data.loadDataset(config.data);
  // As in `cnn experiment`: the workers start, then the model loads while they do.
  const workers = withWorkers && getThreads() > 1 ? new data.ImageWorkers(getThreads() - 1).start() : undefined;
  const base = loadFrozenBase(config, dataset.classes.length);
  const cacheDir = mkdtempSync(path.join(tmpdir(), 'cnn-bench-extraction-'));
  try {
    const started = performance.now();
    const prepared = await data.prepareImages(dataset.items, dataset.classes, { workers });
    const decodeSeconds = (performance.now() - started) / 1000;
    // A fresh feature cache, as a first `cnn experiment` run writes one: its entries are written as they are computed.
    const cache = { dir: cacheDir, modelKey: base.cache.modelKey };
    const result = await extractFeatures(base.model.net, base.plan, base.recipe, prepared.images, { quiet: true, batch: BATCH, workers, decodeSeconds, cache });
    return { imagesPerSecond: result.imagesPerSecond, images: prepared.images.length };
  } finally {
    await workers?.close();
    rmSync(cacheDir, { recursive: true, force: true });
  }
}

/** Images per second of the shipped base's forward up to the experiment's cut, at BATCH. */
function pureForward(set: string): number {
  const config = resolveConfig({ data: path.join(sharedData, set), prototxt: timedBase.prototxt, weights: timedBase.weights, preset: 'mobilenet' });
  const { model, plan } = loadFrozenBase(config, 3);
  model.net.setBatchSize(BATCH);
  const input = model.net.blob(plan.input.blob).data.data;
  for (let i = 0; i < input.length; i++) input[i] = Math.sin(i);
  const result = measure(`forward to ${plan.cutLayer}, batch ${BATCH}`, () => model.net.forward({ to: plan.cutLayer }), { minSamples: 5, maxTime: 2 });
  return BATCH / result.seconds;
}

export async function extractionSuite(): Promise<void> {
  const rows: string[][] = [];
  for (const set of SETS) {
    const forward: number[] = [];
    const parallel: number[] = [];
    const inTurn: number[] = [];
    let images = 0;
    const load = loadavg()[0]!;
    for (let round = 0; round < ROUNDS; round++) {
      forward.push(pureForward(set));
      const run = await extraction(set, true);
      images = run.images;
      parallel.push(run.imagesPerSecond);
      inTurn.push((await extraction(set, false)).imagesPerSecond);
      console.log(`  ${set} round ${round + 1}: forward ${forward.at(-1)!.toFixed(1)}, extraction ${parallel.at(-1)!.toFixed(1)} (workers), ${inTurn.at(-1)!.toFixed(1)} (in turn) images/s`);
    }
    const f = median(forward);
    rows.push([
      set,
      String(images),
      `${load.toFixed(1)}, ${loadavg()[0]!.toFixed(1)}`,
      f.toFixed(1),
      median(parallel).toFixed(1),
      `${((100 * median(parallel)) / f).toFixed(0)}%`,
      median(inTurn).toFixed(1),
      `${((100 * median(inTurn)) / f).toFixed(0)}%`,
    ]);
  }
  const table = markdownTable(
    ['data set', 'images', 'load (1 min, start and end)', 'pure forward, images/s', 'extraction with image workers, images/s', 'of the forward', 'extraction in turn, images/s', 'of the forward'],
    rows,
  );
  const body = [
    `Base: ${timedBase.name}, cut where \`cnn experiment\` cuts it, batch ${BATCH}, ${getThreads()} threads. ` +
      'Pure forward: the forward up to the cut on a batch in place. Extraction: as `cnn experiment` rates it in report.json (features_per_second): ' +
      'the files read, decoded and screened, then preprocessed and run through the base into a fresh feature cache, images over the wall time of both; ' +
      `with the image workers (started while the model loads, as cnn experiment does; files decoded, then each batch's net inputs made, on the workers and the main thread together, each batch then run through the base), and all on the main thread alone. Medians of ${ROUNDS} interleaved rounds. Issue 14's target: extraction at 70% or more of the forward.`,
    '',
    table,
  ].join('\n');
  console.log(`\n${table}\n`);
  const section = process.env.CNN_BENCH_BASE ? `extraction-${process.env.CNN_BENCH_BASE}` : 'extraction';
  writeSection(section, `Feature extraction against the pure forward (issue 14), ${timedBase.name}`, body);
}
