import type { LabelRecord } from '@cnn/experiment/label';

/** Row `i` of the kill test's label file: a long path, so one file is many megabytes and a write takes a while. */
export function storeRow(i: number, label: string): LabelRecord {
  return { path: `study-${String(i % 997).padStart(4, '0')}/some/long/folder/name/for/the/test/image-${String(i).padStart(7, '0')}.png`, label, labeller: 'writer', timestamp: '2020-01-01T00:00:00.000Z' };
}

/** The complete file the store writes when every one of `rows` rows carries `label`. */
export function expectedFile(rows: number, label: string): string {
  const lines = ['path,label,labeller,timestamp'];
  for (let i = 0; i < rows; i++) {
    const r = storeRow(i, label);
    lines.push(`${r.path},${r.label},${r.labeller},${r.timestamp}`);
  }
  return `${lines.join('\n')}\n`;
}
