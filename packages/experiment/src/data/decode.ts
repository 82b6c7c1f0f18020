import jpeg from 'jpeg-js';
import pngjs from 'pngjs';
import { decodeDicom } from './dicom.js';
import { DatasetError, messageOf } from './errors.js';
import { checkPixelLimit, DEFAULT_MAX_PIXELS } from './limits.js';
import { decodeSimplePng } from './png-fast.js';
import type { RasterImage } from './image.js';

/** The image formats the experiment reads. */
export type ImageFormat = 'png' | 'jpeg' | 'dicom';

/**
 * A decoded image (see RasterImage) and what the file said about it. Samples of 8 bits or fewer
 * (PNG up to 8-bit, JPEG) come as a Uint8Array, exactly and in a quarter of the memory; 16-bit
 * PNG and DICOM as a Float32Array, which keeps their fractions on the 0-255 scale.
 */
export interface DecodedImage extends RasterImage {
  format: ImageFormat;
  /**
   * True when the file stores colour channels (PNG RGB/RGBA/palette, a 3-component JPEG, RGB
   * DICOM). Many gray pictures are saved as RGB, so this does not mean the picture has colour:
   * colour.ts decides that from the pixels.
   */
  hasColourChannels: boolean;
  /** Facts worth a line in the report (e.g. "multi-frame DICOM: first frame used"). */
  notes: string[];
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Options of decodeImage. */
export interface DecodeOptions {
  /** The most pixels accepted (default DEFAULT_MAX_PIXELS), checked against the header before any allocation. */
  maxPixels?: number;
}

/**
 * The size a PNG or JPEG header declares, read without decoding (the PNG's IHDR chunk, the
 * JPEG's frame header); undefined for DICOM, whose header needs a parse.
 * @throws DatasetError when the header is missing or malformed
 */
export function declaredSize(bytes: Uint8Array, file: string): { width: number; height: number } | undefined {
  switch (detectFormat(bytes)) {
    case 'png': {
      // Signature (8 bytes), then the IHDR chunk: length (4), 'IHDR', width (4), height (4), ...
      if (bytes.length < 24 || ascii(bytes, 12, 4) !== 'IHDR') throw new DatasetError('corrupt PNG: no IHDR chunk after the signature', { file });
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      return { width: view.getUint32(16), height: view.getUint32(20) };
    }
    case 'jpeg': {
      const { width, height } = jpegFrame(bytes, file);
      return { width, height };
    }
    default:
      return undefined;
  }
}

/**
 * The format from the first bytes, never from the file name (DICOM files often have no extension,
 * and a `.png` may be anything): PNG signature `89 50 4E 47 0D 0A 1A 0A`, JPEG SOI + marker
 * `FF D8 FF`, DICOM Part 10 `DICM` at byte 128 (after the 128-byte preamble).
 * Needs at most the first 132 bytes; returns undefined for anything else.
 */
export function detectFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (bytes.length >= 8 && PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes.length >= 132 && ascii(bytes, 128, 4) === 'DICM') return 'dicom';
  return undefined;
}

/**
 * Decodes a PNG, JPEG or DICOM file into an HWC image on the 0-255 scale (see DecodedImage).
 *
 * - PNG (pngjs): every colour type (gray, gray+alpha, RGB, RGBA, palette) and bit depth
 *   (1/2/4/8/16); `v * 255 / (2^depth - 1)`, so 16-bit keeps its fractions. Alpha is dropped, not
 *   composited (but pngjs sets pixels matching a tRNS colour key to 0). Gray types give 1 channel,
 *   the others 3.
 * - JPEG (jpeg-js, baseline and progressive): 1 channel if the frame has one component, else RGB.
 * - DICOM (dicom-parser): see decodeDicom.
 *
 * Every format's declared size is checked against `options.maxPixels` before anything is
 * allocated (ImageTooLargeError).
 *
 * @param bytes the file's contents
 * @param file the name used in error messages
 * @throws DatasetError naming the file for an unknown format or a corrupt/unsupported file
 */
export function decodeImage(bytes: Uint8Array, file: string, options: DecodeOptions = {}): DecodedImage {
  const format = detectFormat(bytes);
  if (format === undefined) throw new DatasetError(describeUnknownFormat(bytes), { file });
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (format === 'dicom') return { ...decodeDicom(bytes, file, maxPixels), format: 'dicom' };
  const { width, height } = declaredSize(bytes, file)!;
  checkPixelLimit(file, width, height, maxPixels);
  return format === 'png' ? decodePng(bytes, file) : decodeJpeg(bytes, file, maxPixels);
}

function decodePng(bytes: Uint8Array, file: string): DecodedImage {
  // The common 8-bit kinds without pngjs's RGBA detour (png-fast.ts); anything else, or a damaged file, through pngjs.
  const simple = decodeSimplePng(bytes, file);
  if (simple) return { ...simple, format: 'png', hasColourChannels: simple.channels === 3, notes: [] };
  return decodePngWithPngjs(bytes, file);
}

