import { crc32, inflateSync } from 'node:zlib';
import { DatasetError } from './errors.js';
import type { RasterImage } from './image.js';

/*
 * A fast path for the PNGs ultrasound data sets hold: 8-bit gray, gray + alpha, RGB or RGBA, not
 * interlaced, without a transparency chunk. pngjs, the reference decoder (decode.ts), unfilters
 * every row in JavaScript, expands it to RGBA and then decode.ts keeps the channels it needs:
 * about 1.7 ms for a 256 x 256 gray image on one core, a quarter of the shipped MobileNet's
 * forward pass per image. Here Node's zlib checks the chunks' CRCs and inflates the stream, and
 * each row is unfiltered in place and copied once into the image's bytes: 0.5 ms.
 *
 * Only well-formed files take this path: any other kind of PNG, and any file with a bad CRC,
 * a stream that does not inflate, or inflates to more than the rows the header declares, an
 * unknown critical chunk or no IEND, gets `undefined`, and pngjs then decodes it or says what is
 * wrong with it, as before. One damage is refused here instead: a stream that inflates to fewer
 * rows than declared, which pngjs would fill from memory it never cleared (a different picture
 * on each read). decode.test.ts checks both decoders give the same floats.
 */

/** Bytes per pixel of the 8-bit colour types this path reads: gray, RGB, gray + alpha, RGBA. */
const BYTES_PER_PIXEL: Readonly<Record<number, number>> = { 0: 1, 2: 3, 4: 2, 6: 4 };

/**
 * The image of an 8-bit, non-interlaced gray, gray + alpha, RGB or RGBA PNG without tRNS, as
 * decodeImage returns it (alpha dropped; gray types 1 channel, the others 3; values 0-255), or
 * `undefined` for any other file (see above). The caller has checked the signature and the size limit.
 * @throws DatasetError naming `file` when its rows are cut short
 */
export function decodeSimplePng(bytes: Uint8Array, file: string): (RasterImage & { data: Uint8Array }) | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let header: { width: number; height: number; bpp: number } | undefined;
  const idat: Uint8Array[] = [];
  for (let at = 8; at + 12 <= bytes.length; ) {
    const length = view.getUint32(at);
    const end = at + 12 + length;
    if (end > bytes.length || view.getUint32(end - 4) !== crc32(bytes.subarray(at + 4, end - 4))) return undefined;
    const type = String.fromCharCode(bytes[at + 4]!, bytes[at + 5]!, bytes[at + 6]!, bytes[at + 7]!);
    const data = bytes.subarray(at + 8, end - 4);
    if (header === undefined) {
      // IHDR: width, height, bit depth, colour type, compression, filter, interlace.
      if (type !== 'IHDR' || length !== 13) return undefined;
      const [depth, colourType, compression, filter, interlace] = data.subarray(8, 13);
      const bpp = BYTES_PER_PIXEL[colourType!];
      if (depth !== 8 || bpp === undefined || compression !== 0 || filter !== 0 || interlace !== 0) return undefined;
      header = { width: view.getUint32(at + 8), height: view.getUint32(at + 12), bpp };
      if (header.width === 0 || header.height === 0) return undefined;
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      return idat.length > 0 ? unfilter(idat, header.width, header.height, header.bpp, file) : undefined;
    } else if (type === 'tRNS' || (bytes[at + 4]! & 0x20) === 0) {
      // A transparency key (pngjs zeroes the pixels it matches) or a critical chunk (PLTE, an unknown one).
      return undefined;
    }
    at = end;
  }
  return undefined;
}

/** Inflates the IDAT chunks and undoes each row's filter (PNG specification, section 9), into an image of bytes. */
function unfilter(idat: Uint8Array[], width: number, height: number, bpp: number, file: string): (RasterImage & { data: Uint8Array }) | undefined {
  const stride = width * bpp;
  const expected = height * (stride + 1);
  let raw: Uint8Array;
  try {
    // maxOutputLength: a stream longer than the declared rows fails here instead of filling memory.
    raw = inflateSync(idat.length === 1 ? idat[0]! : Buffer.concat(idat), { maxOutputLength: expected });
  } catch {
    return undefined;
  }
  if (raw.length < expected) {
    const rows = Math.floor(raw.length / (stride + 1));
    throw new DatasetError(`corrupt PNG: its image data holds ${rows} of the ${height} rows its header declares (${raw.length} of ${expected} bytes)`, { file });
  }
  const channels = bpp >= 3 ? 3 : 1;
  const data = new Uint8Array(width * height * channels);
  // One call per row: a loop over the whole image in one function would be compiled mid-loop
  // (on-stack replacement) and thrown away at its exit, on every image.
  for (let y = 0; y < height; y++) {
    const row = y * (stride + 1) + 1;
    if (!unfilterRow(raw, row, y, stride, bpp)) return undefined;
    copyRow(raw, row, data, y * width * channels, width, bpp, channels);
  }
  return { width, height, channels, data };
}

