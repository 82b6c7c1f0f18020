import { ExperimentError } from '../errors.js';
import { sha1 } from './features.js';

/** One part of a data set split for parallel feature extraction: part `index` of `count`, counting from 0. */
export interface Shard {
  index: number;
  count: number;
  /** Where the shard came from, for messages: `--shard`, or the job system's variables. */
  source: string;
}

/** The whole data set as one shard. */
export const WHOLE: Shard = { index: 0, count: 1, source: 'no --shard and no job array: the whole data set' };

/** `"K/N"` -> shard K of N, with 0 <= K < N (K counts from 0, as job arrays do). */
export function parseShard(text: string): Shard {
  const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!match) throw new ExperimentError(`--shard '${text}': expected K/N, e.g. 0/3 for the first of three shards (K counts from 0)`);
  return checked(Number(match[1]), Number(match[2]), '--shard');
}

/**
 * The shard a job system assigns to this process, when `--shard` is not given:
 * - a Kubernetes Indexed Job sets `JOB_COMPLETION_INDEX` (0 .. completions - 1) but not the
 *   number of completions, so `shards` (`--shards N`) is required with it;
 * - a Slurm job array sets `SLURM_ARRAY_TASK_ID`, `SLURM_ARRAY_TASK_MIN`, `SLURM_ARRAY_TASK_STEP`
 *   and `SLURM_ARRAY_TASK_COUNT`: K = (ID - MIN) / STEP, so `--array=1-8` and `--array=0-14:2`
 *   both give shards 0..N-1; `--shards` may repeat the count, and must then agree.
 * Without either, the whole data set is one shard (`shards`, if given, is then an error).
 */
export function shardFromEnvironment(env: NodeJS.ProcessEnv, shards?: number): Shard {
  const completion = env.JOB_COMPLETION_INDEX;
  if (completion !== undefined) {
    if (shards === undefined) throw new ExperimentError('JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job) but not the number of shards: give --shards N, N = the Job\'s completions');
    return checked(integer(completion, 'JOB_COMPLETION_INDEX'), shards, `JOB_COMPLETION_INDEX=${completion} of --shards ${shards}`);
  }
  const task = env.SLURM_ARRAY_TASK_ID;
  if (task !== undefined) {
    const id = integer(task, 'SLURM_ARRAY_TASK_ID');
    const min = env.SLURM_ARRAY_TASK_MIN === undefined ? 0 : integer(env.SLURM_ARRAY_TASK_MIN, 'SLURM_ARRAY_TASK_MIN');
    const step = env.SLURM_ARRAY_TASK_STEP === undefined ? 1 : integer(env.SLURM_ARRAY_TASK_STEP, 'SLURM_ARRAY_TASK_STEP');
    const count = env.SLURM_ARRAY_TASK_COUNT === undefined ? shards : integer(env.SLURM_ARRAY_TASK_COUNT, 'SLURM_ARRAY_TASK_COUNT');
    if (count === undefined) throw new ExperimentError('SLURM_ARRAY_TASK_ID is set but not SLURM_ARRAY_TASK_COUNT: give --shards N, N = the number of array tasks');
    if (shards !== undefined && shards !== count) throw new ExperimentError(`--shards ${shards} disagrees with SLURM_ARRAY_TASK_COUNT=${count}`);
    if (step < 1 || (id - min) % step !== 0) throw new ExperimentError(`SLURM_ARRAY_TASK_ID=${id} is not on the array's grid (min ${min}, step ${step})`);
    return checked((id - min) / step, count, `SLURM_ARRAY_TASK_ID=${id} (array min ${min}, step ${step}, count ${count})`);
  }
  if (shards !== undefined && shards !== 1) throw new ExperimentError(`--shards ${shards} without --shard K/N or a job array's index: which shard is this?`);
  return WHOLE;
}

/**
 * The shard of a study: the first 8 hex digits of sha1(study name), modulo the shard count.
 * It depends on the study's name only, never on the listing, so a study never spans two shards,
 * and shards that list a growing archive at different moments still agree on every study they
 * both see. With many studies the shards get about the same number of images.
 */
export function shardOfStudy(study: string, count: number): number {
  return parseInt(sha1(study).slice(0, 8), 16) % count;
}

/** The items of `shard`, in their order. */
export function shardItems<T extends { study: string }>(items: readonly T[], shard: Shard): T[] {
  return items.filter((item) => shardOfStudy(item.study, shard.count) === shard.index);
}

function checked(index: number, count: number, source: string): Shard {
  if (!Number.isInteger(count) || count < 1) throw new ExperimentError(`${source}: the number of shards must be a positive integer, got ${count}`);
  if (!Number.isInteger(index) || index < 0 || index >= count) {
    throw new ExperimentError(`${source}: shard ${index} is outside 0..${count - 1} (K counts from 0, so the last of ${count} shards is ${count - 1}/${count})`);
  }
  return { index, count, source };
}

function integer(text: string, name: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isInteger(value)) throw new ExperimentError(`${name}='${text}' is not an integer`);
  return value;
}
