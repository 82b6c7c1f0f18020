import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeMobileNetAtSide, writeSyntheticArchive, type Report } from '@cnn/experiment';
import { markdownTable, writeSection } from '../results.js';

/*
 * The cost of the experiment as the data grows. For each size, on a generated archive (64 x 64
 * gray gratings, 8 images a study, 3 classes): `cnn features` extracts every feature into a
 * fresh cache (streamed: memory must not grow with the images), then `cnn experiment` runs on
 * the same data and cache (computing no features: head training, evaluation, t-SNE, report).
 * Each is a fresh process under /usr/bin/time -v (wall time, peak resident size).
 *
 * Settings (environment): CNN_SCALE_SIZES (default 1000,10000,50000), CNN_SCALE_SIDE (the
 * MobileNet's input side, default 64), CNN_SCALE_DIR (where archives are kept between runs,
 * default <tmp>/cnn-bench-scale: generating 50,000 images takes minutes).
 */

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

interface Timed {
  wallSeconds: number;
  /** User + system CPU time of the process (all its threads): less sensitive than wall time to a shared machine's load. */
  cpuSeconds: number;
  peakMiB: number;
}

interface Row {
  images: number;
  /** The machine's 1-minute load average when the size started and when it ended: other work shares the cores. */
  load: [number, number];
  studies: number;
  features: Timed;
  experiment: Timed;
  report: Report;
  htmlBytes: number;
  cache: { entries: number; files: number; bytes: number; diskBytes: number };
}

/**
 * The MobileNet v1 0.5 / 160 fixture of ../shared: the suite's measurements were made with it, and the
 * repository now ships 0.75 / 192 (three times the multiply-adds) as the experiment's base.
 */
function baseModel(): { prototxt: string; weights: string } {
  const dir = path.resolve(repoRoot, '../shared/fixtures/imagenet/mobilenet_v1_0.5_160');
  const weights = path.join(dir, 'mobilenet_v1_0.5_160.caffemodel');
  if (!existsSync(weights)) throw new Error(`no MobileNet v1 0.5 160 at ${weights}: the scale suite needs ../shared`);
  return { prototxt: path.join(dir, 'deploy.prototxt'), weights };
}

/** `cnn <args>` from the sources, under /usr/bin/time -v; progress goes straight to this terminal. */
function timedCnn(args: string[], work: string): Timed {
  const timeFile = path.join(work, 'time.txt');
  const result = spawnSync('/usr/bin/time', ['-v', '-o', timeFile, process.execPath, '--conditions=source', '--import', 'tsx', 'packages/experiment/src/cli.ts', ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (result.status !== 0) throw new Error(`cnn ${args[0]} failed with exit code ${result.status}`);
  const time = readFileSync(timeFile, 'utf8');
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(time)?.[1];
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/.exec(time);
  const user = /User time \(seconds\): ([\d.]+)/.exec(time)?.[1];
  const system = /System time \(seconds\): ([\d.]+)/.exec(time)?.[1];
  if (!rss || !wall || !user || !system) throw new Error(`no time or memory in ${timeFile}:\n${time}`);
  return { wallSeconds: Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]), cpuSeconds: Number(user) + Number(system), peakMiB: Number(rss) / 1024 };
}

/** Entries, files, bytes and disk blocks of the cache's one model folder. */
function cacheUsage(cacheDir: string): Row['cache'] {
  const [key] = readdirSync(cacheDir);
  const folder = path.join(cacheDir, key!);
  const names = readdirSync(folder);
  let bytes = 0;
  let diskBytes = 0;
  for (const name of names) {
    const stat = statSync(path.join(folder, name));
    bytes += stat.size;
    diskBytes += stat.blocks * 512;
  }
  return { entries: names.filter((name) => name.endsWith('.feat')).length, files: names.length, bytes, diskBytes };
}

/** Least squares y = a + b x. */
function fitLine(xs: number[], ys: number[]): { a: number; b: number } {
  const n = xs.length;
  const mx = xs.reduce((s, x) => s + x, 0) / n;
  const my = ys.reduce((s, y) => s + y, 0) / n;
  const sxy = xs.reduce((s, x, i) => s + (x - mx) * (ys[i]! - my), 0);
  const sxx = xs.reduce((s, x) => s + (x - mx) ** 2, 0);
  const b = sxx === 0 ? 0 : sxy / sxx;
  return { a: my - b * mx, b };
}

