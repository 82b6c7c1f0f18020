import { PNG } from 'pngjs';
import { ArgumentError, ShapeError, formatShape } from '@cnn/tensor';

/** An 8-bit RGBA image, row-major, 4 bytes per pixel. */
export interface RgbaImage {
  rgba: Uint8Array;
  width: number;
  height: number;
}

/** Encodes 8-bit RGBA pixels (row-major, 4 bytes each) as a PNG file (pngjs, deflate, no interlace). */
export function encodePng(rgba: Uint8Array | Uint8ClampedArray, width: number, height: number): Uint8Array {
  checkSize('encodePng', width, height);
  if (rgba.length !== width * height * 4) throw new ShapeError(`encodePng: ${rgba.length} bytes for a ${width} x ${height} RGBA image, expected ${width * height * 4}`);
  const png = new PNG({ width, height });
  png.data = Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength);
  return toUint8(PNG.sync.write(png, { colorType: 6 }));
}

/** Encodes 8-bit grayscale pixels as a one-channel PNG (a quarter of the RGBA size before compression). */
export function encodeGrayPng(gray: Uint8Array, width: number, height: number): Uint8Array {
  checkSize('encodeGrayPng', width, height);
  if (gray.length !== width * height) throw new ShapeError(`encodeGrayPng: ${gray.length} bytes for a ${width} x ${height} grayscale image, expected ${width * height}`);
  const png = new PNG({ width, height, colorType: 0, inputColorType: 0, inputHasAlpha: false });
  png.data = Buffer.from(gray.buffer, gray.byteOffset, gray.byteLength);
  return toUint8(PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false }));
}

/** A `data:` URI for embedding PNG bytes in HTML (the report must open offline). */
export function pngDataUri(png: Uint8Array): string {
  return `data:image/png;base64,${Buffer.from(png.buffer, png.byteOffset, png.byteLength).toString('base64')}`;
}

export interface FilterGridOptions {
  /** Channel order of the weights: Caffe's ImageNet models are BGR and are shown as RGB. */
  channelOrder: 'BGR' | 'RGB';
  /** Integer upscaling of every weight to scale x scale pixels (nearest neighbour), 1 by default. */
  scale?: number;
  /** Pixels of background between tiles and around the grid, 1 by default. */
  padding?: number;
  /** Tiles per row; ceil(sqrt(O)) by default (a square grid, as Caffe's notebook). */
  columns?: number;
  /**
   * 'joint' (default, as Caffe's filter-visualisation notebook): one min-max over
   * all filters, so filters keep their relative strength and a weak filter looks
   * grey. 'perFilter': each filter stretched to the full range on its own.
   */
  normalize?: 'joint' | 'perFilter';
  /** Background grey level 0-255 of the padding, 255 (white) by default. */
  background?: number;
}

/**
 * The first convolutional layer's filters as an image grid (CaffeNet conv1:
 * 96 filters of 3 x 11 x 11). `weights` has shape [O, C, kh, kw], C = 3 (colour)
 * or 1 (grey). Each weight w maps to 255 (w - lo) / (hi - lo), rounded, with
 * lo, hi the minimum and maximum over all filters ('joint') or over that filter
 * ('perFilter'); a constant range maps to mid-grey 128.
 *
 * Filter f sits at column f mod columns, row floor(f / columns); its pixel
 * (ky, kx) covers the scale x scale block at
 *   x = padding + col (kw scale + padding) + kx scale,  y likewise with rows,
 * so width = columns (kw scale + padding) + padding.
 */
