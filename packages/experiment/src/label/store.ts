import { rmSync } from 'node:fs';
import { mkdir, open, readFile, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseCsv } from '../data/index.js';
import { writeFileAtomic } from '../report/write.js';
import { isProcessAlive } from '../process-alive.js';
import { LabelError } from './errors.js';
import { realTarget } from './paths.js';

/** One row of a label file. The last row given for a path wins. */
export interface LabelRecord {
  /** The image, as the label file names it (see labelKey in items.ts). */
  path: string;
  label: string;
  labeller: string;
  /** ISO 8601 time the label was given. */
  timestamp: string;
  /** Reader study: seconds the image was on screen before the reader labelled it. */
  seconds?: number;
  /** Values of columns this program does not know, kept so rewriting the file never drops them. */
  extra?: Record<string, string>;
}

/** The columns of a label file. */
export const LABEL_COLUMNS = ['path', 'label', 'labeller', 'timestamp'] as const;
/** The columns of a reader study's file: a label file plus the time on each image. */
export const READER_COLUMNS = [...LABEL_COLUMNS, 'seconds'] as const;
/** The columns of a model-assisted run's file: a label file plus the model's suggestion and whether the label is it. */
export const ASSISTED_COLUMNS = [...LABEL_COLUMNS, 'suggestion', 'suggestion_taken'] as const;

/** Options of LabelStore.open. */
export interface StoreOptions {
  /** The columns written, in order (default LABEL_COLUMNS); columns of an existing file that are not among them follow. */
  columns?: readonly string[];
  /**
   * Hold `<file>.lock` while open so a second labeller process on the same file is refused
   * instead of silently overwriting the first one's labels (default true).
   */
  lock?: boolean;
  /**
   * Replaces the whole file with `text` atomically (default writeFileAtomic). A seam for the
   * crash test, which must stop a write halfway; anything given here must be atomic too.
   */
  write?: (file: string, text: string) => Promise<void>;
}

/**
 * The labels of one run, kept in memory and saved to a CSV file after every change.
 *
 * Every save writes the complete file with writeFileAtomic (temporary file, fsync, rename,
 * fsync of the folder), so a crash, a kill -9 or a power cut leaves either the previous or
 * the new file, never a torn one. Saves are serialised through one promise chain: two
 * browser tabs labelling at once queue behind each other instead of interleaving writes,
 * and changes that arrive while a save waits its turn are written by that one save.
 *
 * One process writes a file: the store holds `<file>.lock` (with its pid) while open.
 */
export class LabelStore {
  /** The last save in the chain; never rejects, so one failed write does not block the next. */
  private tail: Promise<void> = Promise.resolve();
  /** A save that is queued but has not started, which further changes can share. */
  private scheduled: Promise<void> | undefined;
  private closed = false;

  private constructor(
    readonly file: string,
    readonly columns: readonly string[],
    private readonly records: Map<string, LabelRecord>,
    private readonly lockFile: string | undefined,
    private readonly write: (file: string, text: string) => Promise<void>,
  ) {}

  /**
   * Opens (or starts) the label file at `file`: reads the rows already there, removes
   * temporary files that a killed writer left beside it, and takes the lock. All of it happens
   * at the file's real path (`file` property), so a symlink to a file in use is refused too.
   *
   * @throws LabelError when the file is not a label CSV (no path and label columns), or another
   *   live process holds its lock
   */
  static async open(file: string, options: StoreOptions = {}): Promise<LabelStore> {
    await mkdir(path.dirname(path.resolve(file)), { recursive: true });
    const absolute = await realTarget(file);
    if ((await stat(absolute).catch(() => undefined))?.isDirectory()) {
      throw new LabelError(`--out ${file} is a folder; give the label file to write, such as ${path.join(file, 'labels.csv')}`);
    }
    const lockFile = options.lock === false ? undefined : await takeLock(absolute);
    try {
      await removeDeadTemps(absolute);
      const { columns, records } = await readLabels(absolute, options.columns ?? LABEL_COLUMNS);
      return new LabelStore(absolute, columns, records, lockFile, options.write ?? writeFileAtomic);
    } catch (error) {
      if (lockFile) await rm(lockFile, { force: true });
      throw error;
    }
  }

  /** The label of `key`, if it has one. */
  get(key: string): LabelRecord | undefined {
    return this.records.get(key);
  }

  /** All labels, in the order the file lists them. */
  all(): LabelRecord[] {
    return [...this.records.values()];
  }

  /** How many images have a label. */
  get size(): number {
    return this.records.size;
  }

  /** Sets the label of `record.path` (replacing an earlier one) and resolves once the file holding it is on disk. */
  set(record: LabelRecord): Promise<void> {
    this.assertOpen();
    const previous = this.records.get(record.path);
    // A relabelled row keeps the columns only other tools know about.
    this.records.set(record.path, previous?.extra ? { extra: previous.extra, ...record } : record);
    return this.save();
  }

