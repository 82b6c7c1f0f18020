import { ArgumentError } from '@cnn/tensor';
import { attrs, blueRamp, escapeXml, num, svgDocument, text, textWidth } from './svg.js';

export interface HeatmapOptions {
  title?: string;
  /** Side of one cell in pixels (36 by default). */
  cell?: number;
}

/**
 * The confusion matrix as a heatmap: rows are true classes, columns predicted
 * classes, each cell shows its count. The colour is the row-normalised value
 * C[t][p] / sum_p C[t][p] (the share of class t's images sent to p, so the
 * diagonal reads as recall), which keeps small classes as visible as large ones;
 * an empty row stays white. Column labels are rotated 45 degrees so long class
 * names fit; each cell carries a tooltip with the names and the row share.
 */
export function confusionHeatmap(confusion: readonly (readonly number[])[], classes: readonly string[], options: HeatmapOptions = {}): string {
  const k = classes.length;
  if (confusion.length !== k || confusion.some((row) => row.length !== k)) {
    throw new ArgumentError(`confusionHeatmap: the confusion matrix must be ${k} x ${k} for ${k} classes, got ${confusion.length} rows of lengths ${confusion.map((r) => r.length).join(',')}`);
  }
  const cell = options.cell ?? 36;
  const longest = Math.max(...classes.map((c) => textWidth(c)), 20);
  const titleSpace = options.title ? 30 : 8;
  const left = longest + 44;
  const top = titleSpace;
  const grid = cell * k;
  // A column label is anchored at its end and rotated by -45 degrees, so it hangs down and to the left by its length / sqrt(2).
  const bottom = longest / Math.SQRT2 + 50;
  const width = left + grid + 20;
  const height = top + grid + bottom;

  let body = options.title ? text(width / 2, 20, options.title, { 'text-anchor': 'middle', 'font-size': 15, 'font-weight': 'bold' }) : '';
  const fontSize = cell >= 30 ? 11 : 9;
  for (let t = 0; t < k; t++) {
    const row = confusion[t]!;
    const rowSum = row.reduce((a, b) => a + b, 0);
    for (let p = 0; p < k; p++) {
      const count = row[p]!;
      const share = rowSum > 0 ? count / rowSum : 0;
      const x = left + p * cell;
      const y = top + t * cell;
      const tip = `true ${classes[t]}, predicted ${classes[p]}: ${count}${rowSum > 0 ? ` (${(share * 100).toFixed(1)}% of the row)` : ''}`;
      body += `<g><title>${escapeXml(tip)}</title><rect${attrs({ x, y, width: cell, height: cell, fill: blueRamp(share), stroke: t === p ? '#333333' : '#ffffff', 'stroke-width': t === p ? 1.5 : 1 })}/>`;
      body += `${text(x + cell / 2, y + cell / 2 + fontSize * 0.35, String(count), { 'text-anchor': 'middle', 'font-size': fontSize, fill: share > 0.5 ? '#ffffff' : '#222222' })}</g>`;
    }
    body += text(left - 6, top + t * cell + cell / 2 + 4, classes[t]!, { 'text-anchor': 'end' });
  }
  for (let p = 0; p < k; p++) {
    const x = left + p * cell + cell / 2;
    const y = top + grid + 10;
    body += text(x, y, classes[p]!, { 'text-anchor': 'end', transform: `rotate(-45 ${num(x)} ${num(y)})` });
  }
  body += text(left + grid / 2, height - 10, 'predicted class', { 'text-anchor': 'middle', 'font-weight': 'bold' });
  const midY = top + grid / 2;
  body += text(14, midY, 'true class', { 'text-anchor': 'middle', 'font-weight': 'bold', transform: `rotate(-90 14 ${num(midY)})` });
  return svgDocument(width, height, body, { title: options.title ?? 'Confusion matrix (rows = true class)' });
}