export function filterGrid(weights: Float32Array | Float64Array, shape: readonly [number, number, number, number], options: FilterGridOptions): RgbaImage {
  const [o, c, kh, kw] = shape;
  if (shape.some((s) => !Number.isInteger(s) || s < 1)) throw new ShapeError(`filterGrid: shape ${formatShape(shape)} is not [O, C, kh, kw] of positive sizes`);
  if (c !== 1 && c !== 3) throw new ShapeError(`filterGrid: filters of shape ${formatShape(shape)} have ${c} input channels; only 1 (grey) or 3 (colour) can be shown as images`);
  if (weights.length !== o * c * kh * kw) throw new ShapeError(`filterGrid: ${weights.length} weights for shape ${formatShape(shape)}, expected ${o * c * kh * kw}`);
  const scale = options.scale ?? 1;
  const padding = options.padding ?? 1;
  const columns = options.columns ?? Math.ceil(Math.sqrt(o));
  const background = options.background ?? 255;
  if (!Number.isInteger(scale) || scale < 1) throw new ArgumentError(`filterGrid: scale must be a positive integer, got ${scale}`);
  if (!Number.isInteger(padding) || padding < 0) throw new ArgumentError(`filterGrid: padding must be a non-negative integer, got ${padding}`);
  if (!Number.isInteger(columns) || columns < 1) throw new ArgumentError(`filterGrid: columns must be a positive integer, got ${columns}`);

  const rows = Math.ceil(o / columns);
  const tileW = kw * scale;
  const tileH = kh * scale;
  const width = columns * (tileW + padding) + padding;
  const height = rows * (tileH + padding) + padding;
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    rgba[4 * i] = rgba[4 * i + 1] = rgba[4 * i + 2] = background;
    rgba[4 * i + 3] = 255;
  }

  const filterSize = c * kh * kw;
  const range = (from: number, to: number): [number, number] => {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = from; i < to; i++) {
      lo = Math.min(lo, weights[i]!);
      hi = Math.max(hi, weights[i]!);
    }
    return [lo, hi];
  };
  const joint = options.normalize === 'perFilter' ? undefined : range(0, weights.length);
  // Display channel r, g, b reads stored channel order[r], ...: BGR storage puts red in channel 2.
  const order = c === 1 ? [0, 0, 0] : options.channelOrder === 'BGR' ? [2, 1, 0] : [0, 1, 2];

  for (let f = 0; f < o; f++) {
    const [lo, hi] = joint ?? range(f * filterSize, (f + 1) * filterSize);
    const toByte = (w: number): number => (hi > lo ? Math.round((255 * (w - lo)) / (hi - lo)) : 128);
    const x0 = padding + (f % columns) * (tileW + padding);
    const y0 = padding + Math.floor(f / columns) * (tileH + padding);
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++) {
        const rgb = order.map((ch) => toByte(weights[f * filterSize + ch * kh * kw + ky * kw + kx]!));
        for (let sy = 0; sy < scale; sy++) {
          for (let sx = 0; sx < scale; sx++) {
            const p = 4 * ((y0 + ky * scale + sy) * width + (x0 + kx * scale + sx));
            rgba[p] = rgb[0]!;
            rgba[p + 1] = rgb[1]!;
            rgba[p + 2] = rgb[2]!;
          }
        }
      }
    }
  }
  return { rgba, width, height };
}

export interface ThumbnailOptions {
  /** Longest side of the thumbnail in pixels (128 by default); smaller images are kept as they are. */
  maxSize?: number;
}

/**
 * Shrinks a grayscale image (values 0-255, any numeric array, row-major) so its
 * longer side is at most `maxSize`, by area averaging: each output pixel is the
 * mean of the input pixels its footprint covers, weighted by the covered
 * fraction, which avoids the aliasing of plain subsampling on speckled
 * ultrasound. Values are clamped to 0-255 and rounded.
 */
export function downsampleGray(gray: ArrayLike<number>, width: number, height: number, maxSize: number): { gray: Uint8Array; width: number; height: number } {
  checkSize('downsampleGray', width, height);
  if (gray.length !== width * height) throw new ShapeError(`downsampleGray: ${gray.length} values for a ${width} x ${height} image, expected ${width * height}`);
  const factor = Math.max(width, height) / maxSize;
  if (factor <= 1) return { gray: Uint8Array.from(gray, clampByte), width, height };
  const outW = Math.max(1, Math.round(width / factor));
  const outH = Math.max(1, Math.round(height / factor));
  const fx = width / outW;
  const fy = height / outH;
  const out = new Uint8Array(outW * outH);
  for (let oy = 0; oy < outH; oy++) {
    const y0 = oy * fy;
    const y1 = y0 + fy;
    for (let ox = 0; ox < outW; ox++) {
      const x0 = ox * fx;
      const x1 = x0 + fx;
      let sum = 0;
      let weight = 0;
      for (let y = Math.floor(y0); y < Math.min(height, Math.ceil(y1)); y++) {
        const wy = Math.min(y + 1, y1) - Math.max(y, y0);
        for (let x = Math.floor(x0); x < Math.min(width, Math.ceil(x1)); x++) {
          const w = wy * (Math.min(x + 1, x1) - Math.max(x, x0));
          sum += w * gray[y * width + x]!;
          weight += w;
        }
      }
      out[oy * outW + ox] = clampByte(sum / weight);
    }
  }
  return { gray: out, width: outW, height: outH };
}

/** A grayscale image as a small PNG `data:` URI for the misclassified gallery. */
export function galleryThumbnail(gray: ArrayLike<number>, width: number, height: number, options: ThumbnailOptions = {}): string {
  const small = downsampleGray(gray, width, height, options.maxSize ?? 128);
  return pngDataUri(encodeGrayPng(small.gray, small.width, small.height));
}

function clampByte(v: number): number {
  return Number.isNaN(v) ? 0 : Math.min(255, Math.max(0, Math.round(v)));
}

function checkSize(where: string, width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) throw new ArgumentError(`${where}: image size ${width} x ${height} is not two positive integers`);
}

function toUint8(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}
