import jpeg from 'jpeg-js';
import pngjs from 'pngjs';
import { describe, expect, it } from 'vitest';
import { colourFraction } from './colour.js';
import { decodeImage, decodePngWithPngjs, detectFormat } from './decode.js';
import { decodeSimplePng, paeth } from './png-fast.js';
import { ImageTooLargeError } from './limits.js';
import { DatasetError } from './errors.js';
import { DEFLATED_LE, EXPLICIT_BE, EXPLICIT_LE, IMPLICIT_LE, writeDicom, type DicomSpec } from './testing/dicom.js';
import { chunk, pngBomb, writePng } from './testing/png.js';

/** RGBA samples of a w x h test pattern with distinct channels and a varying alpha, values 0..max. */
function pattern(w: number, h: number, max: number): number[] {
  const out: number[] = [];
  for (let p = 0; p < w * h; p++) {
    out.push((p * 37) % (max + 1), (p * 101 + 7) % (max + 1), (p * 13 + 200) % (max + 1), (p * 59) % (max + 1));
  }
  return out;
}

/** Encodes with pngjs (from RGBA input); alpha is kept in the file only for colour types 4 and 6. */
function encodeWithPngjs(w: number, h: number, rgba: number[], colorType: 0 | 2 | 4 | 6, bitDepth: 8 | 16): Buffer {
  const options = { width: w, height: h, colorType, bitDepth, inputColorType: 6 as const, inputHasAlpha: true };
  const png = new pngjs.PNG(options);
  png.data = bitDepth === 16 ? Buffer.from(Uint16Array.from(rgba).buffer) : Buffer.from(rgba);
  return pngjs.PNG.sync.write(png, options);
}

describe('PNG', () => {
  const w = 5;
  const h = 3;

  for (const bitDepth of [8, 16] as const) {
    const max = 2 ** bitDepth - 1;
    // Inputs with full alpha for the types without alpha, so pngjs does not composite them onto white.
    const rgba = pattern(w, h, max);
    const opaque = rgba.map((v, i) => (i % 4 === 3 ? max : v));
    const gray = opaque.map((v, i) => (i % 4 === 3 ? max : opaque[i - (i % 4)]!)); // R = G = B

    it(`${bitDepth}-bit gray (type 0) -> 1 channel, v * 255 / ${max}`, () => {
      const img = decodeImage(encodeWithPngjs(w, h, gray, 0, bitDepth), 'g.png');
      expect([img.width, img.height, img.channels, img.hasColourChannels]).toEqual([w, h, 1, false]);
      for (let p = 0; p < w * h; p++) expect(img.data[p]).toBeCloseTo((gray[p * 4]! * 255) / max, 4);
    });

    it(`${bitDepth}-bit gray+alpha (type 4) -> 1 channel, alpha dropped`, () => {
      const withAlpha = gray.map((v, i) => (i % 4 === 3 ? rgba[i]! : v));
      const img = decodeImage(encodeWithPngjs(w, h, withAlpha, 4, bitDepth), 'ga.png');
      expect(img.channels).toBe(1);
      for (let p = 0; p < w * h; p++) expect(img.data[p]).toBeCloseTo((gray[p * 4]! * 255) / max, 4);
    });

    it(`${bitDepth}-bit RGB (type 2) -> 3 channels`, () => {
      const img = decodeImage(encodeWithPngjs(w, h, opaque, 2, bitDepth), 'rgb.png');
      expect([img.channels, img.hasColourChannels]).toEqual([3, true]);
      for (let p = 0; p < w * h; p++) {
        for (let c = 0; c < 3; c++) expect(img.data[p * 3 + c]).toBeCloseTo((opaque[p * 4 + c]! * 255) / max, 4);
      }
    });

    it(`${bitDepth}-bit RGBA (type 6) -> 3 channels, alpha dropped not composited`, () => {
      const img = decodeImage(encodeWithPngjs(w, h, rgba, 6, bitDepth), 'rgba.png');
      expect(img.channels).toBe(3);
      for (let p = 0; p < w * h; p++) {
        for (let c = 0; c < 3; c++) expect(img.data[p * 3 + c]).toBeCloseTo((rgba[p * 4 + c]! * 255) / max, 4);
      }
    });
  }

  it('16-bit keeps the fraction: 1000 -> 1000 * 255 / 65535 = 3.8911', () => {
    const img = decodeImage(writePng({ width: 1, height: 1, colorType: 0, depth: 16, samples: [1000] }), 'x.png');
    expect(img.data[0]).toBeCloseTo(3.89105, 4);
  });

  for (const depth of [1, 2, 4] as const) {
    it(`${depth}-bit gray (hand-written) scales by 255 / ${2 ** depth - 1}`, () => {
      const max = 2 ** depth - 1;
      const samples = [0, max, 1 % (max + 1), max >> 1, max, 0, max, 1];
      const img = decodeImage(writePng({ width: 4, height: 2, colorType: 0, depth, samples }), 'low.png');
      expect(Array.from(img.data)).toEqual(samples.map((v) => (v * 255) / max).map((v) => Math.fround(v)));
    });
  }

  for (const depth of [1, 2, 4, 8] as const) {
    it(`${depth}-bit palette (type 3) -> RGB of the entries`, () => {
      const palette = [
        [10, 20, 30],
        [200, 100, 0],
        [255, 255, 255],
      ] as const;
      const entries = depth === 1 ? 2 : 3;
      const samples = [0, 1, entries - 1, 0, 1, 0];
      const img = decodeImage(writePng({ width: 3, height: 2, colorType: 3, depth, samples, palette: palette.slice(0, entries) }), 'pal.png');
      expect([img.channels, img.hasColourChannels]).toEqual([3, true]);
      expect(Array.from(img.data)).toEqual(samples.flatMap((i) => [...palette[i]!]));
    });
  }

  it('a corrupt chunk (bad CRC) is a DatasetError naming the file', () => {
    const bytes = encodeWithPngjs(4, 4, pattern(4, 4, 255), 6, 8);
    bytes[bytes.length - 20]! ^= 0xff; // inside IDAT
    expect(() => decodeImage(bytes, 'scans/bad.png')).toThrow(DatasetError);
    expect(() => decodeImage(bytes, 'scans/bad.png')).toThrow(/^scans\/bad\.png: corrupt PNG/);
  });

  it('a truncated PNG says so', () => {
    const bytes = encodeWithPngjs(8, 8, pattern(8, 8, 255), 6, 8);
    expect(() => decodeImage(bytes.subarray(0, bytes.length - 30), 'cut.png')).toThrow(/cut\.png: corrupt PNG: the file ends early/);
  });
});

