import { closeSync, openSync, readSync } from 'node:fs';
import { readdir, readFile, readlink, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseCsv, type CsvRecord } from './csv.js';
import { describeUnknownFormat, detectFormat } from './decode.js';
import { DatasetError, messageOf } from './errors.js';
import { isInside } from './inside.js';

/** The three parts of a run: train fits, val tunes (curves, early stopping), test is scored once at the end. */
export type Split = 'train' | 'val' | 'test';

/** One image of a data set. */
export interface DatasetItem {
  /** Absolute path of the image file. */
  path: string;
  /** The path relative to the source folder (or as written in the CSV), for reports. */
  name: string;
  /** Index into Dataset.classes. */
  label: number;
  /** The grouping unit of the split: images of one study never go to two splits. */
  study: string;
  /** A split fixed by the manifest (splitByStudy keeps it). */
  split?: Split;
  /** The CSV line of the item, for messages. */
  line?: number;
}

/** A file that was skipped, and why. */
export interface Problem {
  path: string;
  reason: string;
  line?: number;
}

/** What loadDataset found. Problems are skipped files; warnings need a look; notes explain choices. */
export interface Dataset {
  source: string;
  kind: 'folder' | 'csv';
  classes: string[];
  items: DatasetItem[];
  warnings: string[];
  notes: string[];
  problems: Problem[];
}

/** Options of loadDataset. */
export interface LoadOptions {
  /**
   * The classes in the order wanted (e.g. the study's table order). Every label must be one of
   * them and each must end up with images. Default: the sorted labels (folder names).
   */
  classes?: string[];
  /**
   * CSV only: the column holding a fixed split (train / val / test, blank = free). Default: a
   * column named split (or subset, partition). The shared data's `source_split` (the original
   * authors' split) is only used when named here.
   */
  splitColumn?: string;
  /**
   * Folder only: a file nested in a subfolder of its class folder (`liver/study042/img.png`)
   * belongs to the study named by that subfolder (`study042`), across all classes. Default true.
   */
  studyFromSubfolder?: boolean;
  /**
   * Use files outside the data folder: CSV paths that lead out of the CSV's folder (`../x.png`,
   * `/etc/hostname`), symlinks in a data folder that point out of it. Default false: such files
   * are refused and listed as problems, since a manifest from elsewhere should not read any file
   * it names.
   */
  allowOutside?: boolean;
  /**
   * Folder only: folders not to scan (absolute paths), such as the run's own output and cache
   * folders when they sit inside the data folder; a note lists the ones met.
   */
  exclude?: readonly string[];
}

/** Column names accepted for each role in a CSV header (compared lower-case, trimmed). */
export const CSV_COLUMN_ALIASES = {
  path: ['path', 'file', 'filename', 'file_name', 'filepath', 'file_path', 'image', 'image_path'],
  label: ['label', 'class', 'class_name', 'category', 'target'],
  study: ['study', 'study_id', 'studyid', 'patient', 'patient_id', 'case', 'case_id', 'exam', 'group'],
  split: ['split', 'subset', 'partition'],
} as const;

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.jpe', '.jfif', '.dcm', '.dicom', '.dic']);

/** How many names a message lists before "and N more". */
const LIST_LIMIT = 10;

/**
 * Reads a data set from a folder of class subfolders or from a CSV manifest.
 *
 * Folder: each subfolder is a class (names sorted unless options.classes); files anywhere below it
 * are images when their first bytes are PNG, JPEG or DICOM (detectFormat); a file named like an
 * image whose content is not is a problem; other files are ignored with a note. Hidden entries
 * (starting with '.') are ignored. Symlinks to files and folders are followed while they stay
 * inside the data folder; one leading outside (unless allowOutside), a broken one, a loop, and
 * a second path to an image already found are problems, never dropped in silence. A folder
 * holding `manifest.csv` is read through that manifest (a note says so): its studies and splits
 * are what the data's authors meant, and class folders alone would make every frame of a clip
 * its own study.
 *
 * CSV: a header row naming at least the path and label columns (see CSV_COLUMN_ALIASES), then
 * `path,label[,study][,split]` rows; paths are relative to the CSV's folder. Rows with missing
 * files or empty fields, and paths leading outside the CSV's folder (unless allowOutside), are
 * problems.
 *
 * Without study information each image is its own study (a note says so, since correlated
 * images of one patient would then leak across splits). A study under two labels is a warning.
 *
 * @throws DatasetError for a missing source, a CSV without path/label columns or with an invalid
 *   split value, a class left without images, or fewer than two classes
 */
