import type { RasterImage } from '../data/index.js';
import { encodePng, type RgbaImage } from '../report/index.js';
import { resizeMap, type SaliencyMap } from './map.js';

/** Colour stops of the heat ramp (black-red-yellow-white, readable over gray ultrasound). */
const RAMP: readonly [number, number, number, number][] = [
  [0, 0, 0, 0],
  [0.35, 180, 20, 30],
  [0.7, 250, 160, 20],
  [1, 255, 255, 200],
];

/** The heat colour of t in [0, 1], interpolated between the ramp's stops. */
export function heatColour(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, t));
  let k = 1;
  while (k < RAMP.length - 1 && RAMP[k]![0] < x) k++;
  const [t0, r0, g0, b0] = RAMP[k - 1]!;
  const [t1, r1, g1, b1] = RAMP[k]!;
  const f = (x - t0) / (t1 - t0);
  return [r0 + f * (r1 - r0), g0 + f * (g1 - g0), b0 + f * (b1 - b0)];
}

/**
 * The image with a saliency map laid over it: each pixel blends the image (gray shown as
 * gray) with the heat colour of the map, by an opacity that grows with the map's value
 * (`opacity` at 1, none at 0), so unimportant regions show the image untouched. The map is
 * resampled to the image's size.
 */
export function overlaySaliency(image: RasterImage, map: SaliencyMap, opacity = 0.6): RgbaImage {
  const { width, height, channels, data } = image;
  const heat = map.width === width && map.height === height ? map : resizeMap(map, width, height);
  const rgba = new Uint8Array(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    const t = heat.values[p]!;
    const alpha = opacity * t;
    const colour = heatColour(t);
    for (let c = 0; c < 3; c++) {
      const pixel = data[p * channels + (channels === 3 ? c : 0)]!;
      rgba[p * 4 + c] = Math.round((1 - alpha) * pixel + alpha * colour[c]!);
    }
    rgba[p * 4 + 3] = 255;
  }
  return { rgba, width, height };
}

/** `overlaySaliency` encoded as PNG bytes. */
export function saliencyPng(image: RasterImage, map: SaliencyMap, opacity = 0.6): Uint8Array {
  const overlay = overlaySaliency(image, map, opacity);
  return encodePng(overlay.rgba, overlay.width, overlay.height);
}
