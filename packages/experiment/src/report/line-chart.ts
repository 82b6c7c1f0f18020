import type { TrainingCurves } from './types.js';
import { attrs, formatTick, niceTicks, num, PALETTE, svgDocument, text, textWidth } from './svg.js';

export interface Series {
  name: string;
  x: readonly number[];
  y: readonly number[];
  color?: string;
  strokeWidth?: number;
  opacity?: number;
  /** Draw a dot at every point (for sparse series such as validation checks). */
  markers?: boolean;
  /** An interval around the line (e.g. a 95% confidence band), drawn as a translucent area. */
  band?: { low: readonly number[]; high: readonly number[] };
}

export interface Panel {
  title?: string;
  yLabel: string;
  series: Series[];
  /** Fixed y range; by default it is fitted to the data. */
  yMin?: number;
  yMax?: number;
  /** 'percent' labels y ticks as 0-100 % for values given as fractions. */
  yFormat?: 'number' | 'percent';
}

export interface LineChartOptions {
  title?: string;
  xLabel: string;
  width?: number;
  panelHeight?: number;
  /** Named x positions (a category axis, e.g. 2, 4, 8, all), used instead of numeric ticks. */
  xCategories?: readonly string[];
}

const MARGIN = { left: 64, right: 20, top: 30, bottom: 44 };
const PANEL_GAP = 24;

/**
 * Panels of line series stacked vertically over one shared x range (e.g. training
 * loss on top, validation accuracy below), each with its own y axis, ticks,
 * label and legend. Non-finite y values (a diverged loss) break the line instead
 * of bending it to the edge.
 */
export function lineChart(panels: readonly Panel[], options: LineChartOptions): string {
  const width = options.width ?? 720;
  const panelHeight = options.panelHeight ?? 220;
  const titleSpace = options.title ? 26 : 0;
  const height = titleSpace + panels.length * (MARGIN.top + panelHeight + MARGIN.bottom) + Math.max(0, panels.length - 1) * PANEL_GAP;
  const plotWidth = width - MARGIN.left - MARGIN.right;

  let xMin = Infinity;
  let xMax = -Infinity;
  for (const panel of panels) {
    for (const s of panel.series) {
      for (let i = 0; i < s.x.length; i++) {
        if (!Number.isFinite(s.x[i]!) || !Number.isFinite(s.y[i]!)) continue;
        xMin = Math.min(xMin, s.x[i]!);
        xMax = Math.max(xMax, s.x[i]!);
      }
    }
  }
  // A category axis puts category i at x = i, half a step in from each edge.
  const xTicks = options.xCategories ? { min: -0.5, max: options.xCategories.length - 0.5, step: 1, values: options.xCategories.map((_, i) => i) } : niceTicks(xMin, xMax, 8);

  let body = options.title ? text(width / 2, 18, options.title, { 'text-anchor': 'middle', 'font-size': 15, 'font-weight': 'bold' }) : '';
  panels.forEach((panel, p) => {
    const top = titleSpace + p * (MARGIN.top + panelHeight + MARGIN.bottom + PANEL_GAP) + MARGIN.top;
    body += renderPanel(panel, p, { left: MARGIN.left, top, width: plotWidth, height: panelHeight }, xTicks, options.xLabel, options.xCategories);
  });
  return svgDocument(width, height, body, { title: options.title ?? panels.map((p) => p.title ?? p.yLabel).join(', ') });
}

interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

