import { Worker } from 'node:worker_threads';
import { Rng } from '@cnn/tensor';
import { toNetInput, type InputRecipe } from './recipe.js';
import { screenImage, type ScreenOptions, type ScreenedImage, type StoredImage } from './screen-image.js';

/*
 * Worker threads for the per-image work of the experiment: screening files (read, decode, colour
 * rule, the study's preprocessing: screenImage) and making the net's inputs (toNetInput).
 *
 * They run beside the calling thread, so a batch's images are decoded and preprocessed on every
 * core (the forward pass then has the cores to itself: see extractFeatures): a request is
 * posted whole, split into contiguous parts, one per worker, and the workers need
 * nothing more from the caller until it collects the results. When it does, the caller takes
 * the images no worker has started yet, from the end of the list, and does them itself: a
 * caller with nothing else to do halves the work of one worker, and a worker still starting up
 * (a fresh JavaScript engine, a few hundred milliseconds) does not hold it up. Each image is
 * claimed once, through a flag in shared memory, by whichever thread gets there first.
 *
 * Results are put back in the order of the request, so the outcome is the same as doing the
 * work in turn on one thread, whatever the timing; with no workers (size 0) that is what it does.
 */

/**
 * A request to one worker: part `[first, first + count)` of the caller's list, whose items are
 * the part's (item i is the list's `first + i`); `claims` covers the whole list.
 */
export type ImageJob = { id: number; first: number; count: number; claims: Int32Array } & (
  | { kind: 'screen'; paths: readonly string[]; options: ScreenOptions }
  | { kind: 'netInput'; images: readonly StoredImage[]; seeds: readonly (number | undefined)[]; recipe: InputRecipe }
);

/** One image's result (`index` in the caller's list), or the exception that stopped a part (a bug: bad files are results). */
export type ImageReply =
  | { id: number; index: number; screened: ScreenedImage }
  | { id: number; index: number; input: Float32Array }
  | { id: number; failure: { name: string; message: string; stack?: string; item: string } };

/**
 * An exception while screening or preprocessing an image (a bug: bad files are results, not
 * exceptions), on a worker or on the calling thread, naming the file or image.
 */
export class ImageWorkerError extends Error {
  constructor(failure: { name: string; message: string; stack?: string; item: string }, where: 'an image worker' | 'the calling thread') {
    super(`${failure.item}: ${failure.name}: ${failure.message} (in ${where})`);
    this.name = 'ImageWorkerError';
    if (failure.stack) this.stack = `${this.name}: ${this.message}\n--- where it was thrown ---\n${failure.stack}`;
  }
}

/** The parts of an exception a failure reply carries. */
export function failureOf(error: unknown, item: string): { name: string; message: string; stack?: string; item: string } {
  const { name, message, stack } = error instanceof Error ? error : { name: 'Error', message: String(error), stack: undefined };
  return { name, message, stack, item };
}

/** Claims image `index` of a request for the calling thread: true when no other thread had it. */
export function claim(claims: Int32Array, index: number): boolean {
  return Atomics.compareExchange(claims, index, 0, 1) === 0;
}

/** The result for item `i` of a job: its file screened, or its image's net input (crop and mirror drawn from its seed). */
export function doItem(job: ImageJob, i: number): ScreenedImage | Float32Array {
  if (job.kind === 'screen') return screenImage(job.paths[i]!, job.options);
  const seed = job.seeds[i];
  return toNetInput(job.images[i]!, job.recipe, seed === undefined ? undefined : new Rng(seed));
}

/** What item `i` of a job is called in errors. */
export function itemName(job: ImageJob, i: number): string {
  return job.kind === 'screen' ? job.paths[i]! : `image #${job.first + i}`;
}

/**
 * Below this many images a run does them on its own thread: starting a worker (a fresh
 * JavaScript engine that compiles the decoders) would cost more than it saves.
 */
export const MIN_IMAGES_FOR_WORKERS = 64;

/** A request in flight: `collect()` helps with it and returns its results in order. */
export interface ImageRequest<T> {
  collect(): Promise<T[]>;
}

interface Pending {
  job: ImageJob;
  results: unknown[];
  left: number;
  onEach?: (index: number) => void;
  done: Promise<void>;
  resolve: () => void;
  reject: (error: Error) => void;
  /** Set when a worker failed: the caller stops helping. */
  error?: Error;
}

/** A few worker threads serving screenImage and toNetInput requests (see above), started at the first request. */
export class ImageWorkers {
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private started: Worker[] | undefined;
  /** Images the workers have done (the rest, the callers did): how much of the work was taken off the calling thread. */
  doneOnWorkers = 0;

  /** `size` workers (0: the caller does every image itself), none started yet. */
  constructor(readonly size: number) {}

  /** These workers for a run over `images` images, or none for a handful (see MIN_IMAGES_FOR_WORKERS). */
  forImages(images: number): ImageWorkers | undefined {
    return images >= MIN_IMAGES_FOR_WORKERS ? this : undefined;
  }

  /**
   * Starts the workers now rather than at the first request: each is a fresh JavaScript engine
   * that loads and compiles the decoders (about 0.2 s from the TypeScript sources), which can
   * then happen while the calling thread does something else, such as loading the model.
   */
  start(): this {
    if (this.size > 0) this.workers();
    return this;
  }