/** The archive of `images` images under `root`, generated once and reused by later runs (marked complete when whole). */
export function scaleArchive(root: string, images: number): { dir: string; studies: number } {
  const dir = path.join(root, `data-${images}`);
  const done = path.join(dir, '.complete');
  if (existsSync(done)) return JSON.parse(readFileSync(done, 'utf8')) as { dir: string; studies: number };
  rmSync(dir, { recursive: true, force: true });
  console.log(`  generating ${images} images in ${dir}...`);
  const started = performance.now();
  const made = writeSyntheticArchive(dir, { images, imagesPerStudy: 8, classes: 3, size: 64, seed: 1 });
  console.log(`  generated in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  writeFileSync(done, JSON.stringify(made));
  return made;
}

function tableOf(rows: Row[], side: number): string {
  const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  const table = markdownTable(
    ['images', 'studies', 'load', 'features: wall', 'per image', 'CPU per image', 'peak RSS', 'experiment (cache full): wall', 'CPU', 'peak RSS', 'features computed', 'head training', 't-SNE (points)', 'report.html', 'cache entries', 'files per entry', 'cache on disk', 'per entry'],
    rows.map((row) => [
      row.images.toLocaleString('en-US'),
      row.studies.toLocaleString('en-US'),
      `${row.load[0].toFixed(1)}, ${row.load[1].toFixed(1)}`,
      `${row.features.wallSeconds.toFixed(1)} s`,
      `${((row.features.wallSeconds / row.images) * 1000).toFixed(1)} ms`,
      `${((row.features.cpuSeconds / row.images) * 1000).toFixed(1)} ms`,
      `${row.features.peakMiB.toFixed(0)} MiB`,
      `${row.experiment.wallSeconds.toFixed(1)} s`,
      `${row.experiment.cpuSeconds.toFixed(1)} s`,
      `${row.experiment.peakMiB.toFixed(0)} MiB`,
      String(row.report.timing.features_computed),
      `${row.report.timing.train_seconds!.toFixed(1)} s`,
      `${row.report.timing.tsne_seconds!.toFixed(1)} s (${row.report.timing.tsne_points})`,
      mib(row.htmlBytes),
      row.cache.entries.toLocaleString('en-US'),
      ((row.cache.files - 1) / row.cache.entries).toFixed(2),
      mib(row.cache.diskBytes),
      `${(row.cache.bytes / row.cache.entries / 1024).toFixed(1)} KiB (${(row.cache.diskBytes / row.cache.entries / 1024).toFixed(1)} KiB on disk)`,
    ]),
  );
  const lines = [
    `Generated archives of 64 x 64 gray PNGs (writeSyntheticArchive: a grating per class, 8 images a study, 3 classes); base MobileNet v1 0.5 (ImageNet weights) at ${side} x ${side} (writeMobileNetAtSide), cut at pool6 (512 features). ` +
      '`cnn features` (one process, the whole set, fresh cache) then `cnn experiment` on the same data and cache (default head training: 300 iterations of batch 256), each a fresh process under /usr/bin/time -v. ' +
      "Files per entry: files in the model's cache folder, less its one rate.json, per entry. Load: the machine's 1-minute load average when the size started and ended (2 cores, shared with other work: wall times stretch with it, CPU times much less).",
    '',
    table,
  ];
  if (rows.length >= 2) {
    const xs = rows.map((row) => row.images);
    const features = fitLine(xs, rows.map((row) => row.features.wallSeconds));
    const experiment = fitLine(xs, rows.map((row) => row.experiment.wallSeconds));
    const memory = rows.map((row) => row.features.peakMiB);
    const experimentMemory = fitLine(xs, rows.map((row) => row.experiment.peakMiB));
    const featuresCpu = fitLine(xs, rows.map((row) => row.features.cpuSeconds));
    const experimentCpu = fitLine(xs, rows.map((row) => row.experiment.cpuSeconds));
    lines.push(
      '',
      `Fitted (least squares over the ${rows.length} sizes): \`cnn features\` ${(features.b * 1000).toFixed(2)} ms per image + ${features.a.toFixed(1)} s; ` +
        `\`cnn experiment\` on a full cache ${(experiment.b * 1000).toFixed(2)} ms per image + ${experiment.a.toFixed(1)} s. ` +
        `CPU time (user + system): features ${(featuresCpu.b * 1000).toFixed(2)} ms per image + ${featuresCpu.a.toFixed(1)} s, experiment ${(experimentCpu.b * 1000).toFixed(2)} ms per image + ${experimentCpu.a.toFixed(1)} s. ` +
        `Extraction peak RSS from ${Math.min(...memory).toFixed(0)} to ${Math.max(...memory).toFixed(0)} MiB over ${Math.min(...xs).toLocaleString('en-US')}-${Math.max(...xs).toLocaleString('en-US')} images; ` +
        `the experiment's grows by ${(experimentMemory.b * 1024).toFixed(1)} KiB per image.`,
    );
  }
  return lines.join('\n');
}

/** The `scale` suite (not run in CI): see the comment at the top of this file. */
export async function scaleSuite(): Promise<void> {
  const sizes = (process.env.CNN_SCALE_SIZES ?? '1000,10000,50000').split(',').map(Number);
  const side = Number(process.env.CNN_SCALE_SIDE ?? 64);
  const root = process.env.CNN_SCALE_DIR ?? path.join(tmpdir(), 'cnn-bench-scale');
  if (!existsSync('/usr/bin/time')) throw new Error('the scale suite measures peak memory with /usr/bin/time -v (apt-get install time)');
  mkdirSync(root, { recursive: true });
  const base = baseModel();
  const prototxt = writeMobileNetAtSide(base.prototxt, side, path.join(root, `mobilenet_v1_0.5_${side}.prototxt`));
  const rows: Row[] = [];
  for (const images of sizes) {
    const { dir, studies } = scaleArchive(root, images);
    const work = path.join(root, `run-${images}`);
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    const cache = path.join(work, 'cache');
    const model = ['--data', dir, '--prototxt', prototxt, '--weights', base.weights, '--preset', 'mobilenet', '--cache-dir', cache];
    const loadBefore = loadavg()[0]!;
    console.log(`  ${images} images: cnn features`);
    const features = timedCnn(['features', ...model], work);
    console.log(`  ${images} images: cnn experiment`);
    const out = path.join(work, 'out');
    const experiment = timedCnn(['experiment', ...model, '--out', out], work);
    const report = JSON.parse(readFileSync(path.join(out, 'report.json'), 'utf8')) as Report;
    rows.push({ images, load: [loadBefore, loadavg()[0]!], studies, features, experiment, report, htmlBytes: statSync(path.join(out, 'report.html')).size, cache: cacheUsage(cache) });
    // Each size's row is written as soon as it is measured: a long run stopped early keeps what it measured.
    const body = tableOf(rows, side);
    console.log(`\n${body}\n`);
    writeSection('scale', 'Scale: the experiment on 1,000 to 50,000 generated images', body);
    rmSync(cache, { recursive: true, force: true });
  }
}
