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
  const show = (p: Problem): string => `- ${shownPath(dataset, p)}: ${p.reason}`;
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

/** A problem's path relative to the data folder (or the manifest's folder), as reports show it. */
function shownPath(dataset: Dataset, problem: Problem): string {
  const base = dataset.kind === 'csv' ? path.dirname(dataset.source) : dataset.source;
  return path.relative(base, problem.path) || problem.path;
}

/**
 * Everything a run left out of its data or has to say about it, gathered once so that the
 * console and the report show the same thing (see dataSummaryLines and the report's
 * `dataset.excluded` and `dataset.problems`).
 */
export interface DataSummary {
  /**
   * Every file or manifest row left out, with its reason: colour images and unreadable files
   * (from screening), then rows and files dropped while the data set was read.
   */
  excluded: Problem[];
  /** Things that need a look: studies under two labels, a class missing from a split, ... */
  warnings: string[];
  /** Choices explained: a manifest found in the folder, each image its own study, ... */
  notes: string[];
  /** How many of `excluded` each step left out. */
  counts: { colour: number; unreadable: number; dropped: number };
}

/**
 * Gathers the data summary of a run.
 * @param splitWarnings the warnings of splitByStudy
 * @param screened what prepareImages left out and noted
 */
export function summariseData(
  dataset: Dataset,
  splitWarnings: readonly string[],
  screened: { excluded: readonly Problem[]; problems: readonly Problem[]; notes: readonly string[] },
): DataSummary {
  return {
    excluded: [...screened.excluded, ...screened.problems, ...dataset.problems],
    warnings: [...dataset.warnings, ...splitWarnings],
    notes: [...dataset.notes, ...screened.notes],
    counts: { colour: screened.excluded.length, unreadable: screened.problems.length, dropped: dataset.problems.length },
  };
}

/**
 * The data summary as console lines: the count of what was left out and why (the first
 * `limit` with their reasons), then every warning and note, as the report lists them.
 */
export function dataSummaryLines(summary: DataSummary, dataset: Dataset, limit = 10): string[] {
  const lines: string[] = [];
  const { colour, unreadable, dropped } = summary.counts;
  if (summary.excluded.length > 0) {
    const parts = [
      dropped > 0 ? `${dropped} ${dataset.kind === 'csv' ? 'manifest row(s) or file(s)' : 'file(s)'} dropped while reading the data set` : '',
      unreadable > 0 ? `${unreadable} unreadable or too large` : '',
      colour > 0 ? `${colour} carrying colour` : '',
    ].filter(Boolean);
    lines.push(`left out: ${summary.excluded.length} (${parts.join(', ')}):`);
    for (const problem of summary.excluded.slice(0, limit)) lines.push(`  ${shownPath(dataset, problem)}: ${problem.reason}`);
    if (summary.excluded.length > limit) lines.push(`  and ${summary.excluded.length - limit} more (all listed in the report)`);
  }
  lines.push(...summary.warnings.map((warning) => `warning: ${warning}`), ...summary.notes.map((note) => `note: ${note}`));
  return lines;
}
