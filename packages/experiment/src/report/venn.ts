import { ArgumentError } from '@cnn/tensor';
import { attrs, svgDocument, text } from './svg.js';

/** The four cells of a two-reader comparison. */
export interface VennCounts {
  bothRight: number;
  networkOnly: number;
  readerOnly: number;
  neither: number;
}

export interface VennOptions {
  title?: string;
}

/**
 * Area of the lens where two circles of radii r1, r2 with centres d apart overlap:
 *
 *   A = r1^2 acos((d^2 + r1^2 - r2^2) / (2 d r1)) + r2^2 acos((d^2 + r2^2 - r1^2) / (2 d r2))
 *       - 1/2 sqrt((-d + r1 + r2)(d + r1 - r2)(d - r1 + r2)(d + r1 + r2))
 *
 * with A = pi min(r1, r2)^2 when one circle lies inside the other and 0 when they are apart.
 */
export function lensArea(r1: number, r2: number, d: number): number {
  if (d >= r1 + r2) return 0;
  if (d <= Math.abs(r1 - r2)) return Math.PI * Math.min(r1, r2) ** 2;
  const a1 = Math.acos(clampUnit((d * d + r1 * r1 - r2 * r2) / (2 * d * r1)));
  const a2 = Math.acos(clampUnit((d * d + r2 * r2 - r1 * r1) / (2 * d * r2)));
  const k = (-d + r1 + r2) * (d + r1 - r2) * (d - r1 + r2) * (d + r1 + r2);
  return r1 * r1 * a1 + r2 * r2 * a2 - 0.5 * Math.sqrt(Math.max(0, k));
}

/** The centre distance whose lens has the given area (bisection: the area falls as d grows). */
export function distanceForOverlap(r1: number, r2: number, area: number): number {
  let lo = Math.abs(r1 - r2);
  let hi = r1 + r2;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (lensArea(r1, r2, mid) > area) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/**
 * Two-set Venn diagram of correctly classified cases: the left circle holds the
 * cases `labels[0]` (the network) got right, the right circle those `labels[1]`
 * (the reader) got right; the overlap holds cases both got right and the box
 * outside the circles those neither got right. Circle and overlap areas are
 * proportional to the counts where that leaves every region readable; otherwise
 * the overlap is widened to fit its number (the counts, not the areas, are the data).
 */
export function vennDiagram(counts: VennCounts, labels: readonly [string, string], options: VennOptions = {}): string {
  for (const [key, value] of Object.entries(counts)) {
    if (!Number.isInteger(value) || value < 0) throw new ArgumentError(`vennDiagram: ${key} must be a count, got ${value}`);
  }
  const width = 560;
  const titleSpace = options.title ? 30 : 0;
  const height = titleSpace + 330;
  const left = counts.bothRight + counts.networkOnly;
  const right = counts.bothRight + counts.readerOnly;
  const total = left + counts.readerOnly + counts.neither;

  // The larger circle gets radius 110 px; areas scale with the counts, with a floor so an empty set still shows.
  const maxR = 110;
  const unit = Math.max(left, right, 1);
  const r1 = Math.max(18, maxR * Math.sqrt(left / unit));
  const r2 = Math.max(18, maxR * Math.sqrt(right / unit));
  let d: number;
  if (counts.bothRight === 0) {
    d = r1 + r2 + 24;
  } else {
    const overlapArea = Math.PI * maxR * maxR * (counts.bothRight / unit);
    d = distanceForOverlap(r1, r2, overlapArea);
    // Keep at least 40 px of lens for the overlap count, and at least 40 px of each crescent that has cases.
    d = Math.min(d, r1 + r2 - 40);
    if (counts.networkOnly > 0) d = Math.max(d, r2 - r1 + 40);
    if (counts.readerOnly > 0) d = Math.max(d, r1 - r2 + 40);
  }
  const cy = titleSpace + 50 + maxR + 10;
  const cx1 = (width - d - r1 - r2) / 2 + r1;
  const cx2 = cx1 + d;

  let body = options.title ? text(width / 2, 20, options.title, { 'text-anchor': 'middle', 'font-size': 15, 'font-weight': 'bold' }) : '';
  body += `<rect${attrs({ x: 8, y: titleSpace + 8, width: width - 16, height: height - titleSpace - 16, fill: '#fafafa', stroke: '#bbbbbb' })}/>`;
  body += `<circle${attrs({ cx: cx1, cy, r: r1, fill: '#1f77b4', 'fill-opacity': 0.35, stroke: '#1f77b4', 'stroke-width': 2 })}/>`;
  body += `<circle${attrs({ cx: cx2, cy, r: r2, fill: '#ff7f0e', 'fill-opacity': 0.35, stroke: '#ff7f0e', 'stroke-width': 2 })}/>`;

  const percent = (v: number): string => (total > 0 ? ` (${((v / total) * 100).toFixed(1)}%)` : '');
  body += text(cx1, titleSpace + 34, `${labels[0]} right: ${left}${percent(left)}`, { 'text-anchor': 'middle', 'font-weight': 'bold', fill: '#1f4e79' });
  body += text(cx2, titleSpace + 52, `${labels[1]} right: ${right}${percent(right)}`, { 'text-anchor': 'middle', 'font-weight': 'bold', fill: '#a0522d' });

  // Region centres along the centre line: each between the two circle edges that bound it.
  const lensLeft = Math.max(cx2 - r2, cx1 - r1);
  const lensRight = Math.min(cx1 + r1, cx2 + r2);
  const big = { 'text-anchor': 'middle', 'font-size': 18, 'font-weight': 'bold' };
  body += text(((cx1 - r1) + lensLeft) / 2, cy + 6, String(counts.networkOnly), { ...big, class: 'network-only' });
  body += text(counts.bothRight === 0 ? (cx1 + r1 + cx2 - r2) / 2 : (lensLeft + lensRight) / 2, cy + 6, String(counts.bothRight), { ...big, class: 'both-right' });
  body += text((lensRight + (cx2 + r2)) / 2, cy + 6, String(counts.readerOnly), { ...big, class: 'reader-only' });
  body += text(width - 20, height - 20, `neither right: ${counts.neither}${percent(counts.neither)}`, { 'text-anchor': 'end', class: 'neither' });
  body += text(20, height - 20, `n = ${total}`, { fill: '#555555' });
  return svgDocument(width, height, body, {
    title: options.title ?? `Correct cases: ${labels[0]} vs ${labels[1]}`,
    description: `both right ${counts.bothRight}, ${labels[0]} only ${counts.networkOnly}, ${labels[1]} only ${counts.readerOnly}, neither ${counts.neither}`,
  });
}

function clampUnit(v: number): number {
  return Math.min(1, Math.max(-1, v));
}