  /** Removes the label of `key` (undo of a first label) and resolves once the file is on disk. */
  delete(key: string): Promise<void> {
    this.assertOpen();
    this.records.delete(key);
    return this.save();
  }

  /** Resolves when every change made so far is on disk. */
  flush(): Promise<void> {
    return this.tail;
  }

  /** Waits for pending saves, then releases the lock. Further changes throw. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.tail;
    if (this.lockFile) await rm(this.lockFile, { force: true });
  }

  /** Releases the lock synchronously (for process exit, when no promise can run). */
  releaseLockSync(): void {
    if (this.lockFile) rmSync(this.lockFile, { force: true });
  }

  /** The whole file as text. */
  serialise(): string {
    const lines = [this.columns.map(csvField).join(',')];
    for (const record of this.records.values()) lines.push(this.columns.map((column) => csvField(cell(record, column))).join(','));
    return `${lines.join('\n')}\n`;
  }

  private save(): Promise<void> {
    if (this.scheduled) return this.scheduled;
    const run = this.tail.then(() => {
      // From here on, changes need a save of their own: this one may already have read the records.
      this.scheduled = undefined;
      return this.write(this.file, this.serialise());
    });
    this.scheduled = run;
    this.tail = run.catch(() => undefined);
    return run;
  }

  private assertOpen(): void {
    if (this.closed) throw new LabelError(`the label file ${this.file} is closed`);
  }
}

function cell(record: LabelRecord, column: string): string {
  switch (column) {
    case 'path':
      return record.path;
    case 'label':
      return record.label;
    case 'labeller':
      return record.labeller;
    case 'timestamp':
      return record.timestamp;
    case 'seconds':
      return record.seconds === undefined ? '' : record.seconds.toFixed(3);
    default:
      return record.extra?.[column] ?? '';
  }
}

/** A CSV field, quoted when it holds a comma, quote, line break or edge space (RFC 4180, what parseCsv reads). */
export function csvField(value: string): string {
  return /[",\r\n]|^\s|\s$/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

async function readLabels(file: string, wanted: readonly string[]): Promise<{ columns: string[]; records: Map<string, LabelRecord> }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { columns: [...wanted], records: new Map() };
    throw error;
  }
  const rows = parseCsv(text, file);
  const records = new Map<string, LabelRecord>();
  if (rows.length === 0) return { columns: [...wanted], records };
  const header = rows[0]!.fields.map((name) => name.trim().toLowerCase());
  if (!header.includes('path') || !header.includes('label')) {
    throw new LabelError(`${file} exists but is not a label file (its header needs path and label columns, found: ${header.join(', ')}); give another --out`);
  }
  const extras = header.filter((name) => name !== '' && !wanted.includes(name));
  for (const { fields } of rows.slice(1)) {
    const value = (name: string): string => {
      const i = header.indexOf(name);
      return i < 0 ? '' : (fields[i] ?? '').trim();
    };
    const key = value('path');
    const label = value('label');
    if (key === '' || label === '') continue;
    const seconds = Number.parseFloat(value('seconds'));
    const record: LabelRecord = { path: key, label, labeller: value('labeller'), timestamp: value('timestamp') };
    if (Number.isFinite(seconds)) record.seconds = seconds;
    if (extras.length > 0) record.extra = Object.fromEntries(extras.map((name) => [name, value(name)]));
    records.set(key, record);
  }
  return { columns: [...wanted, ...extras], records };
}

/**
 * Creates `<file>.lock` holding this pid. A lock whose process is gone (a crash, a kill -9) is
 * taken over; a live one is an error, since two processes saving whole files would each erase
 * the other's new labels.
 */
async function takeLock(file: string): Promise<string> {
  const lockFile = `${file}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(lockFile, 'wx');
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return lockFile;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const pid = Number.parseInt(await readFile(lockFile, 'utf8').catch(() => ''), 10);
    if (Number.isInteger(pid) && pid > 0 && isProcessAlive(pid)) {
      throw new LabelError(`${file} is in use by another labeller (process ${pid}); stop it, or remove ${lockFile} if that process is not a labeller`);
    }
    await rm(lockFile, { force: true });
  }
  throw new LabelError(`could not lock ${file}: another labeller took it at the same moment`);
}

/** Removes `.<name>.tmp-<pid>-<hex>` files (writeFileAtomic's temporaries) of writers that died mid-write. */
async function removeDeadTemps(file: string): Promise<void> {
  const dir = path.dirname(file);
  const prefix = `.${path.basename(file)}.tmp-`;
  for (const name of await readdir(dir)) {
    if (!name.startsWith(prefix)) continue;
    const match = /^(\d+)-[0-9a-f]{8}$/.exec(name.slice(prefix.length));
    if (match && !isProcessAlive(Number(match[1]))) await rm(path.join(dir, name), { force: true });
  }
}