  /** screenImage of every path; `onEach(i)` is called as path i is done (in any order; for progress). */
  screen(paths: readonly string[], options: ScreenOptions, onEach?: (index: number) => void): ImageRequest<ScreenedImage> {
    return this.request({ kind: 'screen', paths, options }, paths.length, onEach);
  }

  /** toNetInput of every image; image i draws its crop and mirror from `new Rng(seeds[i])` when a seed is given. */
  netInputs(images: readonly StoredImage[], recipe: InputRecipe, seeds: readonly (number | undefined)[]): ImageRequest<Float32Array> {
    return this.request({ kind: 'netInput', images, seeds, recipe }, images.length);
  }

  /** Stops the workers (if any were started). */
  async close(): Promise<void> {
    const workers = this.started ?? [];
    this.started = undefined;
    await Promise.all(workers.map((worker) => worker.terminate()));
  }

  private request<T>(what: DistributiveOmit<ImageJob, 'id' | 'first' | 'count' | 'claims'>, count: number, onEach?: (index: number) => void): ImageRequest<T> {
    const id = this.nextId++;
    const job = { ...what, id, first: 0, count, claims: new Int32Array(new SharedArrayBuffer(4 * Math.max(1, count))) } as ImageJob;
    let resolve!: () => void;
    let reject!: (error: Error) => void;
    const done = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
    // Marked handled: a failure is rethrown by collect(), and a request never collected (its caller failed first) is dropped.
    done.catch(() => undefined);
    const pending: Pending = { job, results: new Array(count), left: count, onEach, done, resolve, reject };
    this.pending.set(id, pending);
    if (count === 0) this.settle(id);
    const workers = this.size > 0 && count > 0 ? this.workers() : [];
    const parts = Math.min(workers.length, count);
    for (let p = 0; p < parts; p++) {
      const first = Math.floor((p * count) / parts);
      const end = Math.floor(((p + 1) * count) / parts);
      const part =
        job.kind === 'screen'
          ? { ...job, paths: job.paths.slice(first, end) }
          : { ...job, images: job.images.slice(first, end), seeds: job.seeds.slice(first, end) };
      workers[p]!.ref();
      workers[p]!.postMessage({ ...part, first, count: end - first });
    }
    return { collect: () => this.collect(pending) as Promise<T[]> };
  }

  /** The caller does the images no worker has claimed, from the end of the list, then waits for the rest. */
  private async collect(pending: Pending): Promise<unknown[]> {
    const { job } = pending;
    for (let index = job.count - 1; index >= 0 && pending.error === undefined; index--) {
      if (!claim(job.claims, index)) continue;
      let result: unknown;
      try {
        result = doItem(job, index);
      } catch (error) {
        this.fail(pending, new ImageWorkerError(failureOf(error, itemName(job, index)), 'the calling thread'));
        break;
      }
      this.store(pending, index, result);
    }
    await pending.done;
    return pending.results;
  }

  private store(pending: Pending, index: number, result: unknown): void {
    pending.results[index] = result;
    pending.onEach?.(index);
    if (--pending.left === 0) this.settle(pending.job.id);
  }

  private workers(): Worker[] {
    if (this.started) return this.started;
    // From the TypeScript sources (tests, tsx) a worker needs tsx's loader and the `source`
    // export condition, so its imports resolve to the same sources as this thread's.
    const extension = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
    const entry = new URL(`./image-worker.${extension}`, import.meta.url).href;
    const start = (): Worker => {
      const worker =
        extension === 'ts'
          ? new Worker(`import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })`, {
              eval: true,
              execArgv: ['--conditions=source'],
            })
          : new Worker(new URL(entry));
      worker.on('message', (reply: ImageReply) => this.receive(reply));
      worker.on('error', (error) => this.failAll(error));
      worker.on('exit', (code) => this.failAll(new Error(`an image worker exited with code ${code}`)));
      // Idle workers never keep the process alive; a request in flight refs them (request()).
      worker.unref();
      return worker;
    };
    this.started = Array.from({ length: this.size }, start);
    return this.started;
  }

  private receive(reply: ImageReply): void {
    const pending = this.pending.get(reply.id);
    if (!pending) return;
    if ('failure' in reply) {
      this.fail(pending, new ImageWorkerError(reply.failure, 'an image worker'));
      return;
    }
    this.doneOnWorkers++;
    this.store(pending, reply.index, 'screened' in reply ? reply.screened : reply.input);
  }

  private settle(id: number): void {
    const pending = this.pending.get(id);
    this.pending.delete(id);
    if (this.pending.size === 0) for (const worker of this.started ?? []) worker.unref();
    pending?.resolve();
  }

  private fail(pending: Pending, error: Error): void {
    pending.error = error;
    this.pending.delete(pending.job.id);
    if (this.pending.size === 0) for (const worker of this.started ?? []) worker.unref();
    pending.reject(error);
  }

  private failAll(error: Error): void {
    for (const pending of [...this.pending.values()]) this.fail(pending, error);
  }
}

/** The caller doing every image itself: the path without workers. */
export const IN_TURN = new ImageWorkers(0);

/** Omit over each member of a union. */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
