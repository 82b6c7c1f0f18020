import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { datasetOptions, resolveConfig, type ExperimentConfig } from '../config.js';
import { getThreads } from '@cnn/tensor';
import { ImageWorkers, loadDataset, pixelLimit, screenFiles, type Problem, type StoredImage } from '../data/index.js';
import { startProgress } from '../progress.js';
import { extractFeatures } from '../transfer/features.js';
import { loadFrozenBase } from '../transfer/frozen.js';
import { parseShard, shardFromEnvironment, shardItems, type Shard } from '../transfer/shard.js';
import { removeStaleTemporaries } from './files.js';

/** The options of `cnn features`: the experiment's data, model, recipe and cache settings, and the shard. */
export interface FeaturesOptions extends Partial<ExperimentConfig> {
  /** experiment.json with any of the settings (command-line options win). */
  config?: string;
  /** `K/N`; default: the job system's index (JOB_COMPLETION_INDEX, SLURM_ARRAY_TASK_ID). */
  shard?: string;
  /** N, when the job system gives the index but not the count. */
  shards?: number;
}

/** What one shard did. */
export interface FeaturesSummary {
  shard: Shard;
  /** Studies and images of the shard, and of the whole data set. */
  studies: number;
  totalStudies: number;
  images: number;
  totalImages: number;
  computed: number;
  fromCache: number;
  /** Mirror images computed into their own cache folder (config.mirrorViews; 0 when off). */
  mirroredComputed: number;
  /** Images left out by the colour rule, as `cnn experiment` leaves them out. */
  excluded: number;
  problems: Problem[];
  seconds: number;
  /** Images through the base per second, over the computed ones. */
  imagesPerSecond: number;
  /** The cache folder of this model, recipe and cut. */
  cacheFolder: string;
  /** Temporary files of killed writers found in it and removed. */
  staleRemoved: number;
}

/**
 * Images screened and run through the base at a time. Only this many preprocessed images
 * (64 KiB each) and their features are held at once, whatever the size of the data set.
 */
const STREAM_BATCH = 64;

/** A temporary file in the cache this old was left by a writer that died (writing an entry takes milliseconds). */
const STALE_TEMPORARY_MS = 60 * 60 * 1000;

/**
 * `cnn features`: the features of one shard of the data set (a study never spans two),
 * into the feature cache `cnn experiment` reads, with the same model, recipe and cut as
 * the experiment with the same settings. Images are streamed a batch at a time, entries
 * already in the cache are skipped (so a killed shard reruns from where it stopped), and
 * each entry is written atomically, so shards may share one cache folder.
 */
export async function runFeatures(options: FeaturesOptions, env: NodeJS.ProcessEnv = process.env): Promise<FeaturesSummary> {
  const { config: configFile, shard: shardText, shards, ...given } = options;
  const config = resolveConfig(given, configFile);
  const shard = shardText !== undefined ? parseShard(shardText) : shardFromEnvironment(env, shards);
  const dataset = await loadDataset(config.data, datasetOptions(config));
  const items = shardItems(dataset.items, shard);
  const base = loadFrozenBase(config, dataset.classes.length);
  const cacheFolder = join(base.cache.dir, base.cache.modelKey);
  mkdirSync(cacheFolder, { recursive: true });
  const staleRemoved = removeStaleTemporaries(cacheFolder, STALE_TEMPORARY_MS);

  const started = performance.now();
  const progress = startProgress(`features ${shard.index}/${shard.count}`, items.length, 'images', config.quiet);
  let computed = 0;
  let fromCache = 0;
  let mirroredComputed = 0;
  let excluded = 0;
  let computeSeconds = 0;
  const problems: Problem[] = [];
  // One worker fewer than the threads: this thread does its share when it collects (see image-workers.ts).
  const workers = getThreads() > 1 ? new ImageWorkers(getThreads() - 1).forImages(items.length) : undefined;
  const screenOptions = { keepColour: config.keepColour, maxPixels: pixelLimit(config.maxMegapixels) };
  const screenBatch = (start: number) => screenFiles(items.slice(start, start + STREAM_BATCH).map((item) => item.path), screenOptions, workers);
  try {
    for (let start = 0; start < items.length; start += STREAM_BATCH) {
      // A batch's files are read and decoded (on the workers and this thread), then run through
      // the base: in turn, not overlapped, as extractFeatures does with the net inputs, for the same reason.
      const waitStarted = performance.now();
      const screened = await screenBatch(start).collect();
      const waited = (performance.now() - waitStarted) / 1000;
      const images: StoredImage[] = [];
      for (const result of screened) {
        if ('image' in result) images.push(result.image);
        else if ('excluded' in result) excluded++;
        else problems.push(result.problem);
      }
      // The time spent waiting for the files counts in the rate, which covers the way from file to features.
      const extraction = await extractFeatures(base.model.net, base.plan, base.recipe, images, { cache: base.cache, quiet: true, workers, decodeSeconds: waited });
      computed += extraction.computed;
      fromCache += images.length - extraction.computed;
      computeSeconds += extraction.computed > 0 ? extraction.seconds + waited : 0;
      if (config.mirrorViews) {
        mirroredComputed += (await extractFeatures(base.model.net, base.plan, base.mirror.recipe, images, { cache: base.mirror.cache, quiet: true, workers })).computed;
      }
      progress.update(Math.min(items.length, start + STREAM_BATCH));
    }
  } finally {
    await workers?.close();
  }
  progress.stop();
  return {
    shard,
    studies: new Set(items.map((item) => item.study)).size,
    totalStudies: new Set(dataset.items.map((item) => item.study)).size,
    images: items.length,
    totalImages: dataset.items.length,
    computed,
    fromCache,
    mirroredComputed,
    excluded,
    problems,
    seconds: (performance.now() - started) / 1000,
    imagesPerSecond: computeSeconds > 0 ? computed / computeSeconds : 0,
    cacheFolder,
    staleRemoved,
  };
}

/** The summary as the command prints it. */
export function formatFeatures(summary: FeaturesSummary): string {
  const { shard } = summary;
  const lines = [
    `shard ${shard.index}/${shard.count} (${shard.source}): ${summary.studies} of ${summary.totalStudies} studies, ${summary.images} of ${summary.totalImages} images`,
    `features: ${summary.computed} computed (${summary.imagesPerSecond.toFixed(1)} images/s), ${summary.fromCache} from the cache, ` +
      `${summary.excluded} excluded for colour, ${summary.problems.length} unreadable, in ${summary.seconds.toFixed(1)} s` +
      (summary.mirroredComputed > 0 ? `; mirror images: ${summary.mirroredComputed} computed` : ''),
    ...summary.problems.slice(0, 10).map((problem) => `unreadable: ${problem.path}: ${problem.reason}`),
    ...(summary.problems.length > 10 ? [`unreadable: and ${summary.problems.length - 10} more`] : []),
    `cache: ${summary.cacheFolder}` + (summary.staleRemoved > 0 ? ` (removed ${summary.staleRemoved} temporary file(s) of writers killed over an hour ago)` : ''),
  ];
  return lines.join('\n');
}
