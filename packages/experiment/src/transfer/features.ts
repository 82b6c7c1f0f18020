import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Net } from '@cnn/nn';
import type { InputRecipe, StoredImage } from '../data/index.js';
import { Rng } from '@cnn/tensor';
import { netInputSize, toNetInput } from '../data/index.js';
import { startProgress } from '../progress.js';
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
 * and returns the features. With a cache, each image's features are stored in a file
 * named by the image's content (after preprocessing) under the model key, written
 * atomically: an interrupted extraction resumes with the images it had not reached,
 * and a later run with the same model and recipe computes nothing again.
 */
export function extractFeatures(
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
  } = {},
): { features: FeatureSet; computed: number; seconds: number; imagesPerSecond: number } {
  const dimension = plan.featureShape.reduce((p, d) => p * d, 1);
  const data = new Float32Array(images.length * dimension);
  const folder = options.cache ? join(options.cache.dir, options.cache.modelKey) : undefined;
  if (folder) mkdirSync(folder, { recursive: true });
  const suffix = options.variant === undefined ? '' : `-v${options.variant}`;
  const entry = (image: StoredImage): string => join(folder!, `${sha1(image.data)}-${image.width}x${image.height}${suffix}.f32`);
  const variantRng = (image: StoredImage): Rng | undefined =>
    options.variant === undefined ? undefined : new Rng((Math.imul(options.variant, 2654435761) + parseInt(sha1(image.data).slice(0, 8), 16)) >>> 0);

  const missing: number[] = [];
  images.forEach((image, i) => {
    const file = folder ? entry(image) : undefined;
    if (file && existsSync(file)) {
      const bytes = readFileSync(file);
      if (bytes.length === dimension * 4) {
        data.set(new Float32Array(bytes.buffer, bytes.byteOffset, dimension), i * dimension);
        return;
      }
    }
    missing.push(i);
  });

  const started = performance.now();
  const batch = Math.max(1, Math.min(options.batch ?? 16, missing.length || 1));
  const size = netInputSize(recipe);
  const input = net.blob(plan.input.blob);
  const progress = startProgress(options.label ?? 'features', missing.length, 'images', options.quiet);
  for (let start = 0; start < missing.length; start += batch) {
    const chunk = missing.slice(start, start + batch);
    if (input.shape[0] !== chunk.length) net.setBatchSize(chunk.length);
    const per = 3 * size * size;
    chunk.forEach((i, n) => input.data.data.set(toNetInput(images[i]!, recipe, variantRng(images[i]!)), n * per));
    net.forward({ to: plan.cutLayer });
    const out = net.blob(plan.cutBlob).data.data;
    chunk.forEach((i, n) => {
      const row = Float32Array.from(out.subarray(n * dimension, (n + 1) * dimension));
      data.set(row, i * dimension);
      if (folder) writeAtomic(entry(images[i]!), new Uint8Array(row.buffer, row.byteOffset, row.byteLength));
    });
    progress.update(Math.min(missing.length, start + batch));
  }
  progress.stop();
  const seconds = (performance.now() - started) / 1000;
  // The rate of the base is a property of the model and machine: remember it, so a run served
  // entirely from the cache still reports how fast its features were made.
  const rateFile = folder ? join(folder, 'rate.json') : undefined;
  let imagesPerSecond = missing.length > 0 ? missing.length / seconds : 0;
  if (rateFile && missing.length > 0) writeAtomic(rateFile, JSON.stringify({ imagesPerSecond }));
  else if (rateFile && existsSync(rateFile)) imagesPerSecond = (JSON.parse(readFileSync(rateFile, 'utf8')) as { imagesPerSecond: number }).imagesPerSecond;
  return { features: { data, count: images.length, dimension }, computed: missing.length, seconds, imagesPerSecond };
}

function writeAtomic(path: string, contents: Uint8Array | string): void {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, contents);
  renameSync(temporary, path);
}

/** The rows of `features` at `indices`, as a new set. */
export function selectRows(features: FeatureSet, indices: readonly number[]): FeatureSet {
  const data = new Float32Array(indices.length * features.dimension);
  indices.forEach((row, i) => data.set(features.data.subarray(row * features.dimension, (row + 1) * features.dimension), i * features.dimension));
  return { data, count: indices.length, dimension: features.dimension };
}
