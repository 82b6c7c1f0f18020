import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeRandomCaffeNet } from '../caffenet-file.js';
import { markdownTable, writeSection } from '../results.js';

/** The targets for loading the full-size V1 CaffeNet into a ready net. */
const TARGET_MS = 2000;
const TARGET_RSS_RATIO = 1.6;
const RUNS = 3;

/** The repository root, from bench/src/suites or bench/dist/suites alike. */
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

interface ChildReport {
  loadMs: number;
  layers: number;
  parameters: number;
  rssBeforeKiB: number;
  maxRssKiB: number;
}

interface Measured extends ChildReport {
  /** Peak resident size as /usr/bin/time -v reports it, when it is there. */
  timeMaxRssKiB?: number;
  wallSeconds?: number;
}

/** How to start load-once in a child: from the sources through tsx, or the compiled file. */
function childCommand(): { script: string; nodeArgs: string[] } {
  const fromSource = import.meta.url.endsWith('.ts');
  const script = fileURLToPath(new URL(`../load-once.${fromSource ? 'ts' : 'js'}`, import.meta.url));
  return { script, nodeArgs: fromSource ? ['--conditions=source', '--import', 'tsx'] : [] };
}

function parseTime(stderr: string): { maxRssKiB?: number; wallSeconds?: number } {
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr)?.[1];
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/.exec(stderr);
  return {
    maxRssKiB: rss === undefined ? undefined : Number(rss),
    wallSeconds: wall ? Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]) : undefined,
  };
}

/** One fresh process that loads the model once, under /usr/bin/time -v when available. */
function measureOnce(prototxt: string, model: string, useTime: boolean): Measured {
  const { script, nodeArgs } = childCommand();
  const args = [...nodeArgs, script, prototxt, model];
  const result = useTime
    ? spawnSync('/usr/bin/time', ['-v', process.execPath, ...args], { cwd: repoRoot, encoding: 'utf8', maxBuffer: 1 << 20 })
    : spawnSync(process.execPath, args, { cwd: repoRoot, encoding: 'utf8', maxBuffer: 1 << 20 });
  if (result.status !== 0) throw new Error(`load-once failed (exit ${result.status}): ${result.stderr.trim().split('\n').slice(-5).join(' | ')}`);
  const report = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as ChildReport;
  if (!useTime) return report;
  const time = parseTime(result.stderr);
  return { ...report, timeMaxRssKiB: time.maxRssKiB, wallSeconds: time.wallSeconds };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/**
 * Loading the full-size CaffeNet: a 244 MB caffemodel with random weights in the legacy V1
 * layout of the real 2014 file is written to a temporary folder, then loaded into a ready net
 * by fresh child processes, each timed in-process (load-to-ready-net) and measured by
 * /usr/bin/time -v (peak resident size of the whole process). Targets: under 2 s and a peak
 * under 1.6 x the file size.
 */
export async function loadSuite(): Promise<void> {
  const work = mkdtempSync(path.join(tmpdir(), 'cnn-bench-load-'));
  try {
    const model = path.join(work, 'caffenet_random_v1.caffemodel');
    const prototxt = path.join(work, 'deploy.prototxt');
    console.log('  writing a 244 MB V1 CaffeNet with random weights...');
    const generated = writeRandomCaffeNet(model, { format: 'V1' });
    writeFileSync(prototxt, generated.prototxt);
    const fileBytes = generated.bytes;
    const useTime = existsSync('/usr/bin/time');
    const runs: Measured[] = [];
    for (let i = 0; i < RUNS; i++) {
      const run = measureOnce(prototxt, model, useTime);
      const peakKiB = run.timeMaxRssKiB ?? run.maxRssKiB;
      console.log(`  run ${i + 1}: load ${run.loadMs.toFixed(0)} ms, peak RSS ${(peakKiB / 1024).toFixed(0)} MiB (before loading ${(run.rssBeforeKiB / 1024).toFixed(0)} MiB)`);
      runs.push(run);
    }
    const loadMs = median(runs.map((run) => run.loadMs));
    const peakKiB = Math.max(...runs.map((run) => run.timeMaxRssKiB ?? run.maxRssKiB));
    const ratio = (peakKiB * 1024) / fileBytes;
    const source = useTime ? '/usr/bin/time -v (Maximum resident set size)' : 'process.resourceUsage().maxRSS in the child (/usr/bin/time is missing)';
    const rows = runs.map((run, i) => [
      String(i + 1),
      `${run.loadMs.toFixed(0)} ms`,
      run.wallSeconds === undefined ? '-' : `${run.wallSeconds.toFixed(2)} s`,
      `${((run.timeMaxRssKiB ?? run.maxRssKiB) / 1024).toFixed(0)} MiB`,
      `${(run.rssBeforeKiB / 1024).toFixed(0)} MiB`,
    ]);
    const verdict = (ok: boolean): string => (ok ? 'met' : '**missed**');
    const body = [
      `File: ${(fileBytes / 1e6).toFixed(1)} MB (${fileBytes.toLocaleString('en-US')} bytes), ${generated.parameters.toLocaleString('en-US')} parameters, legacy V1 layout, written by writeCaffemodel. Each run is a fresh \`node\` process (from the TypeScript sources through tsx when the bench runs from them) that calls loadModel once; peak memory from ${source}.`,
      '',
      markdownTable(['run', 'load to ready net', 'process wall time', 'peak RSS', 'RSS before loading'], rows),
      '',
      `Median load: ${loadMs.toFixed(0)} ms (target < ${TARGET_MS} ms: ${verdict(loadMs < TARGET_MS)}). ` +
        `Peak RSS: ${(peakKiB / 1024).toFixed(0)} MiB = ${ratio.toFixed(2)} x the file (target < ${TARGET_RSS_RATIO} x: ${verdict(ratio < TARGET_RSS_RATIO)}).`,
    ].join('\n');
    console.log(`\n${body}\n`);
    writeSection('load', 'Loading a full-size CaffeNet caffemodel (244 MB, legacy V1)', body);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