describe('PNG fast path (png-fast.ts) against pngjs', () => {
  /** A w x h RGBA pattern of pseudo-random bytes (a full alpha for the types without alpha). */
  function noise(w: number, h: number, seed: number, opaque: boolean): number[] {
    let state = seed;
    return Array.from({ length: w * h * 4 }, (_, i) => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return opaque && i % 4 === 3 ? 255 : state >>> 24;
    });
  }

  /** pngjs's encoding with one filter type on every row (0 none, 1 sub, 2 up, 3 average, 4 Paeth). */
  function encode(w: number, h: number, rgba: number[], colorType: 0 | 2 | 4 | 6, filterType: number): Buffer {
    const options = { width: w, height: h, colorType, inputColorType: 6 as const, inputHasAlpha: true, filterType };
    const png = new pngjs.PNG(options);
    png.data = Buffer.from(rgba);
    return pngjs.PNG.sync.write(png, options);
  }

  /** The chunks of a PNG, as [type, data] pairs. */
  function chunks(bytes: Buffer): [string, Buffer][] {
    const out: [string, Buffer][] = [];
    for (let at = 8; at < bytes.length; at += 12 + bytes.readUInt32BE(at)) {
      out.push([bytes.toString('latin1', at + 4, at + 8), bytes.subarray(at + 8, at + 8 + bytes.readUInt32BE(at))]);
    }
    return out;
  }

  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const rebuild = (parts: [string, Buffer][]): Buffer => Buffer.concat([signature, ...parts.map(([type, data]) => chunk(type, data))]);

  for (const colorType of [0, 2, 4, 6] as const) {
    for (const filterType of [0, 1, 2, 3, 4]) {
      it(`8-bit type ${colorType}, every row filtered with type ${filterType}, 13 x 7: the same floats as pngjs`, () => {
        const bytes = encode(13, 7, noise(13, 7, 17 * colorType + filterType, colorType === 0 || colorType === 2), colorType, filterType);
        expect(decodeSimplePng(bytes, 'n.png')).toBeDefined();
        expect(decodeImage(bytes, 'n.png')).toEqual(decodePngWithPngjs(bytes, 'n.png'));
      });
    }
  }

  it('the branch-free Paeth predictor is the specification\'s for every left, upper and upper-left byte', () => {
    // PNG specification, section 9.4: p = a + b - c; the nearest of a, b, c to p, ties to a then b.
    const specification = (a: number, b: number, c: number): number => {
      const p = a + b - c;
      const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
      return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    };
    let mismatches = 0;
    for (let a = 0; a < 256; a++) {
      for (let b = 0; b < 256; b++) {
        for (let c = 0; c < 256; c++) if (paeth(a, b, c) !== specification(a, b, c)) mismatches++;
      }
    }
    expect(mismatches).toBe(0);
  });

  it('reads rows split over several IDAT chunks, with an ancillary chunk before them', () => {
    const parts = chunks(encode(9, 5, noise(9, 5, 3, true), 2, 4));
    const [, idat] = parts.find(([type]) => type === 'IDAT')!;
    const split = rebuild([parts[0]!, ['tEXt', Buffer.from('Comment\0split')], ['IDAT', idat.subarray(0, 10)], ['IDAT', idat.subarray(10)], ['IEND', Buffer.alloc(0)]]);
    expect(decodeSimplePng(split, 's.png')).toEqual(decodeSimplePng(encode(9, 5, noise(9, 5, 3, true), 2, 4), 's.png'));
    expect(decodeImage(split, 's.png')).toEqual(decodePngWithPngjs(split, 's.png'));
  });

  it('leaves other kinds and damaged files to pngjs, which decodes or refuses them as before', () => {
    const gray = encode(6, 4, noise(6, 4, 9, true), 0, 1);
    const parts = chunks(gray);
    const badCrc = Buffer.from(gray);
    badCrc[badCrc.length - 20]! ^= 0xff;
    const others: Record<string, Buffer> = {
      '16-bit': writePng({ width: 2, height: 1, colorType: 0, depth: 16, samples: [1000, 2] }),
      palette: writePng({ width: 2, height: 1, colorType: 3, depth: 8, samples: [0, 1], palette: [[1, 2, 3], [4, 5, 6]] }),
      'a tRNS colour key': rebuild([parts[0]!, ['tRNS', Buffer.from([0, parts[1]![1][0]!])], ...parts.slice(1)]),
      'a bad CRC': badCrc,
      'no IEND': gray.subarray(0, gray.length - 12),
    };
    for (const [name, bytes] of Object.entries(others)) {
      expect(decodeSimplePng(bytes, 'o.png'), name).toBeUndefined();
      const outcome = (decode: typeof decodeImage) => {
        try {
          return decode(bytes, 'o.png');
        } catch (error) {
          return (error as Error).message;
        }
      };
      expect(outcome(decodeImage), name).toEqual(outcome(decodePngWithPngjs));
    }
  });

  it('refuses rows cut short (a stream holding 4 of the 5 rows its header declares), where pngjs would fill the last from memory it never cleared', () => {
    const parts = chunks(encode(6, 4, noise(6, 4, 9, true), 0, 1));
    const taller = Buffer.from(parts[0]![1]);
    taller.writeUInt32BE(5, 4);
    const bytes = rebuild([['IHDR', taller], ...parts.slice(1)]);
    expect(() => decodeImage(bytes, 'scans/short.png')).toThrow(DatasetError);
    expect(() => decodeImage(bytes, 'scans/short.png')).toThrow('scans/short.png: corrupt PNG: its image data holds 4 of the 5 rows its header declares (28 of 35 bytes)');
  });
});

