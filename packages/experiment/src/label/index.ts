import { readFileSync } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { userInfo } from 'node:os';
import path from 'node:path';
import { parseSplit, type Split } from '../data/index.js';
import { LabelError } from './errors.js';
import {
  disagreements,
  groupByStudy,
  keepInside,
  labelKey,
  listImages,
  readerStudyImages,
  readLabelFileByImage,
  seededShuffle,
  type SourceImage,
} from './items.js';
import { startLabelServer, type LabelMode, type LabelServer, type RunItem } from './server.js';
import { realTarget } from './paths.js';
import { ASSISTED_COLUMNS, LabelStore, LABEL_COLUMNS, READER_COLUMNS } from './store.js';
import { openModelDir, type ModelDir } from '../commands/model-dir.js';
import { suggestLabels } from './suggest.js';
import { untilStopped } from '../http/local-server.js';

export { LabelError, RequestError } from './errors.js';
export { checkImagePath, decodeRequestPath, isInside } from './paths.js';
export { LabelStore, LABEL_COLUMNS, READER_COLUMNS, ASSISTED_COLUMNS, csvField, type LabelRecord } from './store.js';
export { suggestLabels, type Suggestion } from './suggest.js';
export { startLabelServer, shortcutKey, type LabelMode, type LabelServer, type RunItem, type ServerOptions } from './server.js';
export { listImages, readerStudyImages, seededShuffle, groupByStudy, labelKey, type LabelItem } from './items.js';

/** The options of `cnn label`, as commander hands them over. */
export interface LabelOptions {
  /** A folder of images or a CSV with a path column (label runs and reader studies; the served folder of a review). */
  data?: string;
  /** Comma-separated class names. */
  classes?: string;
  /** A file of class names, one a line. */
  classesFile?: string;
  /** The label file written. */
  out: string;
  port?: number;
  host?: string;
  /** Name written into each row (default: the OS user). */
  labeller?: string;
  /** The folder images are served from, when a CSV names images outside its own folder. */
  root?: string;
  readerStudy?: boolean;
  /** Reader study: an experiment's report.json, whose test split is shown. */
  experiment?: string;
  /** Reader study: show this split of --data (train, val or test) under --seed. */
  split?: string;
  seed?: number;
  splitColumn?: string;
  /** Reader study: the seed of the random order (default 1). */
  orderSeed?: number;
  /** Review: the two label files. */
  review?: string[];
  /** The most megapixels an image may declare (default 50). */
  maxMegapixels?: number;
  /** Label runs: an experiment's output folder whose model suggests a label for each image. */
  model?: string;
  /** Label runs: `study` (images of one study together, the default) or `uncertainty` (the model's least confident first). */
  order?: string;
}

/** A started labelling run. */
export interface LabelRun {
  mode: LabelMode;
  classes: string[];
  items: RunItem[];
  store: LabelStore;
  server: LabelServer;
  /** What the user should know: skipped images, labels of unknown classes. */
  notes: string[];
  close(): Promise<void>;
}

/**
 * Prepares and starts a labelling run: reads the images, opens (or resumes) the label file,
 * starts the server. See `cnn label --help`.
 *
 * @throws LabelError for contradictory or missing options and unusable inputs
 */