/** The reference PNG decoder: every colour type, bit depth and interlacing, and pngjs's account of a damaged file. */
export function decodePngWithPngjs(bytes: Uint8Array, file: string): DecodedImage {
  let png: pngjs.PNGWithMetadata;
  try {
    // skipRescale: we scale 16-bit samples ourselves in float instead of pngjs's rounding to 8 bits.
    png = pngjs.PNG.sync.read(asBuffer(bytes), { skipRescale: true });
  } catch (err) {
    // pngjs reports a file that ends early as a stream oddity; say what it means.
    const message = messageOf(err).includes('waitng on finished stream') ? 'the file ends early (truncated)' : messageOf(err);
    throw new DatasetError(`corrupt PNG: ${message}`, { file }, { cause: err });
  }
  const { width, height, depth } = png;
  // @types/pngjs lists only the colour types pngjs writes; it reads palette images (3) too.
  const colorType: number = png.colorType;
  // pngjs hands back RGBA for every colour type; palette entries are already 8-bit colours.
  const rgba = png.data as unknown as ArrayLike<number>;
  const scale = colorType === 3 ? 1 : 255 / (2 ** depth - 1);
  const colour = (colorType & 2) !== 0;
  const channels = colour ? 3 : 1;
  // Depths up to 8 scale to whole numbers (255 / 1, / 3, / 15, / 255): bytes; 16-bit keeps fractions.
  const data = depth <= 8 ? new Uint8Array(width * height * channels) : new Float32Array(width * height * channels);
  for (let p = 0; p < width * height; p++) {
    for (let c = 0; c < channels; c++) data[p * channels + c] = rgba[p * 4 + c]! * scale;
  }
  return { width, height, channels, data, format: 'png', hasColourChannels: colour, notes: [] };
}

function decodeJpeg(bytes: Uint8Array, file: string, maxPixels: number): DecodedImage {
  const { components } = jpegFrame(bytes, file);
  let rgb: { width: number; height: number; data: Uint8Array };
  try {
    // Not tolerant: a truncated file must be reported, not decoded into a half-gray picture.
    // jpeg-js has its own limits (100 megapixels, 512 MB); ours, already checked, is the one that counts.
    rgb = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, tolerantDecoding: false, maxResolutionInMP: Math.max(100, maxPixels / 1e6), maxMemoryUsageInMB: Math.max(512, (maxPixels * 8) / 2 ** 20) });
  } catch (err) {
    throw new DatasetError(`corrupt JPEG: ${messageOf(err)}`, { file }, { cause: err });
  }
  const { width, height } = rgb;
  if (width === 0 || height === 0 || rgb.data.length !== width * height * 3) {
    throw new DatasetError(`corrupt JPEG: decoded ${width} x ${height} with ${rgb.data.length} bytes`, { file });
  }
  const channels = components === 1 ? 1 : 3;
  const data = new Float32Array(width * height * channels);
  // jpeg-js always returns RGB; a one-component frame has R = G = B, so keep one of them.
  for (let p = 0; p < width * height; p++) {
    for (let c = 0; c < channels; c++) data[p * channels + c] = rgb.data[p * 3 + c]!;
  }
  return { width, height, channels, data, format: 'jpeg', hasColourChannels: channels === 3, notes: [] };
}

/**
 * The JPEG frame header (SOFn: FFCn, length, precision, height, width, Nf): the declared size and
 * the number of components, found by walking the marker segments. Also rejects the coding modes
 * jpeg-js cannot read (lossless, hierarchical, arithmetic) with a message that says so.
 */
function jpegFrame(bytes: Uint8Array, file: string): { width: number; height: number; components: number } {
  let at = 2;
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) throw new DatasetError(`corrupt JPEG: no marker at byte ${at}`, { file });
    const marker = bytes[at + 1]!;
    if (marker === 0xff) {
      at += 1; // fill byte before a marker
      continue;
    }
    const length = (bytes[at + 2]! << 8) | bytes[at + 3]!;
    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isFrame) {
      if (marker > 0xc2) {
        throw new DatasetError(
          `unsupported JPEG coding (SOF${marker - 0xc0}: lossless, hierarchical or arithmetic); only baseline and progressive are read`,
          { file },
        );
      }
      if (at + 9 >= bytes.length) break;
      return { height: (bytes[at + 5]! << 8) | bytes[at + 6]!, width: (bytes[at + 7]! << 8) | bytes[at + 8]!, components: bytes[at + 9]! };
    }
    if (marker === 0xda || marker === 0xd9) break; // scan data or end of image before any frame header
    at += 2 + length;
  }
  throw new DatasetError('corrupt JPEG: no frame header (SOF) found', { file });
}

/** Why bytes that detectFormat does not recognise are not an image we read (names common look-alikes). */
export function describeUnknownFormat(bytes: Uint8Array): string {
  if (bytes.length === 0) return 'empty file';
  const head = ascii(bytes, 0, Math.min(bytes.length, 40));
  if (head.startsWith('version https://git-lfs')) return 'is a Git LFS pointer, not the image (run `git lfs pull`)';
  if (head.startsWith('GIF8')) return 'is a GIF; only PNG, JPEG and DICOM are read';
  if (head.startsWith('BM')) return 'looks like a BMP; only PNG, JPEG and DICOM are read';
  if (head.startsWith('II*\0') || head.startsWith('MM\0*')) return 'is a TIFF; only PNG, JPEG and DICOM are read';
  if (head.startsWith('RIFF') && ascii(bytes, 8, 4) === 'WEBP') return 'is a WebP; only PNG, JPEG and DICOM are read';
  const hex = Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
  return `not a PNG, JPEG or DICOM file (starts with ${hex}; a DICOM file needs 'DICM' at byte 128)`;
}

function ascii(bytes: Uint8Array, start: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(start, start + length));
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
