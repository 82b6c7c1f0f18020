import { randomBytes } from 'node:crypto';
import { lstat, mkdir, open, readdir, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ArgumentError } from '@cnn/tensor';
import { isProcessAlive } from '../process-alive.js';
import type { Report } from './types.js';

/** File contents: all at once, or chunks from a producer that may fail midway. */
export type FileData = string | Uint8Array | Iterable<string | Uint8Array> | AsyncIterable<string | Uint8Array>;

/**
 * Replaces `path` with `data` so that a reader (or a crash) only ever sees the
 * old file or the complete new one: the data goes to a temporary file in the
 * same folder (a rename is atomic only within one file system), is fsynced so
 * it is on disk before it gets the name, and is renamed over `path`; then the
 * folder is fsynced so the rename itself survives a power cut. On any error the
 * temporary file is removed and `path` is untouched.
 */
export async function writeFileAtomic(path: string, data: FileData): Promise<void> {
  const temp = await writeTemp(path, data);
  try {
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  await syncDirectory(dirname(path));
}

export interface ReportFiles {
  /** The report object, or its JSON text. Written as `report.json`. */
  reportJson: Report | string;
  /** Written as `report.html`. */
  html: string;
  /** Further files by plain file name (no folders), e.g. `{ 'confusion.svg': svg, 'conv1.png': png }`. */
  figures?: Record<string, FileData>;
}

/** Lists the files the last `writeReport` wrote, so the next one can remove figures it no longer produces. */
const MANIFEST = '.report-files.json';

/**
 * Writes a report into `outDir` so that a crash never leaves a half-written
 * report and the previous complete report stays until the new one is complete:
 *
 * 1. every file is first written in full to a temporary file beside its target
 *    and fsynced (the slow part, and the part that fails on a full disk or a
 *    failing producer); on any failure all temporaries are removed and no old
 *    file has been touched;
 * 2. then the temporaries are renamed over their targets, figures first,
 *    `report.html` next and `report.json` last, so report.json, the file
 *    scripts read, only changes once everything it describes is in place;
 * 3. figure files that the previous report wrote and this one does not are
 *    removed, so a stale figure (say a Venn diagram from an earlier run with a
 *    reader) cannot pass for this run's.
 *
 * Returns the paths written, in the order they were committed.
 */
export async function writeReport(outDir: string, files: ReportFiles): Promise<string[]> {
  const figures = files.figures ?? {};
  for (const name of Object.keys(figures)) {
    if (!isPlainName(name) || name === 'report.json' || name === 'report.html' || name === MANIFEST) {
      throw new ArgumentError(`writeReport: figure name ${JSON.stringify(name)} must be a plain file name other than report.json and report.html`);
    }
  }
  await mkdir(outDir, { recursive: true });
  await removeStaleTemps(outDir);

  const json = typeof files.reportJson === 'string' ? files.reportJson : `${JSON.stringify(files.reportJson, null, 2)}\n`;
  const entries: [string, FileData][] = [...Object.entries(figures), ['report.html', files.html], ['report.json', json]];
  const previous = await readManifest(outDir);

  const staged: [temp: string, target: string][] = [];
  try {
    for (const [name, data] of entries) {
      const target = join(outDir, name);
      await assertNotDirectory(target);
      staged.push([await writeTemp(target, data), target]);
    }
    for (let i = 0; i < staged.length; i++) {
      const [temp, target] = staged[i]!;
      await rename(temp, target);
      staged[i]![0] = '';
    }
  } catch (error) {
    await Promise.all(staged.map(([temp]) => (temp ? rm(temp, { force: true }) : undefined)));
    throw error;
  }
  await syncDirectory(outDir);

  const names = Object.keys(figures);
  for (const old of previous) {
    if (!names.includes(old) && isPlainName(old)) await rm(join(outDir, old), { force: true });
  }
  await writeFileAtomic(join(outDir, MANIFEST), `${JSON.stringify(names)}\n`);
  return staged.map(([, target]) => target);
}

async function writeTemp(path: string, data: FileData): Promise<string> {
  const temp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  // 'wx': never follow or reuse an existing file under the temporary name.
  const handle = await open(temp, 'wx', 0o644);
  try {
    if (typeof data === 'string' || data instanceof Uint8Array) await writeAll(handle, data);
    else for await (const chunk of data) await writeAll(handle, chunk);
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  return temp;
}

/** Writes every byte of `chunk` at the current position (a single write may be short). */
async function writeAll(handle: FileHandle, chunk: string | Uint8Array): Promise<void> {
  const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
  let done = 0;
  while (done < bytes.byteLength) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.byteLength - done);
    done += bytesWritten;
  }
}

/** fsync a folder so a rename in it is durable; where folders cannot be opened (Windows) there is nothing to do. */
async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EBADF') throw error;
  } finally {
    await handle?.close();
  }
}

async function assertNotDirectory(target: string): Promise<void> {
  const stats = await lstat(target).catch(() => undefined);
  if (stats?.isDirectory()) throw new ArgumentError(`writeReport: cannot write ${target}: a folder has that name`);
}

/** Removes temporaries left by a writer that crashed (its process is gone); a live writer's are kept. */
async function removeStaleTemps(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    const match = /^\..+\.tmp-(\d+)-[0-9a-f]{8}$/.exec(name);
    if (match && !isProcessAlive(Number(match[1]))) await rm(join(dir, name), { force: true });
  }
}

async function readManifest(dir: string): Promise<string[]> {
  try {
    const parsed: unknown = JSON.parse(await readFile(join(dir, MANIFEST), 'utf8'));
    return Array.isArray(parsed) ? parsed.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

function isPlainName(name: string): boolean {
  return name.length > 0 && name !== '.' && name !== '..' && !/[\\/\u0000]/.test(name);
}
