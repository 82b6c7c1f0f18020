import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { markdownTable, writeSection } from '../results.js';
import type { ChildRequest, LayerTime } from './protocol.js';
import { checkout, type Side } from './worktree.js';

/*
 * `npm run bench:ab -- <A> <B> [options]`: an interleaved A/B comparison of every layer's
 * forward and backward between two commits (or `.`, this working tree). Each round runs one
 * child process per side, A then B or B then A in turn, so slow phases of a shared machine
 * fall on both; per layer it reports each side's median over the rounds, their range, and
 * the ratio B / A, flagged where the two ranges do not overlap. See bench/README.md.
 */

const usage = `usage: npm run bench:ab -- <A> <B> [--nets caffenet,mobilenet_v1_0.5_160] [--backend wasm|js]
  [--threads 1] [--batches 1,16] [--rounds 5] [--layers REGEX] [--blocks 3] [--block-ms 40] [--section NAME] [--no-write]`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    nets: { type: 'string', default: 'caffenet,mobilenet_v1_0.5_160' },
    backend: { type: 'string', default: 'wasm' },
    threads: { type: 'string', default: '1' },
    batches: { type: 'string', default: '1,16' },
    rounds: { type: 'string', default: '5' },
    layers: { type: 'string' },
    blocks: { type: 'string', default: '3' },
    'block-ms': { type: 'string', default: '40' },
    section: { type: 'string' },
    'no-write': { type: 'boolean', default: false },
  },
});
if (positionals.length !== 2) throw new Error(`expected two commits, got ${positionals.length}\n${usage}`);
if (values.backend !== 'wasm' && values.backend !== 'js') throw new Error(`--backend takes wasm or js, not '${values.backend}'`);
const positive = (option: string, text: string): number => {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${option} takes a positive integer, not '${text}'`);
  return value;
};
const threads = positive('threads', values.threads);
const rounds = positive('rounds', values.rounds);
const batches = values.batches.split(',').map((text) => positive('batches', text));
const nets = values.nets.split(',');

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../../..');
const fixtures = path.resolve(repo, '../shared/fixtures/imagenet');
const childScript = path.join(here, `child${path.extname(fileURLToPath(import.meta.url))}`);

const sides: Side[] = [];
try {
  for (const name of positionals) sides.push(checkout(repo, name));
  const [a, b] = sides as [Side, Side];
  const sections: string[] = [];
  for (const net of nets) {
    const runs: [LayerTime[][], LayerTime[][]] = [[], []];
    for (let round = 0; round < rounds; round++) {
      // A first in even rounds, B first in odd ones: a slow phase of the machine falls on both.
      for (const index of round % 2 === 0 ? [0, 1] : [1, 0]) {
        const side = sides[index]!;
        console.log(`round ${round + 1}/${rounds}, ${net}, ${side.name} (${side.commit})`);
        runs[index as 0 | 1].push(runSide(side, net));
      }
    }
    sections.push(`### ${net}, batch ${batches.join(' and ')}\n\n${compare(runs[0], runs[1])}`);
  }
  const clock = threads === 1 ? 'CPU time per call (process.cpuUsage, user + system), 1 thread' : `wall time per call, ${threads} threads`;
  const title = `A/B: ${a.name} (${a.commit}) against ${b.name} (${b.commit}), ${values.backend} backend`;
  const body = `${clock}. Command: \`npm run bench:ab -- ${process.argv.slice(2).join(' ')}\`. ${rounds} rounds; in each, one child process per side, the order alternating (bench/src/ab). Each cell: the median over the rounds of a round's median block (blocks of at least ${values['block-ms']} ms), and in brackets the range over the rounds. B / A is the ratio of the medians; **slower** or **faster** where the two ranges do not overlap, else within noise. The noise line gives, per side, the median over layers of (max - min) / median over the rounds.\n\n${sections.join('\n\n')}`;
  console.log(`\n## ${title}\n\n${body}\n`);
  if (!values['no-write']) writeSection(values.section ?? `ab-${a.commit}-${b.commit}`, title, body);
} finally {
  for (const side of sides) side.remove();
}

/** One child process timing `net`'s layers on `side`. */
function runSide(side: Side, net: string): LayerTime[] {
  const request: ChildRequest = {
    root: side.root,
    net,
    fixtures,
    backend: values.backend as 'js' | 'wasm',
    threads,
    batches,
    layers: values.layers,
    blocks: positive('blocks', values.blocks),
    blockSeconds: positive('block-ms', values['block-ms']) / 1000,
  };
  // From the side's folder, with tsx and the `source` condition: its packages run from their TypeScript, as `npm run bench` does.
  const output = execFileSync(process.execPath, ['--conditions=source', '--import', 'tsx', childScript, JSON.stringify(request)], {
    cwd: side.root,
    encoding: 'utf8',
    maxBuffer: 1 << 24,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return JSON.parse(output.trim().split('\n').at(-1)!) as LayerTime[];
}

/** The table of one net: each layer, direction and batch present on both sides. */
function compare(runsA: LayerTime[][], runsB: LayerTime[][]): string {
  const key = (time: LayerTime): string => `${time.batch} ${time.layer} ${time.direction}`;
  const collect = (runs: LayerTime[][]): Map<string, number[]> => {
    const byKey = new Map<string, number[]>();
    for (const time of runs.flat()) byKey.set(key(time), [...(byKey.get(key(time)) ?? []), time.seconds]);
    return byKey;
  };
  const [timesA, timesB] = [collect(runsA), collect(runsB)];
  const rows: string[][] = [];
  const spreads: [number[], number[]] = [[], []];
  const onlyOne: string[] = [];
  for (const time of runsA[0]!) {
    const [a, b] = [timesA.get(key(time))!, timesB.get(key(time))];
    if (!b) {
      onlyOne.push(key(time));
      continue;
    }
    const [sa, sb] = [summary(a), summary(b)];
    spreads[0].push((sa.max - sa.min) / sa.median);
    spreads[1].push((sb.max - sb.min) / sb.median);
    const verdict = sb.min > sa.max ? '**slower**' : sb.max < sa.min ? '**faster**' : 'within noise';
    rows.push([String(time.batch), time.layer, time.type, time.direction, cell(sa), cell(sb), `${(sb.median / sa.median).toFixed(2)}`, verdict]);
  }
  for (const name of timesB.keys()) if (!timesA.has(name)) onlyOne.push(name);
  const table = markdownTable(['batch', 'layer', 'type', 'direction', 'A (ms)', 'B (ms)', 'B / A', ''], rows);
  const noise = `Noise: A ${percent(summary(spreads[0]).median)}, B ${percent(summary(spreads[1]).median)}.`;
  return `${table}\n\n${noise}${onlyOne.length > 0 ? ` On one side only (not compared): ${onlyOne.join(', ')}.` : ''}`;
}

function summary(values: number[]): { median: number; min: number; max: number } {
  const sorted = [...values].sort((x, y) => x - y);
  const middle = sorted.length / 2;
  const median = sorted.length % 2 === 1 ? sorted[Math.floor(middle)]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  return { median, min: sorted[0]!, max: sorted.at(-1)! };
}

function cell({ median, min, max }: { median: number; min: number; max: number }): string {
  const ms = (seconds: number): string => (seconds * 1000).toPrecision(3);
  return `${ms(median)} (${ms(min)}-${ms(max)})`;
}

function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(0)}%`;
}
