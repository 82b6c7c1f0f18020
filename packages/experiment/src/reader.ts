import { readFileSync } from 'node:fs';
import { basename, isAbsolute, resolve } from 'node:path';
import { parseCsv, type DatasetItem } from './data/index.js';
import { ExperimentError } from './errors.js';

/** A second reader's labels matched to the test images. */
export interface ReaderLabels {
  /** Item index -> class index, for test images the reader labelled. */
  byItem: Map<number, number>;
  /** Rows that named no test image or an unknown class, as `line: path (why)`. */
  unmatched: string[];
}

/**
 * Reads a reader's CSV (`path,label` with a header; the labeller's own columns are
 * ignored) and matches each row to a test image by its path as the dataset names it,
 * by absolute path, or by file name when that is unambiguous. Labels are class names.
 *
 * @throws ExperimentError when the file cannot be read, has no path/label header, or labels no
 *   test image at all (the wrong file, or labels of another split)
 */
export function readReaderLabels(file: string, classes: readonly string[], items: readonly DatasetItem[], testIndices: readonly number[]): ReaderLabels {
  let records;
  try {
    records = parseCsv(readFileSync(file, 'utf8'), file);
  } catch (error) {
    throw new ExperimentError(`--reader-labels ${file}: ${(error as Error).message}`);
  }
  const byName = new Map<string, number>();
  const byBase = new Map<string, number[]>();
  for (const i of testIndices) {
    const item = items[i]!;
    byName.set(item.name, i);
    byName.set(item.path, i);
    byBase.set(basename(item.path), [...(byBase.get(basename(item.path)) ?? []), i]);
  }
  const header = records[0]?.fields.map((name) => name.trim().toLowerCase()) ?? [];
  const pathColumn = header.indexOf('path');
  const labelColumn = header.indexOf('label');
  if (pathColumn < 0 || labelColumn < 0) throw new ExperimentError(`--reader-labels ${file}: needs a header row with 'path' and 'label' columns, found: ${header.join(', ')}`);
  const result: ReaderLabels = { byItem: new Map(), unmatched: [] };
  for (const record of records.slice(1)) {
    const path = record.fields[pathColumn] ?? '';
    const label = record.fields[labelColumn] ?? '';
    const absolute = isAbsolute(path) ? path : resolve(path);
    const candidates = byBase.get(basename(path)) ?? [];
    const index = byName.get(path) ?? byName.get(absolute) ?? (candidates.length === 1 ? candidates[0] : undefined);
    const classIndex = classes.indexOf(label);
    if (index === undefined) result.unmatched.push(`${record.line}: ${path} (not a test image)`);
    else if (classIndex < 0) result.unmatched.push(`${record.line}: ${path} (unknown class '${label}')`);
    else result.byItem.set(index, classIndex);
  }
  if (result.byItem.size === 0) {
    const example = testIndices.length > 0 ? ` (test images are named like ${items[testIndices[0]!]!.name})` : '';
    throw new ExperimentError(
      `--reader-labels ${file}: none of its ${records.length - 1} row(s) labels a test image of this run with a known class${example}: ${result.unmatched.slice(0, 3).join('; ')}`,
    );
  }
  return result;
}