/**
 * Undoes the filter of the row of `stride` bytes at `raw[row]`, in place (its filter type is
 * the byte before it; PNG specification, section 9), the row above it being unfiltered already
 * (none above row 0: zeros). False for an unknown filter type.
 */
function unfilterRow(raw: Uint8Array, row: number, y: number, stride: number, bpp: number): boolean {
  const filter = raw[row - 1]!;
  const up = row - (stride + 1);
  if (filter === 1 || (filter === 4 && y === 0)) {
    // Sub; and Paeth with the row above all zeros, which picks the left byte.
    for (let i = bpp; i < stride; i++) raw[row + i] = raw[row + i]! + raw[row + i - bpp]!;
  } else if (filter === 2 && y > 0) {
    for (let i = 0; i < stride; i++) raw[row + i] = raw[row + i]! + raw[up + i]!;
  } else if (filter === 3) {
    for (let i = 0; i < stride; i++) {
      const left = i >= bpp ? raw[row + i - bpp]! : 0;
      const above = y > 0 ? raw[up + i]! : 0;
      raw[row + i] = raw[row + i]! + ((left + above) >> 1);
    }
  } else if (filter === 4) {
    // The first pixel has no left neighbour: the predictor is the byte above.
    for (let i = 0; i < bpp; i++) raw[row + i] = raw[row + i]! + raw[up + i]!;
    if (bpp === 1) {
      // Gray: the left and upper-left bytes are carried in registers, not reloaded just after their store.
      let a = raw[row]!;
      let c = raw[up]!;
      for (let i = 1; i < stride; i++) {
        const b = raw[up + i]!;
        a = (raw[row + i]! + paeth(a, b, c)) & 0xff;
        raw[row + i] = a;
        c = b;
      }
    } else {
      for (let i = bpp; i < stride; i++) raw[row + i] = raw[row + i]! + paeth(raw[row + i - bpp]!, raw[up + i]!, raw[up + i - bpp]!);
    }
  } else if (filter > 4) {
    return false;
  }
  return true;
}

/**
 * The Paeth predictor of a byte from its left (a), upper (b) and upper-left (c) neighbours:
 * whichever is nearest p = a + b - c, ties going to a, then b. Written without branches (the
 * choice is data-dependent, so branches would be mispredicted about half the time): with
 * p - a = b - c and p - b = a - c, p - c is their sum, and `x >> 31` is all ones for x < 0.
 */
export function paeth(a: number, b: number, c: number): number {
  const toA = b - c;
  const toB = a - c;
  const toC = toA + toB;
  const pa = (toA ^ (toA >> 31)) - (toA >> 31);
  const pb = (toB ^ (toB >> 31)) - (toB >> 31);
  const pc = (toC ^ (toC >> 31)) - (toC >> 31);
  const pickA = ~((pb - pa) >> 31) & ~((pc - pa) >> 31);
  const pickB = ~pickA & ~((pc - pb) >> 31);
  return (a & pickA) | (b & pickB) | (c & ~(pickA | pickB));
}

/** Copies an unfiltered row into the image at `data[out]`: gray (the first byte of a gray + alpha pixel) or R, G, B; alpha dropped. */
function copyRow(raw: Uint8Array, row: number, data: Uint8Array, out: number, width: number, bpp: number, channels: 1 | 3): void {
  if (bpp === channels) {
    data.set(raw.subarray(row, row + width * bpp), out);
  } else if (channels === 1) {
    for (let x = 0; x < width; x++) data[out + x] = raw[row + x * bpp]!;
  } else {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) data[out + x * 3 + c] = raw[row + x * bpp + c]!;
    }
  }
}