describe('JPEG', () => {
  /** A smooth colour gradient, 32 x 24 RGBA: JPEG keeps it within a few levels. */
  function gradient(w: number, h: number): Buffer {
    const d = Buffer.alloc(w * h * 4);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = (y * w + x) * 4;
        d[i] = 40 + x * 5;
        d[i + 1] = 30 + y * 6;
        d[i + 2] = 200 - x * 3;
        d[i + 3] = 255;
      }
    }
    return d;
  }

  it('decodes a jpeg-js encoded image to the source within JPEG error (q 95: mean |err| < 2, max < 16)', () => {
    const src = gradient(32, 24);
    const bytes = jpeg.encode({ width: 32, height: 24, data: src }, 95).data;
    const img = decodeImage(bytes, 'a.jpg');
    expect([img.width, img.height, img.channels, img.format]).toEqual([32, 24, 3, 'jpeg']);
    let sum = 0;
    let worst = 0;
    for (let p = 0; p < 32 * 24; p++) {
      for (let c = 0; c < 3; c++) {
        const e = Math.abs(img.data[p * 3 + c]! - src[p * 4 + c]!);
        sum += e;
        worst = Math.max(worst, e);
      }
    }
    expect(sum / (32 * 24 * 3)).toBeLessThan(2);
    expect(worst).toBeLessThan(16);
  });

  it('a gray picture saved as colour JPEG has no coloured pixels', () => {
    const src = gradient(32, 24);
    for (let i = 0; i < src.length; i += 4) src[i + 1] = src[i + 2] = src[i]!;
    const img = decodeImage(jpeg.encode({ width: 32, height: 24, data: src }, 75).data, 'gray.jpg');
    expect(colourFraction(img)).toBe(0);
  });

  it('a truncated JPEG is an error, not a half-gray picture', () => {
    const bytes = jpeg.encode({ width: 32, height: 24, data: gradient(32, 24) }, 90).data;
    expect(() => decodeImage(bytes.subarray(0, Math.floor(bytes.length * 0.6)), 'cut.jpg')).toThrow(/^cut\.jpg: corrupt JPEG/);
  });

  it('a lossless (SOF3) JPEG is refused with the reason', () => {
    const bytes = Buffer.from([0xff, 0xd8, 0xff, 0xc3, 0x00, 0x0b, 8, 0, 1, 0, 1, 1, 1, 0x11, 0]);
    expect(() => decodeImage(bytes, 'll.jpg')).toThrow(/unsupported JPEG coding \(SOF3/);
  });
});

