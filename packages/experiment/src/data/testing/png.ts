import { deflateSync } from 'node:zlib';

/** A PNG described sample by sample, for tests of the decoder (any colour type and bit depth). */
export interface RawPng {
  width: number;
  height: number;
  /** 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA. */
  colorType: 0 | 2 | 3 | 4 | 6;
  depth: 1 | 2 | 4 | 8 | 16;
  /** Row-major samples, `channels` per pixel (palette: one index per pixel). */
  samples: readonly number[];
  /** Palette entries [r, g, b] for colour type 3. */
  palette?: readonly (readonly [number, number, number])[];
}

const CHANNELS = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 } as const;

/**
 * Writes a PNG by hand (signature, IHDR, PLTE, one IDAT with filter 0 rows, IEND), independent of
 * pngjs, whose encoder cannot write palettes or bit depths below 8.
 */
export function writePng(png: RawPng): Buffer {
  const channels = CHANNELS[png.colorType];
  const bitsPerRow = png.width * channels * png.depth;
  const rowBytes = Math.ceil(bitsPerRow / 8);
  const raw = Buffer.alloc((rowBytes + 1) * png.height);
  for (let y = 0; y < png.height; y++) {
    const rowStart = y * (rowBytes + 1) + 1; // byte 0 of a row is its filter type (0 = none)
    for (let i = 0; i < png.width * channels; i++) {
      const v = png.samples[y * png.width * channels + i]!;
      if (png.depth === 16) raw.writeUInt16BE(v, rowStart + i * 2);
      else {
        const bit = i * png.depth;
        raw[rowStart + (bit >> 3)]! |= v << (8 - png.depth - (bit & 7));
      }
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(png.width, 0);
  ihdr.writeUInt32BE(png.height, 4);
  ihdr[8] = png.depth;
  ihdr[9] = png.colorType;
  const chunks = [chunk('IHDR', ihdr)];
  if (png.palette) chunks.push(chunk('PLTE', Buffer.from(png.palette.flat())));
  chunks.push(chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0)));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), ...chunks]);
}

/** One PNG chunk: length, type, data and the CRC over type and data. */
export function chunk(type: string, data: Buffer): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** CRC-32 (ISO 3309), as PNG chunks carry over type and data. */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * A decompression bomb: a valid 8-bit gray PNG of `width` x `height` black pixels. Its rows of
 * zeros deflate about 1000 to 1, so 8000 x 8000 (64 megapixels) takes some 64 KB on disk.
 */
export function pngBomb(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 0;
  const rows = deflateSync(Buffer.alloc((width + 1) * height), { level: 9 });
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', ihdr), chunk('IDAT', rows), chunk('IEND', Buffer.alloc(0))]);
}
