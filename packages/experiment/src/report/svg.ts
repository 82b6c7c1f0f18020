/**
 * Small helpers for hand-written SVG: escaping, number formatting, axis ticks,
 * colours. Charts build their markup from these as plain strings, so the output
 * is a standalone SVG document that needs no script, font file or network.
 */

/** The SVG namespace; an inline <svg> in HTML does not need it, a .svg file does. */
export const SVG_NS = 'http://www.w3.org/2000/svg';

/** Font stack used by every chart (system fonts only: nothing is fetched). */
export const FONT_FAMILY = 'system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif';

/**
 * Escapes text for XML character data and attribute values (& < > " '), and drops
 * the control characters XML 1.0 forbids outright, so any file name or class
 * name from the user's data yields well-formed markup.
 */
export function escapeXml(text: string): string {
  return text
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** A coordinate with at most two decimals (sub-pixel precision is invisible and bloats the file). */
export function num(value: number): string {
  const rounded = Math.round(value * 100) / 100;
  return Object.is(rounded, -0) ? '0' : String(rounded);
}

/** Attributes from a record, values escaped; `undefined` values are left out. */
export function attrs(values: Record<string, string | number | undefined>): string {
  let out = '';
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) continue;
    out += ` ${key}="${escapeXml(typeof value === 'number' ? num(value) : value)}"`;
  }
  return out;
}

/** A `<text>` element; `content` is escaped. */
export function text(x: number, y: number, content: string, extra: Record<string, string | number | undefined> = {}): string {
  return `<text${attrs({ x, y, ...extra })}>${escapeXml(content)}</text>`;
}

export interface SvgDocumentOptions {
  /** Accessible name of the figure (becomes the <title> child). */
  title?: string;
  /** Longer description for screen readers. */
  description?: string;
}

/** Wraps chart markup into a standalone SVG document of the given size. */
export function svgDocument(width: number, height: number, body: string, options: SvgDocumentOptions = {}): string {
  const title = options.title ? `<title>${escapeXml(options.title)}</title>` : '';
  const desc = options.description ? `<desc>${escapeXml(options.description)}</desc>` : '';
  return (
    `<svg xmlns="${SVG_NS}"${attrs({ width, height, viewBox: `0 0 ${num(width)} ${num(height)}`, 'font-family': FONT_FAMILY, 'font-size': 12, role: 'img' })}>` +
    `${title}${desc}<rect width="100%" height="100%" fill="#ffffff"/>${body}</svg>`
  );
}

/** An axis range and its tick values. */
export interface Ticks {
  min: number;
  max: number;
  step: number;
  values: number[];
}

/**
 * "Nice" ticks covering [min, max]: the step is 1, 2 or 5 times a power of ten,
 * chosen so there are at most about `count` intervals, and the range is widened
 * to whole steps. A zero-width range is widened so the axis still has ticks.
 */
export function niceTicks(min: number, max: number, count = 5): Ticks {
  if (!Number.isFinite(min) || !Number.isFinite(max)) {
    min = 0;
    max = 1;
  }
  if (max < min) [min, max] = [max, min];
  if (max === min) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    min -= pad;
    max += pad;
  }
  const raw = (max - min) / Math.max(1, count);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const fraction = raw / magnitude;
  const step = (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * magnitude;
  const lo = Math.floor(min / step + 1e-9) * step;
  const hi = Math.ceil(max / step - 1e-9) * step;
  const values: number[] = [];
  for (let k = 0; lo + k * step <= hi + step * 1e-9; k++) values.push(roundTo(lo + k * step, step));
  return { min: lo, max: hi, step, values };
}

/** A tick label with as many decimals as the step needs (0.25 -> "0.25", 200 -> "200"). */
export function formatTick(value: number, step: number): string {
  const decimals = Math.max(0, Math.min(10, -Math.floor(Math.log10(step) + 1e-9)));
  return value.toFixed(decimals);
}

function roundTo(value: number, step: number): number {
  const decimals = Math.max(0, -Math.floor(Math.log10(step)) + 2);
  return Number(value.toFixed(Math.min(decimals, 15)));
}

/**
 * A categorical palette of 20 colours: the ten of d3's category10 (Tableau's
 * classic set) followed by ten darker or lighter ones that stay distinct from
 * them. Beyond 20 classes `classStyle` also changes the marker shape.
 */
export const PALETTE: readonly string[] = [
  '#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf',
  '#393b79', '#e7ba52', '#637939', '#843c39', '#f7b6d2', '#9edae5', '#c49c94', '#98df8a', '#aec7e8', '#000000',
];

export type MarkerShape = 'circle' | 'square' | 'triangle';

/** Colour and marker shape of class `k`: colours cycle through the palette, the shape changes each cycle. */
export function classStyle(k: number): { color: string; shape: MarkerShape } {
  const shapes: MarkerShape[] = ['circle', 'square', 'triangle'];
  return { color: PALETTE[k % PALETTE.length]!, shape: shapes[Math.floor(k / PALETTE.length) % shapes.length]! };
}

/** A marker of about radius `r` centred on (x, y). */
export function marker(shape: MarkerShape, x: number, y: number, r: number, fill: string, extra = ''): string {
  if (shape === 'square') return `<rect${attrs({ x: x - r, y: y - r, width: 2 * r, height: 2 * r, fill })}${extra}/>`;
  if (shape === 'triangle') {
    const h = r * 1.2;
    return `<path${attrs({ d: `M${num(x)} ${num(y - h)}L${num(x + h)} ${num(y + h * 0.8)}L${num(x - h)} ${num(y + h * 0.8)}Z`, fill })}${extra}/>`;
  }
  return `<circle${attrs({ cx: x, cy: y, r, fill })}${extra}/>`;
}

/**
 * A sequential white-to-dark-blue ramp for t in [0, 1] (stops after ColorBrewer's
 * "Blues"), linear in RGB between stops.
 */
export function blueRamp(t: number): string {
  const stops = [
    [247, 251, 255],
    [198, 219, 239],
    [107, 174, 214],
    [33, 113, 181],
    [8, 48, 107],
  ] as const;
  const clamped = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0));
  const pos = clamped * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(pos));
  const f = pos - i;
  const hex = (a: number, b: number): string => Math.round(a + (b - a) * f).toString(16).padStart(2, '0');
  const lo = stops[i]!;
  const hi = stops[i + 1]!;
  return `#${hex(lo[0], hi[0])}${hex(lo[1], hi[1])}${hex(lo[2], hi[2])}`;
}

/** Rough width in pixels of `text` at `fontSize` (average glyph ~0.58 em): enough to size margins without a font. */
export function textWidth(text: string, fontSize = 12): number {
  return text.length * fontSize * 0.58;
}
