import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadDataset, mobilenetRecipe } from '@cnn/experiment/data';
import { readEntry, featureKey } from '@cnn/experiment/transfer';
import { resolveConfig, runExperiment, runFeatures, shardItems, SHIPPED_BASE, writeMobileNetAtSide, writeSyntheticArchive, type Report } from '@cnn/experiment';
import { REPO_ROOT } from '../helpers/shared.js';
import { mobilenet, scratchFolders } from './paths.js';

const scratch = scratchFolders();
afterAll(() => scratch.removeAll());

/**
 * The sharded path as a cluster runs it: `cnn features` shards as separate processes at
 * the same time into one cache folder, then `cnn experiment` on the same data. The base is
 * the fixture MobileNet v1 0.5 at 64 x 64 (global pooling instead of its 5 x 5 pool), six
 * times cheaper than at 160, with the same weights and layers.
 */

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** `cnn ...` as a child process from the repository root; `started` gets the process to kill it. */
function cnn(args: string[], env: NodeJS.ProcessEnv = {}, started?: (child: ReturnType<typeof spawn>) => void): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', 'packages/experiment/src/cli.ts', ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, CNN_THREADS: '1', ...env },
    });
    const run: Run = { code: null, signal: null, stdout: '', stderr: '' };
    child.stdout.on('data', (chunk: Buffer) => (run.stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (run.stderr += chunk.toString()));
    child.on('close', (code, signal) => resolve({ ...run, code, signal }));
    started?.(child);
  });
}

/** The fixture MobileNet at side x side (writeMobileNetAtSide), with the fixture weights. */
function smallMobileNet(dir: string, side: number): { prototxt: string; weights: string } {
  const fixture = mobilenet();
  return { prototxt: writeMobileNetAtSide(fixture.prototxt, side, join(dir, `mobilenet_${side}.prototxt`)), weights: fixture.weights };
}

/** The cache folder of the plain features of `smallMobileNet(dir, side)` (the mirror images have a folder of their own). */
function plainKey(model: { prototxt: string; weights: string }, side: number): string {
  return featureKey(model, mobilenetRecipe(side), 'pool6');
}

/** The `features: N computed` number of a `cnn features` run. */
function computed(run: Run): number {
  const match = /features: (\d+) computed/.exec(run.stdout);
  if (!match) throw new Error(`no features line in:\n${run.stdout}\n${run.stderr}`);
  return Number(match[1]);
}

/** Cache entries of the model folder `key` (hidden temporary files of killed writers are not entries). */
function entries(cacheDir: string, key: string): string[] {
  return readdirSync(join(cacheDir, key)).filter((name) => name.endsWith('.feat') && !name.startsWith('.'));
}

/** What a report says about the data and the results: everything but times, dates and paths. */
function results(report: Report): unknown {
  const { test, training, dataset, classes } = report;
  return { test, training, counts: dataset.counts, split: dataset.split, classes };
}

