import { closeSync, openSync, readSync } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { Rng } from '@cnn/tensor';
import { CSV_COLUMN_ALIASES, DEFAULT_FRACTIONS, detectFormat, loadDataset, parseCsv, parseSplit, scanFolder, splitByStudy, type Problem, type Split, type SplitFractions } from '../data/index.js';
import { datasetOptions } from '../config.js';
import { LabelError } from './errors.js';
import { isInside } from './paths.js';
import type { LabelRecord } from './store.js';

/** One image of a labelling run. */
export interface LabelItem {
  /** Absolute path of the image file. */
  file: string;
  /** The name shown: the path as the data source gives it (relative to the folder, or as in the CSV). */
  name: string;
  /** The image's `path` cell in the output file (see labelKey). */
  key: string;
  /** The grouping unit: images of one study are labelled one after another. */
  study: string;
  /** A label the source already gives (a manifest's label column), shown as a hint outside reader studies. */
  sourceLabel?: string;
  /** Review: the two labels that disagree. */
  review?: { a: LabelRecord; b: LabelRecord };
}

/** An image found in a data source, before it becomes part of a run. */
export interface SourceImage {
  /** Absolute path. */
  file: string;
  /** As the source names it: relative to the folder, or the CSV's path cell. */
  name: string;
  study: string;
  /** The source's label, if it gives one. */
  label?: string;
  /** The source's fixed split, if it gives one. */
  split?: Split;
}

/** What listImages found: the images, the folder they are named against, and what was skipped. */
export interface ImageList {
  /** The folder the data source names its images against: the folder itself, or the CSV's folder. */
  base: string;
  images: SourceImage[];
  problems: string[];
}

/**
 * The images of a data source, for labelling: either every PNG, JPEG or DICOM file below a
 * folder (at any depth, hidden entries skipped, formats told by their first bytes) with the
 * folder holding a file as its study, or the rows of a CSV whose header names a path column
 * (label, study and split columns are optional; see CSV_COLUMN_ALIASES), paths relative to the
 * CSV's folder, study defaulting to the image's folder. Unlike loadDataset, the images need no
 * labels: labelling is how they get them.
 *
 * @throws LabelError for a missing source, a CSV without a path column, or a source without images
 */
export async function listImages(source: string): Promise<ImageList> {
  const resolved = path.resolve(source);
  const info = await stat(resolved).catch(() => undefined);
  if (!info) throw new LabelError(`--data ${source}: not found (give a folder of images or a CSV with a path column)`);
  const list = info.isDirectory() ? await listFolder(resolved) : await listCsv(resolved);
  if (list.images.length === 0) throw new LabelError(`--data ${source}: no PNG, JPEG or DICOM images found${list.problems.length > 0 ? ` (${list.problems[0]})` : ''}`);
  return list;
}

async function listFolder(root: string): Promise<ImageList> {
  const images: SourceImage[] = [];
  const skipped: Problem[] = [];
  const scan = await scanFolder(root, {}, skipped);
  for (const file of await scan.walk(root)) {
    if (detectFormat(readHead(file)) === undefined) continue;
    const name = toPosix(path.relative(root, file));
    const dir = path.posix.dirname(name);
    images.push({ file, name, study: dir === '.' ? name : dir });
  }
  return { base: root, images, problems: skipped.map((problem) => `${problem.path}: ${problem.reason}`) };
}

async function listCsv(file: string): Promise<ImageList> {
  const records = parseCsv(await readFile(file, 'utf8'), file);
  const header = records[0]?.fields.map((f) => f.trim().toLowerCase()) ?? [];
  const column = (role: keyof typeof CSV_COLUMN_ALIASES): number => header.findIndex((name) => (CSV_COLUMN_ALIASES[role] as readonly string[]).includes(name));
  const pathColumn = column('path');
  if (pathColumn < 0) throw new LabelError(`--data ${file}: the header row needs a path column (${CSV_COLUMN_ALIASES.path.join('/')}), found: ${header.join(', ')}`);
  const labelColumn = column('label');
  const studyColumn = column('study');
  const splitColumn = column('split');
  const base = path.dirname(file);
  const images: SourceImage[] = [];
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const { fields, line } of records.slice(1)) {
    const cell = (i: number): string => (i < 0 ? '' : (fields[i] ?? '').trim());
    const name = cell(pathColumn);
    if (name === '') continue;
    const full = path.resolve(base, name);
    if (seen.has(full)) continue;
    seen.add(full);
    if (!(await isFile(full))) {
      problems.push(`line ${line}: ${name}: file not found`);
      continue;
    }
    const dir = path.posix.dirname(toPosix(name));
    const image: SourceImage = { file: full, name, study: cell(studyColumn) || (dir === '.' ? name : dir) };
    if (cell(labelColumn) !== '') image.label = cell(labelColumn);
    if (cell(splitColumn) !== '') image.split = parseSplit(cell(splitColumn), file, line);
    images.push(image);
  }
  return { base, images, problems };
}

