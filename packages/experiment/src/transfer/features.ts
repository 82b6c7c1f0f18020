import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Net } from '@cnn/nn';
import { findNonFinite } from '@cnn/tensor';
import { IN_TURN, type ImageRequest, type ImageWorkers, type InputRecipe, type StoredImage } from '../data/index.js';
import { writeFileAtomic } from '../commands/files.js';
import { ExperimentError } from '../errors.js';
import { startProgress } from '../progress.js';
import { entryFileName, readEntry, writeEntry } from './cache-entry.js';
import type { TransferPlan } from './plan.js';

/** Features of every image at the cut, one row per image. */
export interface FeatureSet {
  /** `count x dimension` values, row-major. */
  data: Float32Array;
  count: number;
  dimension: number;
}

/** Where the feature cache lives and what makes an entry valid. */
export interface FeatureCache {
  /** Folder of the cache; entries go in a subfolder per model key. */
  dir: string;
  /**
   * Identifies the model and preprocessing: the weights' checksum, the prototxt, the
   * recipe and the cut. Features are reused only under the same key.
   */
  modelKey: string;
}

/** sha1 of some bytes or text, hex. */
export function sha1(data: string | Uint8Array): string {
  return createHash('sha1').update(data).digest('hex');
}

/**
 * Runs every image through the frozen base, up to the cut, in batches on all cores,
 * and returns the features. With image workers, each batch's net inputs are made on them and
 * this thread together, then the batch runs through the base on the pool's threads (the same
 * inputs as without, so the same features). The two steps take turns rather than overlap: the
 * pool uses every core, and a forward pass whose threads share the cores with an image worker
 * waits, at each layer, for whichever thread was set aside (on busi with 2 threads, turns ran
 * 5% faster and took 2% less CPU).
 * With a cache, each image's features are stored in a file
 * named by the image's content (after preprocessing) under the model key, written
 * atomically with a checksum (cache-entry.ts): an interrupted extraction resumes with the
 * images it had not reached, a later run with the same model and recipe computes nothing
 * again, and an entry that fails its checks is recomputed, with a note.
 */
