import path from 'node:path';
import type { Dataset, Problem } from './dataset.js';
import { splitTableMarkdown, type SplitTable } from './split.js';

/** What the data section of a run's report shows. */
export interface DataReport {
  dataset: Dataset;
  table: SplitTable;
  /** Warnings of the split (and any others to show). */
  warnings?: readonly string[];
  /** From prepareImages. */
  excluded?: readonly Problem[];
  problems?: readonly Problem[];
  notes?: readonly string[];
}

/**
 * The data section in Markdown: source, the per-class split table, then every warning, note,
 * excluded image and skipped file with its reason (paths relative to the data folder), so a
 * reader can check what the numbers rest on.
 */
export function dataReportMarkdown(report: DataReport): string {
  const { dataset } = report;
  const base = dataset.kind === 'csv' ? path.dirname(dataset.source) : dataset.source;
  const show = (p: Problem): string => `- ${path.relative(base, p.path) || p.path}: ${p.reason}`;
  const lines = [
    `Data: ${dataset.source} (${dataset.kind === 'csv' ? 'CSV manifest' : 'class folders'}), ${dataset.classes.length} classes.`,
    '',
    splitTableMarkdown(report.table),
  ];
  const section = (title: string, entries: readonly string[]): void => {
    if (entries.length > 0) lines.push('', `${title} (${entries.length}):`, ...entries);
  };
  section('Warnings', [...dataset.warnings, ...(report.warnings ?? [])].map((w) => `- ${w}`));
  section('Notes', [...dataset.notes, ...(report.notes ?? [])].map((n) => `- ${n}`));
  section('Excluded images', (report.excluded ?? []).map(show));
  section('Skipped files', [...dataset.problems, ...(report.problems ?? [])].map(show));
  return lines.join('\n');
}