/**
 * Items in study order: studies in the order their first image appears, the images of a study
 * together and in source order, so a labeller sees one exam's views one after another.
 */
export function groupByStudy<T extends { study: string }>(items: readonly T[]): T[] {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const group = groups.get(item.study);
    if (group) group.push(item);
    else groups.set(item.study, [item]);
  }
  return [...groups.values()].flat();
}

/** A copy of `items` in a random order fixed by `seed` (Fisher-Yates on the project's seeded generator). */
export function seededShuffle<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  const rng = new Rng(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/**
 * The `path` cell of an image in a label file: its path relative to the label file's folder,
 * with `/`, so the label file is itself a manifest that loadDataset reads (it resolves paths
 * against the CSV's folder) wherever it is written.
 */
export function labelKey(outFile: string, imageFile: string): string {
  return toPosix(path.relative(path.dirname(path.resolve(outFile)), imageFile));
}

/** Where a reader study takes its images from (see readerStudyImages). */
export interface ReaderSource {
  /** A folder or CSV (the experiment's --data). Ignored with `experiment`. */
  data?: string;
  /** Keep only this split of the experiment's split by study. */
  split?: Split;
  /** The seed of that split (the experiment's --seed, default 1). */
  seed?: number;
  fractions?: SplitFractions;
  /** The CSV column holding a fixed split (the experiment's --split-column). */
  splitColumn?: string;
  /** An experiment's report.json: its data, seed, split settings and classes, its test split by default. */
  experiment?: string;
}

/** The images a reader study shows, and the classes the source implies. */
export interface ReaderImages {
  images: SourceImage[];
  classes?: string[];
  problems: string[];
}

/**
 * The images of a reader study:
 *
 * - with `experiment` (a report.json): the test split of that run, recomputed exactly as the
 *   experiment computed it (the same data, loadDataset, splitByStudy with its seed, fractions
 *   and split column), minus the images the run excluded; the classes are the run's;
 * - with `split`: that split of `data` under the given seed (the experiment's defaults
 *   otherwise), so `--split test --seed 7` matches `cnn experiment --seed 7`;
 * - otherwise every image `data` lists (a given list; see listImages).
 */
export async function readerStudyImages(source: ReaderSource): Promise<ReaderImages> {
  let { data, split, seed, fractions, splitColumn } = source;
  let runFolders: Pick<ExperimentSettings, 'out' | 'cacheDir' | 'allowOutsideData'> = {};
  let classes: string[] | undefined;
  let excluded = new Set<string>();
  if (source.experiment !== undefined) {
    const report = await readReport(source.experiment);
    data = report.data;
    seed ??= report.seed;
    fractions ??= report.fractions;
    splitColumn ??= report.splitColumn;
    split ??= 'test';
    classes = report.classes;
    excluded = report.excluded;
    runFolders = report;
  }
  if (data === undefined) throw new LabelError('a reader study needs --data (a folder or CSV of images) or --experiment <report.json>');
  if (split === undefined) return { images: (await listImages(data)).images, problems: [] };

  const dataset = await loadDataset(data, datasetOptions({ ...runFolders, splitColumn }));
  const result = splitByStudy(dataset.items, { seed: seed ?? 1, fractions: fractions ?? DEFAULT_FRACTIONS, classes: dataset.classes });
  const images = result.items
    .filter((item) => item.split === split && !excluded.has(item.path))
    .map((item) => ({ file: item.path, name: item.name, study: item.study, label: dataset.classes[item.label]!, split: item.split }));
  if (images.length === 0) throw new LabelError(`the ${split} split of ${data} is empty`);
  return { images, classes: classes ?? dataset.classes, problems: dataset.problems.map((p) => `${p.path}: ${p.reason}`) };
}

interface ExperimentSettings {
  data: string;
  seed?: number;
  fractions?: SplitFractions;
  splitColumn?: string;
  classes?: string[];
  excluded: Set<string>;
  /** The run's settings that decide which files its data scan saw (see datasetOptions). */
  out?: string;
  cacheDir?: string;
  allowOutsideData?: boolean;
}

async function readReport(file: string): Promise<ExperimentSettings> {
  let report: {
    config?: { data?: unknown; seed?: unknown; split?: unknown; splitColumn?: unknown; out?: unknown; cacheDir?: unknown; allowOutsideData?: unknown };
    classes?: unknown;
    dataset?: { excluded?: { path?: unknown }[] };
  };
  try {
    report = JSON.parse(await readFile(file, 'utf8')) as typeof report;
  } catch (error) {
    throw new LabelError(`--experiment ${file}: ${(error as Error).message}`);
  }
  const config = report.config ?? {};
  if (typeof config.data !== 'string') throw new LabelError(`--experiment ${file}: no config.data naming the run's images (a synthetic demo run has none)`);
  const settings: ExperimentSettings = { data: config.data, excluded: new Set() };
  if (typeof config.seed === 'number') settings.seed = config.seed;
  if (isFractions(config.split)) settings.fractions = config.split;
  if (typeof config.splitColumn === 'string') settings.splitColumn = config.splitColumn;
  if (typeof config.out === 'string') settings.out = config.out;
  if (typeof config.cacheDir === 'string') settings.cacheDir = config.cacheDir;
  if (config.allowOutsideData === true) settings.allowOutsideData = true;
  if (Array.isArray(report.classes) && report.classes.every((c) => typeof c === 'string')) settings.classes = report.classes as string[];
  for (const entry of report.dataset?.excluded ?? []) if (typeof entry.path === 'string') settings.excluded.add(entry.path);
  return settings;
}

function isFractions(value: unknown): value is SplitFractions {
  const v = value as Partial<SplitFractions> | undefined;
  return typeof v?.train === 'number' && typeof v.val === 'number' && typeof v.test === 'number';
}

/** A label file read for review: its records by the absolute path of their image. */
export async function readLabelFileByImage(file: string, fallbackBase?: string): Promise<Map<string, LabelRecord>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new LabelError(`--review ${file}: ${(error as Error).message}`);
  }
  const rows = parseCsv(text, file);
  const header = rows[0]?.fields.map((f) => f.trim().toLowerCase()) ?? [];
  const at = (name: string): number => header.indexOf(name);
  if (at('path') < 0 || at('label') < 0) throw new LabelError(`--review ${file}: needs a header with path and label columns, found: ${header.join(', ')}`);
  const out = new Map<string, LabelRecord>();
  for (const { fields } of rows.slice(1)) {
    const value = (name: string): string => (at(name) < 0 ? '' : (fields[at(name)] ?? '').trim());
    const key = value('path');
    if (key === '' || value('label') === '') continue;
    // Label files name images relative to themselves; a reader study's names them as the data source does.
    let full = path.resolve(path.dirname(file), key);
    if (fallbackBase !== undefined && !(await isFile(full))) full = path.resolve(fallbackBase, key);
    out.set(full, { path: key, label: value('label'), labeller: value('labeller'), timestamp: value('timestamp') });
  }
  return out;
}