export async function startLabelling(options: LabelOptions): Promise<LabelRun> {
  const mode: LabelMode = options.review !== undefined ? 'review' : options.readerStudy ? 'reader' : 'label';
  if (mode === 'review' && options.readerStudy) throw new LabelError('--review and --reader-study are two different runs; give one');
  if (options.classes !== undefined && options.classesFile !== undefined) throw new LabelError('give --classes or --classes-file, not both');
  const readerOnly = (['experiment', 'split', 'seed', 'splitColumn', 'orderSeed'] as const).filter((key) => options[key] !== undefined);
  // A reader study measures the reader alone: a suggestion would be the model's answer in the reader's column.
  if (options.model !== undefined && mode !== 'label') throw new LabelError(`--model suggests labels in a labelling run only, never in a ${mode === 'reader' ? 'reader study' : 'review'}`);
  if (options.order !== undefined && options.order !== 'study' && options.order !== 'uncertainty') throw new LabelError(`--order ${options.order}: use study or uncertainty`);
  if (options.order === 'uncertainty' && options.model === undefined) throw new LabelError('--order uncertainty needs --model (the model says how sure it is)');
  if (mode !== 'reader' && readerOnly.length > 0) throw new LabelError(`${readerOnly.map(flag).join(', ')} ${readerOnly.length === 1 ? 'applies' : 'apply'} only to --reader-study`);
  if (options.port !== undefined && !(options.port >= 0 && options.port <= 65535)) throw new LabelError(`--port ${options.port}: use 0-65535`);
  const out = await realTarget(options.out);
  await refuseManifestAsOut(options, out);
  const notes: string[] = [];
  let prepared: { items: RunItem[]; classes: string[] | undefined; root?: string };
  if (mode === 'reader') prepared = await readerItems(options, notes);
  else if (mode === 'review') prepared = await reviewItems(options, out, notes);
  else prepared = await labelItems(options, out, notes);

  const model = options.model !== undefined ? openModelDir(options.model) : undefined;
  const classes = givenClasses(options) ?? model?.classes ?? prepared.classes;
  if (classes === undefined) throw new LabelError('give the classes: --classes a,b,c or --classes-file FILE (one name a line)');
  checkClasses(classes);
  if (model) prepared.items = withSuggestions(prepared.items, model, classes, options, notes);

  const columns = mode === 'reader' ? READER_COLUMNS : model ? ASSISTED_COLUMNS : LABEL_COLUMNS;
  const store = await LabelStore.open(out, { columns });
  try {
    const unknown = [...new Set(store.all().map((r) => r.label).filter((label) => !classes.includes(label)))];
    if (unknown.length > 0) notes.push(`${out} holds labels that are not among the classes (kept in the file): ${unknown.join(', ')}`);
    const server = await startLabelServer({
      mode,
      classes,
      items: prepared.items,
      store,
      labeller: options.labeller ?? defaultLabeller(),
      ...(prepared.root !== undefined ? { root: prepared.root } : {}),
      ...(options.host !== undefined ? { host: options.host } : {}),
      ...(options.port !== undefined ? { port: options.port } : {}),
      title: path.basename(out),
      ...(options.maxMegapixels !== undefined ? { maxMegapixels: options.maxMegapixels } : {}),
    });
    return {
      mode,
      classes,
      items: prepared.items,
      store,
      server,
      notes,
      close: async () => {
        await server.close();
        await store.close();
      },
    };
  } catch (error) {
    await store.close();
    throw error;
  }
}

/**
 * The items with the model's suggestions, in the order asked for: `uncertainty` puts the
 * images the model is least sure of first (a simple active-learning loop: label those, retrain,
 * label the next least sure). The model's classes must be among the run's.
 */
function withSuggestions(items: RunItem[], model: ModelDir, classes: readonly string[], options: LabelOptions, notes: string[]): RunItem[] {
  const foreign = model.classes.filter((name) => !classes.includes(name));
  if (foreign.length > 0) throw new LabelError(`--model ${options.model}: its classes ${foreign.join(', ')} are not among the run's classes (${classes.join(', ')})`);
  const { suggestions, problems } = suggestLabels(model, items.map((item) => item.file), options.maxMegapixels);
  notes.push(...summarise('without a suggestion (the model could not read them)', problems));
  const suggested = items.map((item, i) => (suggestions[i] ? { ...item, suggestion: suggestions[i] } : item));
  if (options.order !== 'uncertainty') return suggested;
  // Unreadable images last; ties keep the study order (the sort is stable).
  return suggested.sort((a, b) => (a.suggestion?.confidence ?? Infinity) - (b.suggestion?.confidence ?? Infinity));
}