describe('cnn features: shards into one cache', () => {
  it('three shards at the same time fill the cache; cnn experiment then computes 0 features and reports what a single-process run reports', async () => {
    const work = scratch.make('cnn-shards-');
    const { dir: data, studies } = writeSyntheticArchive(join(work, 'data'), { images: 60, imagesPerStudy: 4, seed: 3 });
    const model = smallMobileNet(work, 64);
    const shared = join(work, 'shared-cache');
    const flags = ['--data', data, '--prototxt', model.prototxt, '--weights', model.weights, '--preset', 'mobilenet', '--cache-dir', shared, '--quiet'];

    // The three shards partition the studies: every image in exactly one, none empty.
    const dataset = await loadDataset(data);
    const parts = [0, 1, 2].map((k) => shardItems(dataset.items, { index: k, count: 3, source: 'test' }));
    expect(parts.map((part) => part.length).reduce((a, b) => a + b)).toBe(60);
    expect(new Set(parts.flat().map((item) => item.path)).size).toBe(60);
    expect(parts.every((part) => part.length > 0)).toBe(true);
    const studyShards = new Map<string, Set<number>>();
    parts.forEach((part, k) => part.forEach((item) => studyShards.set(item.study, (studyShards.get(item.study) ?? new Set()).add(k))));
    expect(studyShards.size).toBe(studies);
    expect([...studyShards.values()].every((set) => set.size === 1)).toBe(true);

    // Shard 0 by --shard, shard 1 as a Slurm array task (1-based array), shard 2 as a Kubernetes Indexed Job pod.
    const runs = await Promise.all([
      cnn(['features', ...flags, '--shard', '0/3']),
      cnn(['features', ...flags], { SLURM_ARRAY_TASK_ID: '2', SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_STEP: '1', SLURM_ARRAY_TASK_COUNT: '3' }),
      cnn(['features', ...flags, '--shards', '3'], { JOB_COMPLETION_INDEX: '2' }),
    ]);
    runs.forEach((run, k) => {
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toContain(`shard ${k}/3`);
      expect(computed(run)).toBe(parts[k]!.length);
    });
    const key = plainKey(model, 64);
    expect(entries(shared, key)).toHaveLength(60);

    const settings = { data, ...model, preset: 'mobilenet' as const, maxIter: 30, validationInterval: 10, quiet: true, seed: 2 };
    const quiet = (): void => undefined;
    const fromShards = await runExperiment(resolveConfig({ ...settings, out: join(work, 'out-shards'), cacheDir: shared }), quiet);
    const single = await runExperiment(resolveConfig({ ...settings, out: join(work, 'out-single'), cacheDir: join(work, 'own-cache') }), quiet);
    expect(fromShards.report.timing.features_computed).toBe(0);
    expect(fromShards.report.timing.features_from_cache).toBe(60);
    expect(single.report.timing.features_computed).toBe(60);
    expect(results(fromShards.report)).toEqual(results(single.report));
    // The cached features are byte for byte the single run's (one process, two threads, batches of 16).
    const own = join(work, 'own-cache');
    for (const name of entries(own, key)) {
      expect(readFileSync(join(shared, key, name)).equals(readFileSync(join(own, key, name))), name).toBe(true);
    }
  }, 180_000);

  it('a shard killed midway leaves only whole entries; its rerun computes exactly the rest and clears old temporaries', async () => {
    const work = scratch.make('cnn-shard-kill-');
    const { dir: data } = writeSyntheticArchive(join(work, 'data'), { images: 96, imagesPerStudy: 6, seed: 5 });
    const model = smallMobileNet(work, 96);
    const cache = join(work, 'cache');
    const args = ['features', '--data', data, '--prototxt', model.prototxt, '--weights', model.weights, '--preset', 'mobilenet', '--cache-dir', cache, '--shard', '1/2', '--quiet'];
    const dataset = await loadDataset(data);
    const mine = shardItems(dataset.items, { index: 1, count: 2, source: 'test' }).length;
    const key = plainKey(model, 96);

    let killedAt = 0;
    const killed = await cnn(args, {}, (child) => {
      const poll = setInterval(() => {
        let done = 0;
        try {
          done = entries(cache, key).length;
        } catch {
          return; // the model folder is not there yet
        }
        if (done >= 16) {
          clearInterval(poll);
          killedAt = done;
          child.kill('SIGKILL');
        }
      }, 20);
      child.on('close', () => clearInterval(poll));
    });
    expect(killed.signal, `the shard finished before it could be killed (${mine} images): ${killed.stdout}`).toBe('SIGKILL');
    const left = entries(cache, key).length;
    expect(left).toBeGreaterThanOrEqual(killedAt);
    expect(left).toBeLessThan(mine);
    // Every entry on disk is whole: 512 features under a matching checksum.
    for (const name of entries(cache, key)) expect(readEntry(join(cache, key, name), 512), name).toBeInstanceOf(Float32Array);

    // What killed writers leave: a temporary of a writer dead for two hours (on another host), and one
    // a writer may still be filling (a minute old). The rerun removes the first and leaves the second.
    const stale = join(cache, key, '.0123-64x64.feat.tmp-pod-a-1-0badf00d');
    const recent = join(cache, key, '.4567-64x64.feat.tmp-pod-b-1-0abcdef0');
    for (const [file, age] of [[stale, 2 * 3600], [recent, 60]] as const) {
      writeFileSync(file, 'partial');
      const then = Date.now() / 1000 - age;
      utimesSync(file, then, then);
    }

    const rerun = await cnn(args);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(computed(rerun)).toBe(mine - left);
    expect(rerun.stdout).toContain(`${left} from the cache`);
    expect(entries(cache, key)).toHaveLength(mine);
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(recent)).toBe(true);
    expect(rerun.stdout).toContain('removed 1 temporary file(s) of writers killed over an hour ago');
    const again = await cnn(args);
    expect(computed(again)).toBe(0);
  }, 180_000);

  it('writers on one entry at once (two processes, two threads each: same host, same process id) leave a valid entry, and readers never see a torn one', async () => {
    const folder = scratch.make('cnn-entry-race-');
    const entry = join(folder, 'entry.feat');
    // 1 MiB entries, so a write takes long enough for a reader or another writer to land in the middle of it.
    const values = 1 << 18;
    const writers = [0, 1].map((w) =>
      new Promise<Run>((resolve) => {
        const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', 'test/experiment/scripts/entry-writers.ts', entry, String(w), String(values), '40'], { cwd: REPO_ROOT });
        const run: Run = { code: null, signal: null, stdout: '', stderr: '' };
        child.stderr.on('data', (chunk: Buffer) => (run.stderr += chunk.toString()));
        child.on('close', (code, signal) => resolve({ ...run, code, signal }));
      }),
    );
    let running = true;
    const all = Promise.all(writers).finally(() => (running = false));
    const seen = new Set<number>();
    while (running) {
      const read = readEntry(entry, values);
      if (read !== undefined) {
        expect(read, 'a reader saw a damaged entry').toBeInstanceOf(Float32Array);
        const first = (read as Float32Array)[0]!;
        expect((read as Float32Array).every((v) => v === first), 'a reader saw two writers\' values mixed').toBe(true);
        seen.add(first);
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    for (const run of await all) expect(run.code, run.stderr).toBe(0);
    const last = readEntry(entry, values);
    expect(last).toBeInstanceOf(Float32Array);
    expect([1, 2, 3, 4]).toContain((last as Float32Array)[0]);
    expect(seen.size, 'the reader saw the entry change hands').toBeGreaterThan(1);
    expect(readdirSync(folder)).toEqual(['entry.feat']);
  }, 120_000);

  it('with no model given, cnn features and cnn experiment both use the shipped base: the experiment computes 0 features', async () => {
    const work = scratch.make('cnn-shard-default-');
    const { dir: data } = writeSyntheticArchive(join(work, 'data'), { images: 15, imagesPerStudy: 1, seed: 4 });
    const cacheDir = join(work, 'cache');
    const summaries = [];
    for (const shard of ['0/2', '1/2']) summaries.push(await runFeatures({ data, cacheDir, shard, quiet: true }));
    expect(summaries.map((summary) => summary.computed).reduce((a, b) => a + b)).toBe(15);
    expect(summaries[0]!.cacheFolder).toBe(join(cacheDir, featureKey(SHIPPED_BASE, mobilenetRecipe(192), 'pool6')));
    const { report } = await runExperiment(resolveConfig({ data, cacheDir, out: join(work, 'out'), maxIter: 5, quiet: true }), () => undefined);
    expect(report.timing.features_computed).toBe(0);
    expect(report.timing.features_from_cache).toBe(15);
  }, 120_000);
});