/** Images labelled in both files with different labels, in path order. */
export function disagreements(a: Map<string, LabelRecord>, b: Map<string, LabelRecord>): { file: string; a: LabelRecord; b: LabelRecord }[] {
  const out: { file: string; a: LabelRecord; b: LabelRecord }[] = [];
  for (const [file, left] of a) {
    const right = b.get(file);
    if (right && right.label !== left.label) out.push({ file, a: left, b: right });
  }
  return out.sort((x, y) => (x.file < y.file ? -1 : x.file > y.file ? 1 : 0));
}

/**
 * Keeps the images whose real path lies inside `root` (the real path of the folder the server
 * may serve from), each with its path below it; the others are reported, since the server
 * would refuse to show them.
 */
export async function keepInside<T extends { file: string }>(root: string, images: readonly T[]): Promise<{ kept: (T & { rel: string })[]; outside: string[] }> {
  const kept: (T & { rel: string })[] = [];
  const outside: string[] = [];
  for (const image of images) {
    const real = await realpath(image.file).catch(() => undefined);
    // `file` stays as given (label keys are computed from it); `rel` is what the server will resolve.
    if (real !== undefined && isInside(root, real)) kept.push({ ...image, rel: toPosix(path.relative(root, real)) });
    else outside.push(image.file);
  }
  return { kept, outside };
}

function readHead(file: string): Uint8Array {
  const fd = openSync(file, 'r');
  try {
    const head = new Uint8Array(132);
    return head.subarray(0, readSync(fd, head, 0, head.length, 0));
  } finally {
    closeSync(fd);
  }
}

async function isFile(file: string): Promise<boolean> {
  return (await stat(file).catch(() => undefined))?.isFile() ?? false;
}

function toPosix(p: string): string {
  return p.split(path.sep).join('/');
}