export async function loadDataset(source: string, options: LoadOptions = {}): Promise<Dataset> {
  const resolved = path.resolve(source);
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(resolved)).isDirectory();
  } catch (err) {
    throw new DatasetError('data source not found (give a folder of class subfolders or a CSV manifest)', { file: source }, { cause: err });
  }
  const manifest = path.join(resolved, 'manifest.csv');
  let raw: RawDataset;
  if (isDirectory && (await isFile(manifest))) {
    raw = await readCsv(manifest, options);
    raw.notes.unshift(`${source} holds manifest.csv: its labels, studies and splits are used, not the class folders (give the CSV as --data to say so explicitly)`);
  } else {
    raw = isDirectory ? await readFolder(resolved, options) : await readCsv(resolved, options);
  }
  return finish(raw, options);
}

/** Items carry class names until the class list is settled in finish(). */
interface RawItem extends Omit<DatasetItem, 'label'> {
  labelName: string;
}

interface RawDataset extends Omit<Dataset, 'classes' | 'items'> {
  items: RawItem[];
  /** Labels seen in the source, with where (for "no images" messages). */
  declared: Map<string, string>;
}

async function readFolder(root: string, options: LoadOptions): Promise<RawDataset> {
  const raw: RawDataset = { source: root, kind: 'folder', items: [], warnings: [], notes: [], problems: [], declared: new Map() };
  const scan = await scanFolder(root, options, raw.problems);
  const entries = await scan.list(root);
  const classDirs = entries.filter((e) => e.kind === 'folder');
  const loose = entries.filter((e) => e.kind === 'file').map((e) => e.name);
  if (loose.length > 0) raw.notes.push(`ignored ${loose.length} file(s) at the top level, outside any class folder: ${listSome(loose)}`);
  const byFolder = options.studyFromSubfolder ?? true;
  const ignored: string[] = [];
  let nested = 0;
  for (const dir of classDirs) {
    raw.declared.set(dir.name, `class folder ${dir.path}`);
    for (const file of await scan.walk(dir.path)) {
      const name = path.relative(root, file);
      let head: Uint8Array;
      try {
        head = readHead(file);
      } catch (err) {
        raw.problems.push({ path: file, reason: `unreadable: ${messageOf(err)}` });
        continue;
      }
      const format = detectFormat(head);
      const looksLikeImage = IMAGE_EXTENSIONS.has(path.extname(file).toLowerCase());
      if (format === undefined) {
        if (looksLikeImage) raw.problems.push({ path: file, reason: describeUnknownFormat(head) });
        else ignored.push(name);
        continue;
      }
      // name = class/sub/.../file: a file below a subfolder takes the subfolder as its study.
      const parts = name.split(path.sep);
      const fromFolder = byFolder && parts.length > 2;
      if (fromFolder) nested++;
      raw.items.push({ path: file, name, labelName: dir.name, study: fromFolder ? parts[1]! : name });
    }
  }
  if (scan.skipped.length > 0) raw.notes.push(`did not scan ${listSome(scan.skipped)} (the run's own output or cache folder)`);
  if (ignored.length > 0) raw.notes.push(`ignored ${ignored.length} non-image file(s): ${listSome(ignored)}`);
  if (nested > 0) {
    raw.notes.push(
      `${nested} image(s) in subfolders of class folders take the subfolder's name as their study ` +
        '(the same name under two classes is one study)',
    );
  }
  if (nested < raw.items.length) {
    raw.notes.push(
      `${raw.items.length - nested} image(s) directly in class folders are each their own study; ` +
        'if several come from one patient or exam, put them in a subfolder per study or use a CSV with a study column, or the split can leak',
    );
  }
  return raw;
}