function renderPanel(panel: Panel, index: number, box: Box, xTicks: ReturnType<typeof niceTicks>, xLabel: string, categories?: readonly string[]): string {
  let yLo = Infinity;
  let yHi = -Infinity;
  for (const s of panel.series) {
    for (const v of [...s.y, ...(s.band?.low ?? []), ...(s.band?.high ?? [])]) {
      if (!Number.isFinite(v)) continue;
      yLo = Math.min(yLo, v);
      yHi = Math.max(yHi, v);
    }
  }
  const yTicks = niceTicks(panel.yMin ?? yLo, panel.yMax ?? yHi, 5);
  if (panel.yMin !== undefined) yTicks.min = panel.yMin;
  if (panel.yMax !== undefined) yTicks.max = panel.yMax;
  yTicks.values = yTicks.values.filter((v) => v >= yTicks.min - 1e-12 && v <= yTicks.max + 1e-12);
  const sx = (x: number): number => box.left + ((x - xTicks.min) / (xTicks.max - xTicks.min)) * box.width;
  const sy = (y: number): number => box.top + box.height - ((y - yTicks.min) / (yTicks.max - yTicks.min)) * box.height;
  const percent = panel.yFormat === 'percent';

  let out = `<g${attrs({ class: `panel panel-${index}` })}>`;
  if (panel.title) out += text(box.left, box.top - 10, panel.title, { 'font-size': 13, 'font-weight': 'bold' });
  out += `<rect${attrs({ x: box.left, y: box.top, width: box.width, height: box.height, fill: 'none', stroke: '#999999' })}/>`;

  for (const v of yTicks.values) {
    const y = sy(v);
    out += `<line${attrs({ x1: box.left, x2: box.left + box.width, y1: y, y2: y, stroke: '#e5e5e5' })}/>`;
    const label = percent ? `${formatTick(v * 100, yTicks.step * 100)}%` : formatTick(v, yTicks.step);
    out += text(box.left - 6, y + 4, label, { 'text-anchor': 'end', fill: '#333333' });
  }
  for (const v of xTicks.values) {
    const x = sx(v);
    out += `<line${attrs({ x1: x, x2: x, y1: box.top + box.height, y2: box.top + box.height + 5, stroke: '#666666' })}/>`;
    out += text(x, box.top + box.height + 18, categories?.[v] ?? formatTick(v, xTicks.step), { 'text-anchor': 'middle', fill: '#333333' });
  }
  out += text(box.left + box.width / 2, box.top + box.height + 36, xLabel, { 'text-anchor': 'middle' });
  const yMid = box.top + box.height / 2;
  out += text(16, yMid, panel.yLabel, { 'text-anchor': 'middle', transform: `rotate(-90 16 ${num(yMid)})` });

  const drawn = panel.series.filter((s) => s.y.some((v) => Number.isFinite(v)));
  if (drawn.length === 0) {
    out += text(box.left + box.width / 2, yMid, 'no data', { 'text-anchor': 'middle', fill: '#999999' });
  }
  panel.series.forEach((s, k) => {
    const color = s.color ?? PALETTE[k % PALETTE.length]!;
    if (s.band) {
      const at = (i: number, y: number) => `${num(sx(s.x[i]!))} ${num(sy(clamp(y, yTicks.min, yTicks.max)))}`;
      const upper = s.x.map((_, i) => at(i, s.band!.high[i]!));
      const lower = s.x.map((_, i) => at(i, s.band!.low[i]!)).reverse();
      out += `<path${attrs({ d: `M${[...upper, ...lower].join('L')}Z`, fill: color, 'fill-opacity': 0.15, stroke: 'none' })}/>`;
    }
    let d = '';
    let penDown = false;
    for (let i = 0; i < s.x.length; i++) {
      const x = s.x[i]!;
      const y = s.y[i]!;
      if (!Number.isFinite(x) || !Number.isFinite(y)) {
        penDown = false;
        continue;
      }
      d += `${penDown ? 'L' : 'M'}${num(sx(x))} ${num(sy(clamp(y, yTicks.min, yTicks.max)))}`;
      penDown = true;
    }
    if (d) out += `<path${attrs({ d, fill: 'none', stroke: color, 'stroke-width': s.strokeWidth ?? 1.5, 'stroke-opacity': s.opacity, 'stroke-linejoin': 'round' })}/>`;
    if (s.markers) {
      for (let i = 0; i < s.x.length; i++) {
        if (!Number.isFinite(s.x[i]!) || !Number.isFinite(s.y[i]!)) continue;
        out += `<circle${attrs({ cx: sx(s.x[i]!), cy: sy(clamp(s.y[i]!, yTicks.min, yTicks.max)), r: 3, fill: color })}/>`;
      }
    }
  });

  // Legend in the top-right corner of the plot area.
  const legendWidth = Math.max(...panel.series.map((s) => textWidth(s.name)), 0) + 34;
  let ly = box.top + 16;
  const lx = box.left + box.width - legendWidth - 8;
  if (panel.series.length > 0) {
    out += `<rect${attrs({ x: lx - 6, y: box.top + 4, width: legendWidth + 8, height: panel.series.length * 18 + 6, fill: '#ffffff', 'fill-opacity': 0.85, stroke: '#cccccc' })}/>`;
  }
  panel.series.forEach((s, k) => {
    const color = s.color ?? PALETTE[k % PALETTE.length]!;
    out += `<line${attrs({ x1: lx, x2: lx + 22, y1: ly - 4, y2: ly - 4, stroke: color, 'stroke-width': 2.5 })}/>`;
    out += text(lx + 28, ly, s.name);
    ly += 18;
  });
  return `${out}</g>`;
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

/**
 * Moving average over a trailing window of `window` finite values; the first
 * points average what is there so far. Smooths the per-iteration loss, which is
 * noisy because every iteration sees a different batch.
 */
export function movingAverage(values: readonly number[], window: number): number[] {
  const out: number[] = [];
  const kept: number[] = [];
  let sum = 0;
  for (const v of values) {
    if (!Number.isFinite(v)) {
      out.push(Number.NaN);
      continue;
    }
    kept.push(v);
    sum += v;
    if (kept.length > window) sum -= kept[kept.length - 1 - window]!;
    out.push(sum / Math.min(kept.length, window));
  }
  return out;
}

/**
 * The study's training figure: average training loss per iteration (raw and
 * smoothed) over validation accuracy at the check intervals, sharing the
 * iteration axis.
 */
export function trainingCurvesChart(training: TrainingCurves, options: { title?: string; width?: number } = {}): string {
  const iterations = training.loss.map((_, i) => i);
  const window = Math.max(1, Math.round(training.loss.length / 50));
  const lossSeries: Series[] = [{ name: 'loss per iteration', x: iterations, y: training.loss, color: '#9ecae1', strokeWidth: 1 }];
  if (window > 1) lossSeries.push({ name: `moving average (${window})`, x: iterations, y: movingAverage(training.loss, window), color: '#08519c', strokeWidth: 2 });
  return lineChart(
    [
      { title: 'Training loss', yLabel: 'loss', series: lossSeries, yMin: 0 },
      {
        title: 'Validation accuracy',
        yLabel: 'accuracy',
        yFormat: 'percent',
        yMin: 0,
        yMax: 1,
        series: [{ name: 'validation accuracy', x: training.validation.map((v) => v.iter), y: training.validation.map((v) => v.accuracy), color: '#d62728', strokeWidth: 2, markers: true }],
      },
    ],
    { xLabel: 'iteration', width: options.width ?? 720, ...(options.title === undefined ? {} : { title: options.title }) },
  );
}

