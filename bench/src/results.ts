import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describeMachine } from './machine.js';

/** bench/RESULTS.md, found from src/ or dist/ alike. */
export const resultsPath = fileURLToPath(new URL('../RESULTS.md', import.meta.url));

const header = '# Benchmark results\n\nWritten by `npm run bench` (benchmark.js). Each suite replaces only its own section.\n';

/** A markdown table from a header row and data rows. */
export function markdownTable(columns: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(columns), line(columns.map(() => '---')), ...rows.map(line)].join('\n');
}

/**
 * Replaces (or appends) the section of one suite in bench/RESULTS.md, stamped with
 * the machine, and writes the file atomically (temporary file, then rename).
 */
export function writeSection(suite: string, title: string, body: string): void {
  let text = header;
  try {
    text = readFileSync(resultsPath, 'utf8');
  } catch {
    // First run: start from the header.
  }
  const begin = `<!-- suite:${suite} -->`;
  const end = `<!-- /suite:${suite} -->`;
  const section = `${begin}\n## ${title}\n\nMachine: ${describeMachine()}.\n\n${body.trim()}\n${end}`;
  const start = text.indexOf(begin);
  const stop = text.indexOf(end);
  text = start >= 0 && stop > start ? text.slice(0, start) + section + text.slice(stop + end.length) : `${text.trimEnd()}\n\n${section}\n`;
  const temporary = `${resultsPath}.${process.pid}.tmp`;
  writeFileSync(temporary, text);
  renameSync(temporary, resultsPath);
}