export async function extractFeatures(
  net: Net,
  plan: TransferPlan,
  recipe: InputRecipe,
  images: readonly StoredImage[],
  options: {
    cache?: FeatureCache;
    batch?: number;
    quiet?: boolean;
    label?: string;
    /**
     * Draws random crops and mirrors (when the recipe asks for them) from a generator seeded by
     * this number and each image's content: variant v of an image is the same in every run.
     */
    variant?: number;
    /** Receives a line for each damaged cache file found and recomputed (default: stderr). */
    note?: (line: string) => void;
    /** The images' names, for errors (default: their positions). */
    names?: readonly string[];
    /** Makes the net inputs beside the forward pass (default: in turn with it, on this thread). */
    workers?: ImageWorkers;
    /**
     * Wall seconds the caller spent reading and decoding `images` (all of them): counted pro rata
     * in the rate, which then covers the whole way from file to features.
     */
    decodeSeconds?: number;
  } = {},
): Promise<{ features: FeatureSet; computed: number; seconds: number; imagesPerSecond: number }> {
  const dimension = plan.featureShape.reduce((p, d) => p * d, 1);
  const data = new Float32Array(images.length * dimension);
  const folder = options.cache ? join(options.cache.dir, options.cache.modelKey) : undefined;
  if (folder) mkdirSync(folder, { recursive: true });
  const entry = (image: StoredImage): string => join(folder!, entryFileName(image, options.variant));
  const variantSeed = (image: StoredImage): number | undefined =>
    options.variant === undefined ? undefined : (Math.imul(options.variant, 2654435761) + parseInt(sha1(image.data).slice(0, 8), 16)) >>> 0;

  const note = options.note ?? ((line: string) => process.stderr.write(`${line}\n`));
  // Non-finite features (an overflowing model or recipe) would train a head on NaN: refused
  // here, before they are cached or trained on.
  const checkFinite = (row: Float32Array, i: number): void => {
    const bad = findNonFinite(row);
    if (!bad) return;
    throw new ExperimentError(
      `features at ${plan.cutBlob} of ${options.names?.[i] ?? `image #${i}`} hold ${bad.count} non-finite value${bad.count > 1 ? 's' : ''} of ${row.length} ` +
        `(${bad.value} at index ${bad.first}): the model or the input recipe overflows; head training would learn nothing from them`,
    );
  };
  const missing: number[] = [];
  // Each entry's name hashes the image's pixels: computed once, for the look-up and the write.
  const files = folder ? images.map(entry) : undefined;
  images.forEach((_, i) => {
    const file = files?.[i];
    const cached = file ? readEntry(file, dimension) : undefined;
    if (cached instanceof Float32Array) {
      checkFinite(cached, i);
      data.set(cached, i * dimension);
    } else {
      if (cached) note(`feature cache: ${file} is damaged (${cached.damaged}); recomputed`);
      missing.push(i);
    }
  });
  // The rate of the base is a property of the model and machine: remember it, so a run served
  // entirely from the cache still reports how fast its features were made. Without a valid
  // record, it is measured on the images computed now, or else on one batch extracted again.
  const rateFile = folder ? join(folder, 'rate.json') : undefined;
  let recordedRate = rateFile ? readRate(rateFile) : undefined;
  if (typeof recordedRate === 'string') {
    const how = missing.length > 0 ? `on the ${missing.length} image(s) computed now` : 'on one batch';
    note(`feature cache: ${rateFile} is damaged (${recordedRate}); the rate is measured again ${how}`);
    recordedRate = undefined;
  }
  const batch = Math.min(options.batch ?? 16, images.length);
  const timed = rateFile && missing.length === 0 && recordedRate === undefined ? [...Array(batch).keys()] : missing;

  /** Starts making the net inputs of the images at `indices` (on the workers, if any; the rest when collected). */
  const netInputs = (indices: readonly number[]): ImageRequest<Float32Array> => {
    const batchImages = indices.map((i) => images[i]!);
    return (options.workers ?? IN_TURN).netInputs(batchImages, recipe, batchImages.map(variantSeed));
  };
  const batches: number[][] = [];
  for (let start = 0; start < timed.length; start += batch) batches.push(timed.slice(start, start + batch));

  const started = performance.now();
  const input = net.blob(plan.input.blob);
  const progress = startProgress(options.label ?? 'features', timed.length, 'images', options.quiet);
  let done = 0;
  for (const chunk of batches) {
    const inputs = await netInputs(chunk).collect();
    if (input.shape[0] !== chunk.length) net.setBatchSize(chunk.length);
    inputs.forEach((values, n) => input.data.data.set(values, n * values.length));
    net.forward({ to: plan.cutLayer });
    const out = net.blob(plan.cutBlob).data.data;
    chunk.forEach((i, n) => {
      const row = Float32Array.from(out.subarray(n * dimension, (n + 1) * dimension));
      checkFinite(row, i);
      data.set(row, i * dimension);
      if (files) writeEntry(files[i]!, row);
    });
    done += chunk.length;
    progress.update(done);
  }
  progress.stop();
  const seconds = (performance.now() - started) / 1000;
  let imagesPerSecond = recordedRate ?? 0;
  if (timed.length > 0) {
    const decodeSeconds = images.length > 0 ? ((options.decodeSeconds ?? 0) * timed.length) / images.length : 0;
    imagesPerSecond = timed.length / (seconds + decodeSeconds);
    if (rateFile) writeFileAtomic(rateFile, JSON.stringify({ imagesPerSecond }));
  }
  return { features: { data, count: images.length, dimension }, computed: missing.length, seconds, imagesPerSecond };
}

/** The rate recorded in `file`: a number, `undefined` when there is no record, or why the record is unusable. */
function readRate(file: string): number | string | undefined {
  if (!existsSync(file)) return undefined;
  let record: unknown;
  try {
    record = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    return `not JSON: ${(error as Error).message}`;
  }
  const rate = (record as { imagesPerSecond?: unknown } | null)?.imagesPerSecond;
  return typeof rate === 'number' && Number.isFinite(rate) && rate > 0 ? rate : 'no positive imagesPerSecond';
}

/** The rows of `features` at `indices`, as a new set. */
export function selectRows(features: FeatureSet, indices: readonly number[]): FeatureSet {
  const data = new Float32Array(indices.length * features.dimension);
  indices.forEach((row, i) => data.set(features.data.subarray(row * features.dimension, (row + 1) * features.dimension), i * features.dimension));
  return { data, count: indices.length, dimension: features.dimension };
}

/** The rows of several sets of one dimension, one after the other, as a new set. */
export function stackRows(parts: readonly FeatureSet[]): FeatureSet {
  const data = new Float32Array(parts.reduce((sum, part) => sum + part.data.length, 0));
  parts.reduce((at, part) => (data.set(part.data, at), at + part.data.length), 0);
  return { data, count: parts.reduce((sum, part) => sum + part.count, 0), dimension: parts[0]!.dimension };
}