/** The lines `cnn label` prints once the server runs. */
export function formatStart(run: LabelRun): string {
  const labelled = run.items.filter((item) => run.store.get(item.key) !== undefined).length;
  const what = { label: 'labelling', reader: 'reader study (seeded random order, labels hidden)', review: 'review of disagreements' }[run.mode];
  const lines = [
    `cnn label: ${what}: ${run.items.length} images, ${labelled} labelled, ${run.items.length - labelled} to go; ${run.classes.length} classes -> ${run.store.file}`,
    ...run.notes.map((note) => `note: ${note}`),
    `open ${run.server.url}`,
    'Ctrl+C stops the server; every label is already saved.',
  ];
  return lines.join('\n');
}

async function labelItems(options: LabelOptions, out: string, notes: string[]): Promise<{ items: RunItem[]; classes: string[] | undefined; root: string }> {
  if (options.data === undefined) throw new LabelError('give --data: a folder of images or a CSV with a path column');
  const list = await listImages(options.data);
  notes.push(...summarise('skipped', list.problems));
  const root = await servedRoot(options, list.base);
  const { kept, outside } = await keepInside(root, list.images);
  notes.push(...summarise(`outside the served folder ${root} (give --root to serve a folder holding them)`, outside));
  if (kept.length === 0) throw new LabelError(`no image of --data ${options.data} lies inside ${root}`);
  const items = groupByStudy(kept).map((image) => runItem(image, labelKey(out, image.file), image.label));
  const sourceLabels = [...new Set(kept.flatMap((image) => (image.label !== undefined ? [image.label] : [])))].sort();
  return { items, classes: sourceLabels.length >= 2 ? sourceLabels : undefined, root };
}

async function readerItems(options: LabelOptions, notes: string[]): Promise<{ items: RunItem[]; classes: string[] | undefined }> {
  const split: Split | undefined = options.split === undefined ? undefined : parseSplit(options.split, '--split', 0);
  const found = await readerStudyImages({
    ...(options.data !== undefined ? { data: options.data } : {}),
    ...(split !== undefined ? { split } : {}),
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
    ...(options.splitColumn !== undefined ? { splitColumn: options.splitColumn } : {}),
    ...(options.experiment !== undefined ? { experiment: options.experiment } : {}),
  });
  notes.push(...summarise('skipped', found.problems));
  // The path cell is the image's name in the data source: what `cnn experiment --reader-labels` matches first.
  const items = seededShuffle(found.images, options.orderSeed ?? 1).map((image) => runItem(image, image.name, undefined));
  return { items, classes: found.classes };
}

async function reviewItems(options: LabelOptions, out: string, notes: string[]): Promise<{ items: RunItem[]; classes: string[]; root: string }> {
  const files = options.review ?? [];
  if (files.length !== 2) throw new LabelError(`--review takes two label files, got ${files.length}`);
  const [fileA, fileB] = files as [string, string];
  const base = options.data !== undefined ? await dataBase(options.data) : path.dirname(path.resolve(fileA));
  const a = await readLabelFileByImage(fileA, base);
  const b = await readLabelFileByImage(fileB, base);
  const differing = disagreements(a, b);
  const shared = [...a.keys()].filter((file) => b.has(file)).length;
  notes.push(`${shared} images are labelled in both files; they disagree on ${differing.length}`);
  if (differing.length === 0) throw new LabelError(`${fileA} and ${fileB} agree on every image both label: nothing to review`);
  const root = await servedRoot(options, base);
  const { kept, outside } = await keepInside(
    root,
    differing.map((d) => ({ file: d.file, review: { a: d.a, b: d.b } })),
  );
  notes.push(...summarise(`outside the served folder ${root} (give --data or --root)`, outside));
  const items = kept.map((entry): RunItem => {
    const dir = path.posix.dirname(entry.rel);
    return { file: entry.file, rel: entry.rel, name: entry.rel, key: labelKey(out, entry.file), study: dir === '.' ? entry.rel : dir, review: entry.review };
  });
  const classes = [...new Set([...a.values(), ...b.values()].map((r) => r.label))].sort();
  return { items, classes, root };
}