async function readCsv(file: string, options: LoadOptions): Promise<RawDataset> {
  const raw: RawDataset = { source: file, kind: 'csv', items: [], warnings: [], notes: [], problems: [], declared: new Map() };
  const records = parseCsv(await readFile(file, 'utf8'), file);
  if (records.length === 0) throw new DatasetError('the CSV manifest is empty (expected a header row path,label[,study][,split])', { file });
  const [header, ...rows] = records as [CsvRecord, ...CsvRecord[]];
  const columns = mapColumns(header, file, options.splitColumn);
  const unused = header.fields.filter((_, i) => !Object.values(columns).includes(i));
  if (unused.length > 0) {
    const authors = unused.find((c) => c.trim().toLowerCase() === 'source_split');
    raw.notes.push(
      `ignored CSV column(s): ${unused.join(', ')}` +
        (authors !== undefined ? ` (${authors} is the original authors' split; pass it as the split column to use it)` : ''),
    );
  }
  if (columns.study === undefined) {
    raw.notes.push('no study column: each image is its own study; if several images come from one patient or exam, add a study column, or the split can leak');
  }
  const folder = path.dirname(file);
  const realFolder = await realpath(folder);
  const seen = new Map<string, number>();
  for (const { fields, line } of rows) {
    const cell = (i: number | undefined): string => (i === undefined ? '' : (fields[i] ?? '').trim());
    const name = cell(columns.path);
    // A row without a usable path is reported against the CSV itself.
    const shown = name === '' ? file : path.resolve(folder, name);
    if (fields.length !== header.fields.length) {
      const reason = `line ${line} has ${fields.length} fields, the header has ${header.fields.length}`;
      raw.problems.push({ path: shown, line, reason });
      continue;
    }
    const labelName = cell(columns.label);
    if (name === '' || labelName === '') {
      raw.problems.push({ path: shown, line, reason: `line ${line}: empty ${name === '' ? 'path' : 'label'}` });
      continue;
    }
    if (!raw.declared.has(labelName)) raw.declared.set(labelName, `label '${labelName}' (first on line ${line} of ${file})`);
    const full = path.resolve(folder, name);
    const earlier = seen.get(full);
    if (earlier !== undefined) {
      raw.problems.push({ path: full, line, reason: `line ${line} repeats the file of line ${earlier}; the first is kept` });
      continue;
    }
    seen.set(full, line);
    if (!(await isFile(full))) {
      raw.problems.push({ path: full, line, reason: `line ${line}: file not found` });
      continue;
    }
    const real = await realpath(full);
    if (!options.allowOutside && !isInside(realFolder, real)) {
      raw.problems.push({ path: full, line, reason: `line ${line}: ${name} lies outside the manifest's folder ${folder}${real !== full ? ` (it leads to ${real})` : ''}; refused (--allow-outside-data uses it)` });
      continue;
    }
    const splitText = cell(columns.split);
    const split = splitText === '' ? undefined : parseSplit(splitText, file, line);
    const study = cell(columns.study) || name;
    raw.items.push({ path: full, name, labelName, study, line, ...(split !== undefined ? { split } : {}) });
  }
  return raw;
}

interface Columns {
  path: number;
  label: number;
  study?: number;
  split?: number;
}

