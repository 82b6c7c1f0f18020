import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadDataset } from '@cnn/experiment/data';
import { shardItems, writeMobileNetAtSide, writeSyntheticArchive } from '@cnn/experiment';
import { REPO_ROOT } from '../helpers/shared.js';
import { mobilenet, scratchFolders } from './paths.js';

const scratch = scratchFolders();
afterAll(() => scratch.removeAll());

/**
 * docs/SCALE.md's Slurm script and Kubernetes Job, run as written (the script by bash with the
 * variables Slurm sets for each array task; the Job's container arguments by the image's entry
 * point with the variables Kubernetes sets for each index), with the archive and cache paths
 * pointed at a generated archive. The compiled `cnn` runs, as on a cluster (npm ci builds it).
 * Model flags for the cheap 64 x 64 MobileNet are appended (the script passes its arguments on).
 */

const doc = readFileSync(join(REPO_ROOT, 'docs/SCALE.md'), 'utf8');

function block(language: string): string {
  const match = new RegExp('```' + language + '\\n([\\s\\S]*?)```').exec(doc);
  if (!match) throw new Error(`docs/SCALE.md has no ${language} block`);
  return match[1]!;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: REPO_ROOT, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A generated archive with a manifest.csv (path,label,study), a 64 x 64 MobileNet, and the cache entries' count. */
async function setUp(): Promise<{ work: string; archive: string; manifest: string; modelFlags: string[]; images: number }> {
  const work = scratch.make('cnn-scale-docs-');
  const archive = join(work, 'archive');
  writeSyntheticArchive(archive, { images: 16, imagesPerStudy: 2, seed: 9 });
  const dataset = await loadDataset(archive);
  const manifest = join(archive, 'manifest.csv');
  writeFileSync(manifest, ['path,label,study', ...dataset.items.map((item) => `${relative(archive, item.path)},${dataset.classes[item.label]},${item.study}`)].join('\n') + '\n');
  const fixture = mobilenet();
  const prototxt = writeMobileNetAtSide(fixture.prototxt, 64, join(work, 'mobilenet_64.prototxt'));
  return { work, archive, manifest, modelFlags: ['--prototxt', prototxt, '--weights', fixture.weights, '--preset', 'mobilenet'], images: dataset.items.length };
}

function entries(cache: string): number {
  const [key] = readdirSync(cache);
  return readdirSync(join(cache, key!)).filter((name) => name.endsWith('.feat')).length;
}

const computed = (stdout: string): number => Number(/features: (\d+) computed/.exec(stdout)?.[1] ?? Number.NaN);

describe('docs/SCALE.md', () => {
  it("the Slurm array script: each task extracts its shard from SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT, together they fill the cache", async () => {
    const { work, manifest, modelFlags, images } = await setUp();
    const script = join(work, 'cnn-features.sbatch');
    writeFileSync(script, block('bash'));
    const cache = join(work, 'cache');
    const array = block('bash').match(/#SBATCH --array=0-(\d+)/);
    expect(array, 'the script declares --array=0-(N-1)').not.toBeNull();
    // Two of the script's tasks as a two-task array (1-based, as --array=1-2 would make them).
    const tasks = await Promise.all(
      [1, 2].map((id) =>
        run('bash', [script, ...modelFlags, '--quiet'], {
          SLURM_ARRAY_TASK_ID: String(id), SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_STEP: '1', SLURM_ARRAY_TASK_COUNT: '2',
          SLURM_CPUS_PER_TASK: '1', CNN_HOME: REPO_ROOT, DATA: manifest, CACHE: cache,
        }),
      ),
    );
    tasks.forEach((task, k) => {
      expect(task.code, task.stderr).toBe(0);
      expect(task.stdout).toContain(`shard ${k}/2 (SLURM_ARRAY_TASK_ID=${k + 1}`);
    });
    expect(tasks.map((task) => computed(task.stdout)).reduce((a, b) => a + b)).toBe(images);
    expect(entries(cache)).toBe(images);
  }, 120_000);

  it('the Kubernetes Indexed Job: a pod of each index, with --shards = completions, run by the image entry point, extracts its shard', async () => {
    const { work, archive, modelFlags } = await setUp();
    const job = block('yaml');
    expect(job).toMatch(/completionMode: Indexed/);
    const completions = Number(/completions: (\d+)/.exec(job)?.[1]);
    const args = JSON.parse(/args: (\[.*\])/.exec(job)![1]!) as string[];
    expect(args[args.indexOf('--shards') + 1]).toBe(String(completions));
    const mounted = args.map((arg) => arg.replace(/^\/archive/, archive).replace(/^\/cache/, join(work, 'cache')));
    // The image's ENTRYPOINT, as the Dockerfile gives it, from this checkout instead of /opt/cnn.
    const entrypoint = JSON.parse(/ENTRYPOINT (\[.*\])/.exec(block('dockerfile'))![1]!) as string[];
    const [node, cli] = [entrypoint[0]!, entrypoint[1]!.replace('/opt/cnn', REPO_ROOT)];
    expect(node).toBe('node');
    // Three of the pods (the first, one between, the last): each extracts exactly its shard.
    const dataset = await loadDataset(archive);
    const indices = [0, Math.floor(completions / 2), completions - 1];
    const pods = await Promise.all(
      indices.map((index) => run(process.execPath, [cli, ...mounted, ...modelFlags, '--quiet'], { JOB_COMPLETION_INDEX: String(index), CNN_THREADS: '1' })),
    );
    pods.forEach((pod, k) => {
      expect(pod.code, pod.stderr).toBe(0);
      expect(pod.stdout).toContain(`shard ${indices[k]}/${completions} (JOB_COMPLETION_INDEX=${indices[k]}`);
      expect(computed(pod.stdout)).toBe(shardItems(dataset.items, { index: indices[k]!, count: completions, source: 'test' }).length);
    });
    const extracted = pods.map((pod) => computed(pod.stdout)).reduce((a, b) => a + b);
    expect(extracted).toBeGreaterThan(0);
    expect(entries(mounted[mounted.indexOf('--cache-dir') + 1]!)).toBe(extracted);
  }, 180_000);
});
