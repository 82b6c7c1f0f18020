import { DatasetError } from './errors.js';

/**
 * The most pixels (width x height) a decoder accepts by default: 50 megapixels, a 7071 x 7071
 * picture, whose float copy takes 600 MB with 3 channels. Ultrasound frames are well under 1
 * megapixel; a file declaring more is a mistake or a decompression bomb (a 388 KB PNG can declare
 * 20000 x 20000 pixels and make a decoder allocate gigabytes).
 */
export const DEFAULT_MAX_PIXELS = 50_000_000;

/** A file whose header declares more pixels than the limit (see DEFAULT_MAX_PIXELS). */
export class ImageTooLargeError extends DatasetError {
  constructor(file: string, width: number, height: number, maxPixels: number) {
    super(
      `declares ${width} x ${height} pixels (${megapixels(width * height)} megapixels), more than the limit of ` +
        `${megapixels(maxPixels)} megapixels; a larger limit can be set with --max-megapixels`,
      { file },
    );
  }
}

/** Refuses a declared size above the limit; called by every decoder before it allocates. */
export function checkPixelLimit(file: string, width: number, height: number, maxPixels = DEFAULT_MAX_PIXELS): void {
  if (width * height > maxPixels) throw new ImageTooLargeError(file, width, height, maxPixels);
}

function megapixels(pixels: number): string {
  return String(Number((pixels / 1e6).toPrecision(3)));
}

/** The pixel limit a `--max-megapixels` option sets (the default when it is not given). */
export function pixelLimit(megapixels: number | undefined): number {
  return megapixels === undefined ? DEFAULT_MAX_PIXELS : Math.round(megapixels * 1e6);
}
