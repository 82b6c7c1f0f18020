import type { RasterImage } from './image.js';

/**
 * The colour rule. A pixel is "coloured" when its channels spread by more than `tolerance` on the
 * 0-255 scale: `max(R,G,B) - min(R,G,B) > tolerance`. An image "has colour" when the fraction of
 * coloured pixels exceeds `threshold`.
 *
 * Why these defaults: a gray picture saved as RGB or as a colour JPEG keeps R, G and B within a
 * few levels of each other (chroma noise of JPEG on gray content is a handful of levels), so a
 * tolerance of 24 ignores it; a colour Doppler box (saturated red/blue) or a yellow/green caliper
 * mark differs by 100 or more. A threshold of 0.2% (131 pixels of a 256 x 256 image) catches a
 * Doppler box (usually 5-30% of the image) and most coloured annotations, while a few stray
 * pixels (a tiny vendor logo, a dead pixel) do not exclude an image.
 */
export interface ColourRule {
  /** Largest channel spread still counted as gray, 0-255 scale. Default 24. */
  tolerance?: number;
  /** Fraction of coloured pixels above which the image has colour. Default 0.002. */
  threshold?: number;
}

export const DEFAULT_COLOUR_TOLERANCE = 24;
export const DEFAULT_COLOUR_THRESHOLD = 0.002;

/** The fraction (0-1) of pixels whose channel spread exceeds `tolerance`; 0 for a 1-channel image. */
export function colourFraction(image: RasterImage, tolerance = DEFAULT_COLOUR_TOLERANCE): number {
  if (image.channels === 1) return 0;
  const { data } = image;
  const count = image.width * image.height;
  let coloured = 0;
  for (let p = 0; p < count; p++) {
    const r = data[p * 3]!;
    const g = data[p * 3 + 1]!;
    const b = data[p * 3 + 2]!;
    if (Math.max(r, g, b) - Math.min(r, g, b) > tolerance) coloured++;
  }
  return count === 0 ? 0 : coloured / count;
}

/** True when the image carries colour by the rule in ColourRule. */
export function hasColour(image: RasterImage, rule: ColourRule = {}): boolean {
  const threshold = rule.threshold ?? DEFAULT_COLOUR_THRESHOLD;
  return colourFraction(image, rule.tolerance ?? DEFAULT_COLOUR_TOLERANCE) > threshold;
}
