/**
 * A decoded or preprocessed picture: `height x width x channels`, interleaved (HWC), row 0 at the
 * top, values on the 0-255 scale. Filters produce Float32Array (averaged pixels keep their
 * fractions), decoders Uint8Array for 8-bit sources and Float32Array for deeper ones; stored
 * copies use Uint8Array, and every reader here accepts both.
 *
 * Index of channel c of pixel (y, x): `(y * width + x) * channels + c`.
 */
export interface RasterImage {
  width: number;
  height: number;
  /** 1 = gray, 3 = RGB (in that order). Alpha is never kept. */
  channels: 1 | 3;
  data: Float32Array | Uint8Array;
}

/** A RasterImage whose pixels are floats (what every decoder and filter returns). */
export interface FloatImage extends RasterImage {
  data: Float32Array;
}

/** An empty float image of the given size. */
export function createImage(width: number, height: number, channels: 1 | 3): FloatImage {
  return { width, height, channels, data: new Float32Array(width * height * channels) };
}

/**
 * Rounds to 8 bits (clamped to 0-255): the form a preprocessed image would have if saved as PNG.
 * An image in bytes already is returned as it is, its pixels shared.
 */
export function toUint8Image(image: RasterImage): RasterImage & { data: Uint8Array } {
  if (image.data instanceof Uint8Array) return { width: image.width, height: image.height, channels: image.channels, data: image.data };
  const data = new Uint8Array(image.data.length);
  const values = image.data;
  // NaN goes to 0, as Math.round would give NaN and the array stores that as 0.
  for (let i = 0; i < data.length; i++) {
    const v = values[i]!;
    data[i] = v >= 255 ? 255 : v > 0 ? Math.round(v) : 0;
  }
  return { width: image.width, height: image.height, channels: image.channels, data };
}