function runItem(image: SourceImage & { rel?: string }, key: string, sourceLabel: string | undefined): RunItem {
  const item: RunItem = { file: image.file, name: image.name, key, study: image.study };
  if (image.rel !== undefined) item.rel = image.rel;
  if (sourceLabel !== undefined) item.sourceLabel = sourceLabel;
  return item;
}

/** The manifest a data folder may hold (path,label[,study][,split]), as `cnn experiment --data DIR` reads it. */
const DATA_MANIFEST = 'manifest.csv';

/**
 * Refuses an `--out` that is the data set's own manifest (the `--data` CSV, or the manifest.csv
 * of the `--data` folder), however spelt: a label file written there replaces the ground truth.
 */
async function refuseManifestAsOut(options: LabelOptions, out: string): Promise<void> {
  if (options.data === undefined) return;
  const info = await stat(path.resolve(options.data)).catch(() => undefined);
  const manifest = await realTarget(info?.isDirectory() ? path.join(options.data, DATA_MANIFEST) : options.data);
  if (manifest === out) {
    throw new LabelError(`--out ${options.out} is the data set's own manifest (${manifest}): labels written there would replace the ground truth; give another file`);
  }
}

/** The folder a data source names its images against: the folder, or a CSV's folder. */
async function dataBase(data: string): Promise<string> {
  const resolved = path.resolve(data);
  const info = await stat(resolved).catch(() => undefined);
  if (!info) throw new LabelError(`--data ${data}: not found`);
  return info.isDirectory() ? resolved : path.dirname(resolved);
}

/** The real path of the folder the server may serve images from: --root, else the data source's folder. */
async function servedRoot(options: LabelOptions, base: string): Promise<string> {
  const wanted = options.root !== undefined ? path.resolve(options.root) : base;
  try {
    return await realpath(wanted);
  } catch {
    throw new LabelError(`--root ${wanted}: not found`);
  }
}

function givenClasses(options: LabelOptions): string[] | undefined {
  if (options.classes !== undefined) return options.classes.split(',').map((name) => name.trim()).filter((name) => name !== '');
  if (options.classesFile === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(options.classesFile, 'utf8');
  } catch (error) {
    throw new LabelError(`--classes-file ${options.classesFile}: ${(error as Error).message}`);
  }
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

function checkClasses(classes: readonly string[]): void {
  if (classes.length < 2) throw new LabelError(`at least two classes are needed, got ${classes.length}: ${classes.join(', ')}`);
  const repeated = classes.filter((name, i) => classes.indexOf(name) !== i);
  if (repeated.length > 0) throw new LabelError(`class names repeat: ${[...new Set(repeated)].join(', ')}`);
}

/** `splitColumn` -> `--split-column`. */
function flag(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

function defaultLabeller(): string {
  try {
    return userInfo().username;
  } catch {
    // Containers without a passwd entry for the uid.
    return process.env.USER ?? process.env.USERNAME ?? 'unknown';
  }
}

/** One note for a list of paths: the count and the first few. */
function summarise(what: string, paths: readonly string[]): string[] {
  if (paths.length === 0) return [];
  const shown = paths.slice(0, 3).join('; ');
  return [`${paths.length} image(s) ${what}: ${shown}${paths.length > 3 ? `; and ${paths.length - 3} more` : ''}`];
}

/**
 * `cnn label`: starts the run, prints the address, and serves until Ctrl+C or SIGTERM, then
 * waits for the last save and releases the label file. Labels are on disk as they are given,
 * so stopping loses nothing.
 */
export async function runLabelCommand(options: LabelOptions, print: (text: string) => void = (text) => console.log(text)): Promise<void> {
  const run = await startLabelling(options);
  print(formatStart(run));
  // If the process ends some other way, the lock must not outlive it (a live pid in it would block the next run).
  const onExit = (): void => run.store.releaseLockSync();
  process.once('exit', onExit);
  await untilStopped();
  await run.close();
  process.off('exit', onExit);
}