describe('DICOM', () => {
  const base = { rows: 2, columns: 3, bitsAllocated: 16 } as const;

  it('16-bit, 12 stored, rescale 2x-100, window 200/401, by hand', () => {
    // Stored 12 bits; the last pixel has garbage in the 4 high bits: 0xF032 -> 0x032 = 50.
    const spec: DicomSpec = {
      ...base,
      bitsStored: 12,
      rescaleSlope: '2',
      rescaleIntercept: '-100',
      windowCentre: '200',
      windowWidth: '401',
      pixels: [0, 100, 200, 300, 4095, 0xf032],
    };
    // m = 2v - 100 = [-100, 100, 300, 500, 8090, 0]; window edges c - 0.5 -+ (w-1)/2 = -0.5 and 399.5;
    // inside: ((m - 199.5) / 400 + 0.5) * 255.
    const expected = [0, 0.25125 * 255, 0.75125 * 255, 255, 255, 0.00125 * 255];
    const img = decodeImage(writeDicom(spec), 'ct.dcm');
    expect([img.width, img.height, img.channels, img.format]).toEqual([3, 2, 1, 'dicom']);
    expected.forEach((v, i) => expect(img.data[i]).toBeCloseTo(v, 3));
  });

  it('signed 16-bit MONOCHROME1 without window: min-max then inverted', () => {
    const spec: DicomSpec = { ...base, rows: 2, columns: 2, pixelRepresentation: 1, photometric: 'MONOCHROME1', pixels: [-1000, 0, 1000, 3000] };
    // min-max over [-1000, 3000]: 0, 63.75, 127.5, 255; inverted: 255, 191.25, 127.5, 0
    expect(Array.from(decodeImage(writeDicom(spec), 'm1.dcm').data)).toEqual([255, 191.25, 127.5, 0]);
  });

  it('signed 12 of 16 bits is sign-extended from bit 11', () => {
    // 0x0FFF = -1, 0x0800 = -2048, 0x07FF = 2047, 0 = 0; min-max over [-2048, 2047] (range 4095)
    const spec: DicomSpec = { ...base, rows: 1, columns: 4, bitsStored: 12, pixelRepresentation: 1, pixels: [0x0fff, 0x0800, 0x07ff, 0] };
    const img = decodeImage(writeDicom(spec), 's12.dcm');
    [(2047 / 4095) * 255, 0, 255, (2048 / 4095) * 255].forEach((v, i) => expect(img.data[i]).toBeCloseTo(v, 3));
  });

  it('the first of several windows is used (DS "40\\400")', () => {
    const spec: DicomSpec = { ...base, rows: 1, columns: 2, windowCentre: '40\\400', windowWidth: '81\\2000', pixels: [40, 80] };
    // c 40, w 81: ((40 - 39.5) / 80 + 0.5) * 255 = 129.09375; 80 > 79.5 -> 255
    const img = decodeImage(writeDicom(spec), 'w.dcm');
    expect(img.data[0]).toBeCloseTo(129.09375, 4);
    expect(img.data[1]).toBe(255);
  });

  for (const [name, syntax] of [
    ['implicit VR little endian', IMPLICIT_LE],
    ['explicit VR big endian', EXPLICIT_BE],
    ['deflated explicit VR little endian', DEFLATED_LE],
  ] as const) {
    it(`${name}: 16-bit [1, 2, 3, 4] min-max -> 0, 85, 170, 255`, () => {
      const spec: DicomSpec = { ...base, rows: 2, columns: 2, transferSyntax: syntax, pixels: [1, 2, 3, 4] };
      expect(Array.from(decodeImage(writeDicom(spec), 'ts.dcm').data)).toEqual([0, 85, 170, 255]);
    });
  }

  it('8-bit unsigned: min-max [10, 20, 30, 40] -> 0, 85, 170, 255', () => {
    const spec: DicomSpec = { rows: 2, columns: 2, bitsAllocated: 8, pixels: [10, 20, 30, 40] };
    expect(Array.from(decodeImage(writeDicom(spec), 'u8.dcm').data)).toEqual([0, 85, 170, 255]);
  });

  it('a flat frame without window maps to 0', () => {
    const spec: DicomSpec = { ...base, rows: 1, columns: 2, pixels: [7, 7] };
    expect(Array.from(decodeImage(writeDicom(spec), 'flat.dcm').data)).toEqual([0, 0]);
  });

  for (const planar of [0, 1] as const) {
    it(`RGB 8-bit, planar configuration ${planar}`, () => {
      const rgb = [255, 0, 0, 0, 255, 0]; // red, green
      const pixels = planar === 0 ? rgb : [255, 0, 0, 255, 0, 0];
      const spec: DicomSpec = { rows: 1, columns: 2, bitsAllocated: 8, samplesPerPixel: 3, photometric: 'RGB', planarConfiguration: planar, pixels };
      const img = decodeImage(writeDicom(spec), 'rgb.dcm');
      expect([img.channels, img.hasColourChannels]).toEqual([3, true]);
      expect(Array.from(img.data)).toEqual(rgb);
    });
  }

  it('multi-frame: the first frame, with a note', () => {
    const spec: DicomSpec = { ...base, rows: 1, columns: 2, frames: 2, pixels: [0, 10, 500, 600] };
    const img = decodeImage(writeDicom(spec), 'cine.dcm');
    expect(Array.from(img.data)).toEqual([0, 255]);
    expect(img.notes[0]).toMatch(/multi-frame DICOM \(2 frames\)/);
  });

  it('a compressed transfer syntax is refused by name', () => {
    const spec: DicomSpec = { ...base, transferSyntax: '1.2.840.10008.1.2.4.50', pixels: [0, 0, 0, 0, 0, 0] };
    expect(() => decodeImage(writeDicom(spec), 'us.dcm')).toThrow(/^us\.dcm: DICOM uses the compressed transfer syntax 1\.2\.840\.10008\.1\.2\.4\.50 \(JPEG baseline\)/);
  });

  it('PALETTE COLOR is refused with the supported list', () => {
    const spec: DicomSpec = { ...base, photometric: 'PALETTE COLOR', pixels: [0, 0, 0, 0, 0, 0] };
    expect(() => decodeImage(writeDicom(spec), 'p.dcm')).toThrow(/photometric interpretation 'PALETTE COLOR' is not supported/);
  });

  it('pixel data shorter than rows x columns is refused as truncated', () => {
    const spec: DicomSpec = { ...base, pixels: [1, 2, 3, 4] };
    expect(() => decodeImage(writeDicom(spec), 'short.dcm')).toThrow(/pixel data is truncated \(8 bytes for 3 x 2 x 2\)/);
  });

  it('a file cut inside its data set is a DatasetError naming it', () => {
    const bytes = writeDicom({ ...base, pixels: [1, 2, 3, 4, 5, 6] });
    expect(() => decodeImage(bytes.subarray(0, 200), 'cut.dcm')).toThrow(DatasetError);
    expect(() => decodeImage(bytes.subarray(0, 200), 'cut.dcm')).toThrow(/^cut\.dcm: /);
  });

  it('explicit VR little endian is the default of the writer (sanity of the test file)', () => {
    expect(detectFormat(writeDicom({ ...base, transferSyntax: EXPLICIT_LE, pixels: [0, 0, 0, 0, 0, 0] }))).toBe('dicom');
  });
});