function mapColumns(header: CsvRecord, file: string, splitColumn: string | undefined): Columns {
  const names = header.fields.map((f) => f.trim().toLowerCase());
  const find = (role: keyof typeof CSV_COLUMN_ALIASES): number | undefined => {
    const hits = names.flatMap((n, i) => ((CSV_COLUMN_ALIASES[role] as readonly string[]).includes(n) ? [i] : []));
    if (hits.length > 1) {
      throw new DatasetError(`the header has ${hits.length} ${role} columns (${hits.map((i) => header.fields[i]).join(', ')}); keep one`, {
        file,
        line: header.line,
      });
    }
    return hits[0];
  };
  const pathIndex = find('path');
  const labelIndex = find('label');
  if (pathIndex === undefined || labelIndex === undefined) {
    throw new DatasetError(
      `the header row (${header.fields.join(',')}) needs a path column (${CSV_COLUMN_ALIASES.path.join('/')}) ` +
        `and a label column (${CSV_COLUMN_ALIASES.label.join('/')})`,
      { file, line: header.line },
    );
  }
  let split: number | undefined;
  if (splitColumn !== undefined) {
    split = names.indexOf(splitColumn.trim().toLowerCase());
    if (split < 0) {
      const message = `no column '${splitColumn}' to take the split from (columns: ${header.fields.join(', ')})`;
      throw new DatasetError(message, { file, line: header.line });
    }
  } else {
    split = find('split');
  }
  const study = find('study');
  return { path: pathIndex, label: labelIndex, ...(study !== undefined ? { study } : {}), ...(split !== undefined ? { split } : {}) };
}

const SPLIT_NAMES: Record<string, Split> = {
  train: 'train',
  training: 'train',
  val: 'val',
  valid: 'val',
  validation: 'val',
  dev: 'val',
  test: 'test',
  testing: 'test',
};

/** A split cell: train/training, val/valid/validation/dev, test/testing (any case). */
export function parseSplit(text: string, file: string, line: number): Split {
  const split = SPLIT_NAMES[text.trim().toLowerCase()];
  if (split === undefined) throw new DatasetError(`split '${text}' is not train, val or test`, { file, line });
  return split;
}

function finish(raw: RawDataset, options: LoadOptions): Dataset {
  const labels = new Set(raw.items.map((i) => i.labelName));
  const classes = options.classes !== undefined ? [...options.classes] : [...raw.declared.keys()].sort();
  if (options.classes !== undefined) {
    const unknown = [...raw.declared.keys()].filter((l) => !options.classes!.includes(l));
    if (unknown.length > 0) {
      throw new DatasetError(`label(s) ${listSome(unknown.map((l) => `'${l}'`))} are not among the given classes (${classes.join(', ')})`, { file: raw.source });
    }
  }
  const empty = classes.filter((c) => !labels.has(c));
  if (empty.length > 0) {
    const why = empty.map((c) => raw.declared.get(c) ?? `class '${c}' (given, but no image carries it)`);
    throw new DatasetError(
      `${empty.length} class(es) have no readable images: ${why.join('; ')}` +
        (raw.kind === 'csv' ? ' (their rows point at missing files; see the problems)' : ''),
      { file: raw.source },
    );
  }
  if (classes.length < 2) {
    throw new DatasetError(
      classes.length === 0
        ? `no images found (${raw.kind === 'folder' ? 'expected one subfolder of images per class' : 'the CSV lists none that exist'})`
        : `only one class ('${classes[0]}'): a classifier needs at least two`,
      { file: raw.source },
    );
  }
  const index = new Map(classes.map((c, i) => [c, i]));
  const items: DatasetItem[] = raw.items.map(({ labelName, ...rest }) => ({ ...rest, label: index.get(labelName)! }));
  const warnings = [...raw.warnings, ...studyLabelConflicts(items, classes)];
  return { source: raw.source, kind: raw.kind, classes, items, warnings, notes: raw.notes, problems: raw.problems };
}

/**
 * Studies whose images carry more than one label, as one warning (none if there are none). Normal
 * when a study is an exam holding several views (the original study's data); label noise or a
 * wrong study id when a study is one lesion or one clip. Either way the study stays whole.
 */
export function studyLabelConflicts(items: readonly DatasetItem[], classes: readonly string[]): string[] {
  const labels = new Map<string, Set<number>>();
  for (const item of items) {
    const set = labels.get(item.study) ?? new Set<number>();
    set.add(item.label);
    labels.set(item.study, set);
  }
  const mixed: string[] = [];
  for (const [study, set] of labels) {
    if (set.size > 1) mixed.push(`'${study}' (${[...set].sort((a, b) => a - b).map((l) => classes[l]).join(', ')})`);
  }
  if (mixed.length === 0) return [];
  return [
    `${mixed.length} of ${labels.size} studies have images under two or more labels: ${listSome(mixed)}. ` +
      'Expected if a study is an exam with several views; label noise if a study is one lesion or clip. Each study stays whole in one split.',
  ];
}

