import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseShard, shardFromEnvironment, shardItems, shardOfStudy } from './shard.js';

describe('parseShard', () => {
  it('reads K/N with K from 0', () => {
    expect(parseShard('0/3')).toMatchObject({ index: 0, count: 3 });
    expect(parseShard(' 2 / 3 ')).toMatchObject({ index: 2, count: 3 });
  });

  it('refuses K >= N, N = 0 and anything but K/N, saying K counts from 0', () => {
    expect(() => parseShard('3/3')).toThrow(/shard 3 is outside 0\.\.2 \(K counts from 0, so the last of 3 shards is 2\/3\)/);
    expect(() => parseShard('0/0')).toThrow(/must be a positive integer, got 0/);
    expect(() => parseShard('1of3')).toThrow(/--shard '1of3': expected K\/N/);
    expect(() => parseShard('-1/3')).toThrow(/expected K\/N/);
  });
});

describe('shardFromEnvironment', () => {
  it('a Kubernetes Indexed Job: JOB_COMPLETION_INDEX with --shards', () => {
    expect(shardFromEnvironment({ JOB_COMPLETION_INDEX: '4' }, 8)).toMatchObject({ index: 4, count: 8 });
    expect(() => shardFromEnvironment({ JOB_COMPLETION_INDEX: '4' })).toThrow(/give --shards N, N = the Job's completions/);
    expect(() => shardFromEnvironment({ JOB_COMPLETION_INDEX: '8' }, 8)).toThrow(/outside 0\.\.7/);
  });

  it('a Slurm array: (ID - MIN) / STEP of COUNT, for 0-based, 1-based and stepped arrays', () => {
    const slurm = (id: number, min: number, step: number, count: number) =>
      ({ SLURM_ARRAY_TASK_ID: String(id), SLURM_ARRAY_TASK_MIN: String(min), SLURM_ARRAY_TASK_STEP: String(step), SLURM_ARRAY_TASK_COUNT: String(count) });
    expect(shardFromEnvironment(slurm(0, 0, 1, 8))).toMatchObject({ index: 0, count: 8 });
    expect(shardFromEnvironment(slurm(8, 1, 1, 8))).toMatchObject({ index: 7, count: 8 }); // --array=1-8
    expect(shardFromEnvironment(slurm(10, 0, 2, 8))).toMatchObject({ index: 5, count: 8 }); // --array=0-14:2
    expect(shardFromEnvironment(slurm(3, 1, 1, 3), 3)).toMatchObject({ index: 2, count: 3 });
    expect(() => shardFromEnvironment(slurm(3, 1, 1, 3), 4)).toThrow(/--shards 4 disagrees with SLURM_ARRAY_TASK_COUNT=3/);
    expect(() => shardFromEnvironment(slurm(3, 0, 2, 4))).toThrow(/not on the array's grid \(min 0, step 2\)/);
    // --array=1,3,5,7 is a list: Slurm gives min 1 and step 1, and task 7 would be shard 6 of 4.
    expect(() => shardFromEnvironment(slurm(7, 1, 1, 4))).toThrow(/outside 0\.\.3/);
  });

  it('no job array: the whole data set, unless --shards asks for more than one', () => {
    expect(shardFromEnvironment({})).toMatchObject({ index: 0, count: 1 });
    expect(() => shardFromEnvironment({}, 4)).toThrow(/--shards 4 without --shard K\/N or a job array's index/);
  });
});

describe('shardOfStudy and shardItems', () => {
  it("puts a study in shard sha1(name)[0..8] mod N, whatever else is listed", () => {
    // sha1('study-7') from node:crypto, the first 8 hex digits read as a number.
    const hash = parseInt(createHash('sha1').update('study-7').digest('hex').slice(0, 8), 16);
    for (const count of [1, 2, 3, 8]) expect(shardOfStudy('study-7', count)).toBe(hash % count);
  });

  it('keeps the images of a study together and splits a list into disjoint shards covering it', () => {
    const items = Array.from({ length: 200 }, (_, i) => ({ path: `img-${i}`, study: `study-${Math.floor(i / 4)}` }));
    const shards = [0, 1, 2].map((index) => shardItems(items, { index, count: 3, source: 'test' }));
    expect(shards.flat().map((item) => item.path).sort()).toEqual(items.map((item) => item.path).sort());
    for (const [k, shard] of shards.entries()) {
      for (const item of shard) expect(shardOfStudy(item.study, 3)).toBe(k);
    }
    // 50 studies over 3 shards: none empty, none holding most of them.
    expect(shards.every((shard) => shard.length >= 40 && shard.length <= 100)).toBe(true);
  });
});