describe('format detection', () => {
  it('by magic bytes, not by name', () => {
    const png = writePng({ width: 1, height: 1, colorType: 0, depth: 8, samples: [9] });
    const jpg = jpeg.encode({ width: 8, height: 8, data: Buffer.alloc(256, 128) }, 90).data;
    expect(detectFormat(png)).toBe('png');
    expect(detectFormat(jpg)).toBe('jpeg');
    expect(decodeImage(png, 'really-a-png.jpg').format).toBe('png');
    expect(decodeImage(jpg, 'IM0001').format).toBe('jpeg');
  });

  it('unknown content names the file and what it starts with', () => {
    expect(() => decodeImage(Buffer.from('hello world, not an image'), 'x.png')).toThrow(
      /^x\.png: not a PNG, JPEG or DICOM file \(starts with 68 65 6c 6c 6f 20 77 6f/,
    );
    expect(() => decodeImage(new Uint8Array(0), 'e.png')).toThrow(/^e\.png: empty file/);
    expect(() => decodeImage(Buffer.from('version https://git-lfs.github.com/spec/v1\noid sha256:ab\n'), 'l.png')).toThrow(/Git LFS pointer/);
    expect(() => decodeImage(Buffer.from('GIF89a....'), 'g.png')).toThrow(/is a GIF/);
  });

  it('DICOM needs DICM at byte 128, not at 0', () => {
    const bytes = new Uint8Array(132);
    bytes.set(Buffer.from('DICM'), 0);
    expect(detectFormat(bytes)).toBeUndefined();
    bytes.set(Buffer.from('DICM'), 128);
    expect(detectFormat(bytes)).toBe('dicom');
  });
});

// Issue 12, defect 1: a small file declaring a huge picture was decoded whole (gigabytes).
describe('the pixel limit, checked against the declared size before decoding', () => {
  const limit = /declares 8000 x 8000 pixels \(64 megapixels\), more than the limit of 50 megapixels; a larger limit can be set with --max-megapixels/;

  it('a PNG bomb (64 KB declaring 8000 x 8000) is refused by the default 50-megapixel limit, at once', () => {
    const bomb = pngBomb(8000, 8000);
    expect(bomb.length).toBeLessThan(200_000);
    const started = performance.now();
    expect(() => decodeImage(bomb, 'bomb.png')).toThrow(ImageTooLargeError);
    expect(() => decodeImage(bomb, 'bomb.png')).toThrow(limit);
    // Decoding takes seconds (inflate 64 MB, fill a 256 MB RGBA buffer); the header check, microseconds.
    expect(performance.now() - started).toBeLessThan(500);
  });

  it('a JPEG whose frame header declares 8000 x 8000 is refused the same way', () => {
    const small = Buffer.from(jpeg.encode({ width: 16, height: 16, data: Buffer.alloc(16 * 16 * 4, 128) }, 90).data);
    const sof = small.findIndex((b, i) => b === 0xff && small[i + 1] === 0xc0);
    small.writeUInt16BE(8000, sof + 5);
    small.writeUInt16BE(8000, sof + 7);
    expect(() => decodeImage(small, 'bomb.jpg')).toThrow(limit);
  });

  it('a DICOM file whose Rows and Columns declare 8000 x 8000 is refused the same way', () => {
    const dicom = writeDicom({ rows: 8000, columns: 8000, bitsAllocated: 8, pixels: [1, 2, 3, 4] });
    expect(() => decodeImage(dicom, 'bomb.dcm')).toThrow(limit);
  });

  it('the limit is a setting: 20 x 20 passes at 400 pixels and is refused at 399', () => {
    const png = writePng({ width: 20, height: 20, colorType: 0, depth: 8, samples: new Array<number>(400).fill(7) });
    expect(decodeImage(png, 'ok.png', { maxPixels: 400 }).data[399]).toBe(7);
    expect(() => decodeImage(png, 'big.png', { maxPixels: 399 })).toThrow(/declares 20 x 20 pixels \(0\.0004 megapixels\), more than the limit of 0\.000399 megapixels/);
  });
});
