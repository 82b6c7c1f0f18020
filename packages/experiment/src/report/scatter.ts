import { ArgumentError } from '@cnn/tensor';
import { attrs, classStyle, marker, svgDocument, text, textWidth } from './svg.js';

export interface ScatterOptions {
  title?: string;
  /** Side of the square plot area in pixels (560 by default). */
  size?: number;
  /** Marker radius in pixels (2.5 by default; fine for a few thousand points). */
  radius?: number;
}

/**
 * A 2-D scatter plot of labelled points, e.g. a t-SNE map: `points` holds
 * (x, y) pairs interleaved, `labels[i]` the class of point i. Both axes share one
 * scale (t-SNE distances are meaningful, its axes are not, so no ticks are
 * drawn). Points are drawn in a fixed scrambled order so that no class is
 * painted wholly over another; the legend gives each class's colour, shape and count.
 */
export function scatterPlot(points: ArrayLike<number>, labels: ArrayLike<number>, classes: readonly string[], options: ScatterOptions = {}): string {
  const n = labels.length;
  if (points.length !== 2 * n) throw new ArgumentError(`scatterPlot: ${points.length} coordinates for ${n} labels, expected ${2 * n}`);
  for (let i = 0; i < n; i++) {
    const label = labels[i]!;
    if (!Number.isInteger(label) || label < 0 || label >= classes.length) throw new ArgumentError(`scatterPlot: label ${label} of point ${i} is not a class index in [0, ${classes.length})`);
  }
  const size = options.size ?? 560;
  const radius = options.radius ?? 2.5;
  const titleSpace = options.title ? 30 : 10;
  const pad = 12;
  const legendWidth = Math.max(...classes.map((c) => textWidth(c)), 30) + 70;
  const width = size + legendWidth + 20;
  const height = titleSpace + Math.max(size, classes.length * 18 + 20) + 10;

  let xMin = Infinity;
  let xMax = -Infinity;
  let yMin = Infinity;
  let yMax = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = points[2 * i]!;
    const y = points[2 * i + 1]!;
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    xMin = Math.min(xMin, x);
    xMax = Math.max(xMax, x);
    yMin = Math.min(yMin, y);
    yMax = Math.max(yMax, y);
  }
  const span = Math.max(xMax - xMin, yMax - yMin, 1e-12);
  const scale = Number.isFinite(span) ? (size - 2 * pad) / span : 1;
  // Centre the data's bounding box in the square so the shorter axis is not squashed.
  const ox = 10 + pad + (size - 2 * pad - (xMax - xMin) * scale) / 2;
  const oy = titleSpace + pad + (size - 2 * pad - (yMax - yMin) * scale) / 2;

  let body = options.title ? text(width / 2, 20, options.title, { 'text-anchor': 'middle', 'font-size': 15, 'font-weight': 'bold' }) : '';
  body += `<rect${attrs({ x: 10, y: titleSpace, width: size, height: size, fill: 'none', stroke: '#cccccc' })}/>`;
  body += '<g fill-opacity="0.8">';
  for (const i of scrambledOrder(n)) {
    const x = points[2 * i]!;
    const y = points[2 * i + 1]!;
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    const style = classStyle(labels[i]!);
    // y grows downwards in SVG; flip so the map reads like a plot.
    body += marker(style.shape, ox + (x - xMin) * scale, oy + (yMax - y) * scale, radius, style.color);
  }
  body += '</g>';

  const counts = new Array<number>(classes.length).fill(0);
  for (let i = 0; i < n; i++) counts[labels[i]!]!++;
  const lx = size + 30;
  classes.forEach((name, k) => {
    const y = titleSpace + 16 + k * 18;
    const style = classStyle(k);
    body += marker(style.shape, lx + 6, y - 4, 5, style.color);
    body += text(lx + 18, y, `${name} (${counts[k]})`);
  });
  return svgDocument(width, height, body, { title: options.title ?? 'Scatter plot', description: `${n} points in ${classes.length} classes` });
}

/** A fixed permutation of 0..n-1 that interleaves the input order (sorted by a multiplicative hash). */
function scrambledOrder(n: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  const key = (i: number): number => Math.imul(i + 1, 0x9e3779b1) >>> 0;
  return order.sort((a, b) => key(a) - key(b));
}