/** A folder entry as the scan sees it: symlinks already followed to what they lead to. */
interface ScanEntry {
  name: string;
  /** The path under the data folder (through any symlinks), as items are named. */
  path: string;
  kind: 'file' | 'folder';
}

/**
 * Walks a data folder following symlinks safely: each folder and each file is taken once by
 * its real path (a second path to it, a loop back to an ancestor among them, is a problem
 * naming both), links that lead outside the data folder are problems unless allowOutside, and
 * broken links are problems. Hidden entries and the excluded folders are not scanned. Shared by
 * the experiment's data sets and the labeller's image lists, so both see the same files.
 */
export async function scanFolder(root: string, options: Pick<LoadOptions, 'allowOutside' | 'exclude'>, problems: Problem[]) {
  const realRoot = await realpath(root);
  const exclude = new Set((options.exclude ?? []).map((dir) => path.resolve(dir)));
  /** Real path -> the first path it was reached by. */
  const seen = new Map<string, string>([[realRoot, root]]);
  const skipped: string[] = [];

  /** What `full` is once followed, or undefined (with a problem recorded) when it cannot be used. */
  async function follow(full: string): Promise<'file' | 'folder' | undefined> {
    let real: string;
    try {
      real = await realpath(full);
    } catch (err) {
      const target = await readlink(full).catch(() => '?');
      problems.push({ path: full, reason: `broken symlink (to ${target}): ${messageOf(err)}` });
      return undefined;
    }
    if (!options.allowOutside && real !== realRoot && !isInside(realRoot, real)) {
      problems.push({ path: full, reason: `symlink leads outside the data folder, to ${real}; refused (--allow-outside-data follows it)` });
      return undefined;
    }
    const info = await stat(real);
    const kind = info.isDirectory() ? 'folder' : info.isFile() ? 'file' : undefined;
    if (kind === undefined) return undefined;
    const first = seen.get(real);
    if (first !== undefined) {
      const what = isInside(real, full) ? 'a symlink loop back to' : `the same ${kind} as`;
      problems.push({ path: full, reason: `${what} ${first}; skipped so nothing is counted twice` });
      return undefined;
    }
    seen.set(real, full);
    return kind;
  }

  async function list(dir: string): Promise<ScanEntry[]> {
    const out: ScanEntry[] = [];
    const entries = (await readdir(dir, { withFileTypes: true })).filter((e) => !e.name.startsWith('.'));
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const full = path.join(dir, e.name);
      if (exclude.has(full)) {
        skipped.push(full);
        continue;
      }
      if (!e.isDirectory() && !e.isFile() && !e.isSymbolicLink()) continue;
      const kind = await follow(full);
      if (kind !== undefined) out.push({ name: e.name, path: full, kind });
    }
    return out;
  }

  /** Every file below `dir`, in name order, depth first. */
  async function walk(dir: string): Promise<string[]> {
    const files: string[] = [];
    for (const entry of await list(dir)) {
      if (entry.kind === 'folder') files.push(...(await walk(entry.path)));
      else files.push(entry.path);
    }
    return files;
  }

  return { list, walk, skipped };
}

/** The first 132 bytes: enough for every signature detectFormat knows. */
function readHead(file: string): Uint8Array {
  const fd = openSync(file, 'r');
  try {
    const head = new Uint8Array(132);
    const n = readSync(fd, head, 0, head.length, 0);
    return head.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

/** `a, b, c and 7 more`. */
export function listSome(names: readonly string[], limit = LIST_LIMIT): string {
  const shown = names.slice(0, limit).join(', ');
  return names.length > limit ? `${shown} and ${names.length - limit} more` : shown;
}
