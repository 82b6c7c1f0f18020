import { SaliencyError } from './errors.js';

/** A map of one value per pixel, row-major (Grad-CAM and occlusion maps, in [0, 1]). */
export interface SaliencyMap {
  values: Float32Array;
  width: number;
  height: number;
}

/**
 * `map` resampled to `width x height` by bilinear interpolation between pixel centres (the
 * centre of output pixel x sits at input coordinate (x + 0.5) * w / width - 0.5, clamped at
 * the borders), so a coarse 5 x 5 map spreads smoothly over a 160 x 160 image.
 */
export function resizeMap(map: SaliencyMap, width: number, height: number): SaliencyMap {
  const values = new Float32Array(width * height);
  const source = (at: number, size: number, target: number): [number, number, number] => {
    const x = Math.min(size - 1, Math.max(0, ((at + 0.5) * size) / target - 0.5));
    const x0 = Math.floor(x);
    return [x0, Math.min(size - 1, x0 + 1), x - x0];
  };
  for (let y = 0; y < height; y++) {
    const [y0, y1, fy] = source(y, map.height, height);
    for (let x = 0; x < width; x++) {
      const [x0, x1, fx] = source(x, map.width, width);
      const at = (row: number, column: number) => map.values[row * map.width + column]!;
      const top = at(y0, x0) * (1 - fx) + at(y0, x1) * fx;
      const bottom = at(y1, x0) * (1 - fx) + at(y1, x1) * fx;
      values[y * width + x] = top * (1 - fy) + bottom * fy;
    }
  }
  return { values, width, height };
}

/** Pearson's correlation of two maps of one size (the agreement of two saliency methods). */
export function mapCorrelation(a: SaliencyMap, b: SaliencyMap): number {
  if (a.values.length !== b.values.length) throw new SaliencyError(`mapCorrelation: maps of ${a.width} x ${a.height} and ${b.width} x ${b.height}`);
  const n = a.values.length;
  let meanA = 0;
  let meanB = 0;
  for (let i = 0; i < n; i++) {
    meanA += a.values[i]! / n;
    meanB += b.values[i]! / n;
  }
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < n; i++) {
    const da = a.values[i]! - meanA;
    const db = b.values[i]! - meanB;
    ab += da * db;
    aa += da * da;
    bb += db * db;
  }
  return aa === 0 || bb === 0 ? 0 : ab / Math.sqrt(aa * bb);
}
