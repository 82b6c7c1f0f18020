import dicomParser from 'dicom-parser';
import { checkPixelLimit } from './limits.js';
import { DatasetError, messageOf } from './errors.js';
import type { FloatImage } from './image.js';

/** Uncompressed transfer syntaxes: the pixel data is the raw samples. */
const UNCOMPRESSED: Record<string, string> = {
  '1.2.840.10008.1.2': 'implicit VR little endian',
  '1.2.840.10008.1.2.1': 'explicit VR little endian',
  '1.2.840.10008.1.2.2': 'explicit VR big endian',
  // The whole data set is deflated, the pixels inside are raw; dicom-parser inflates it with zlib.
  '1.2.840.10008.1.2.1.99': 'deflated explicit VR little endian',
};

/** Compressed ones named in the error so the user knows which converter to reach for. */
const COMPRESSED: Record<string, string> = {
  '1.2.840.10008.1.2.4.50': 'JPEG baseline',
  '1.2.840.10008.1.2.4.51': 'JPEG extended',
  '1.2.840.10008.1.2.4.57': 'JPEG lossless',
  '1.2.840.10008.1.2.4.70': 'JPEG lossless SV1',
  '1.2.840.10008.1.2.4.80': 'JPEG-LS lossless',
  '1.2.840.10008.1.2.4.81': 'JPEG-LS near-lossless',
  '1.2.840.10008.1.2.4.90': 'JPEG 2000 lossless',
  '1.2.840.10008.1.2.4.91': 'JPEG 2000',
  '1.2.840.10008.1.2.5': 'RLE lossless',
};

/** The result of decodeDicom (a DecodedImage without the format tag). */
export interface DicomImage extends FloatImage {
  hasColourChannels: boolean;
  notes: string[];
}

/**
 * Decodes an uncompressed DICOM Part 10 file (first frame) into a 0-255 float image.
 *
 * Monochrome (MONOCHROME1/2, 1 sample, 8 or 16 bits allocated, any bits stored, signed or not):
 * 1. stored value v: the low `BitsStored` bits, sign-extended when PixelRepresentation = 1;
 * 2. modality LUT: `m = v * RescaleSlope + RescaleIntercept` (defaults 1 and 0);
 * 3. VOI window (PS3.3 C.11.2.1.2.1, linear) with the file's first WindowCenter c / WindowWidth w:
 *    `y = 0` if `m <= c - 0.5 - (w-1)/2`, `y = 255` if `m > c - 0.5 + (w-1)/2`,
 *    else `y = ((m - (c - 0.5)) / (w - 1) + 0.5) * 255`;
 *    without a window: `y = 255 * (m - min) / (max - min)` over the frame (0 for a flat frame);
 * 4. MONOCHROME1 (white = low values) is inverted: `y = 255 - y`.
 *
 * RGB (3 samples, 8 bits, either planar configuration) is read as is, with no LUTs: ultrasound
 * machines often store frames this way, and colour.ts then finds any Doppler overlay.
 *
 * @param maxPixels the most pixels accepted (see DEFAULT_MAX_PIXELS), checked before allocating
 * @throws DatasetError naming the file for a compressed transfer syntax, an unsupported
 *   photometric interpretation or bit depth, missing image attributes, or truncated/corrupt data.
 */
export function decodeDicom(bytes: Uint8Array, file: string, maxPixels?: number): DicomImage {
  let ds: dicomParser.DataSet;
  try {
    ds = dicomParser.parseDicom(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (err) {
    throw new DatasetError(`corrupt DICOM: ${messageOf(err)}`, { file }, { cause: err });
  }
  const fail = (message: string): never => {
    throw new DatasetError(`DICOM ${message}`, { file });
  };

  const syntax = ds.string('x00020010') ?? '';
  if (UNCOMPRESSED[syntax] === undefined) {
    const name = COMPRESSED[syntax];
    fail(
      name !== undefined
        ? `uses the compressed transfer syntax ${syntax} (${name}); convert it to uncompressed first (e.g. gdcmconv --raw, dcmdjpeg)`
        : `uses the transfer syntax '${syntax}', which is not an uncompressed one this reader knows`,
    );
  }
  const rows = ds.uint16('x00280010') ?? fail('has no Rows (0028,0010)');
  const columns = ds.uint16('x00280011') ?? fail('has no Columns (0028,0011)');
  const samples = ds.uint16('x00280002') ?? 1;
  const bitsAllocated = ds.uint16('x00280100') ?? fail('has no BitsAllocated (0028,0100)');
  const bitsStored = ds.uint16('x00280101') ?? bitsAllocated;
  const signed = (ds.uint16('x00280103') ?? 0) === 1;
  const photometric = (ds.string('x00280004') ?? (samples === 1 ? 'MONOCHROME2' : '')).toUpperCase();
  const frames = ds.intString('x00280008') ?? 1;
  const pixels = ds.elements['x7fe00010'] ?? fail('has no PixelData (7FE0,0010)');
  if (pixels.encapsulatedPixelData) fail('pixel data is encapsulated (compressed)');
  if (rows === 0 || columns === 0) fail(`has an empty frame (${columns} x ${rows})`);
  checkPixelLimit(file, columns, rows, maxPixels);

  const notes: string[] = [];
  if (frames > 1) notes.push(`multi-frame DICOM (${frames} frames): the first frame is used`);
  const littleEndian = syntax !== '1.2.840.10008.1.2.2';
  const view = new DataView(ds.byteArray.buffer, ds.byteArray.byteOffset + pixels.dataOffset);

  if (photometric === 'RGB') {
    if (samples !== 3 || bitsAllocated !== 8) fail(`RGB with ${samples} samples of ${bitsAllocated} bits is not supported (need 3 x 8)`);
    const count = rows * columns;
    if (pixels.length < count * 3) fail(`pixel data is truncated (${pixels.length} bytes for ${columns} x ${rows} x 3)`);
    const planar = (ds.uint16('x00280006') ?? 0) === 1;
    const data = new Float32Array(count * 3);
    for (let p = 0; p < count; p++) {
      for (let c = 0; c < 3; c++) data[p * 3 + c] = view.getUint8(planar ? c * count + p : p * 3 + c);
    }
    return { width: columns, height: rows, channels: 3, data, hasColourChannels: true, notes };
  }

  if (photometric !== 'MONOCHROME1' && photometric !== 'MONOCHROME2') {
    fail(`photometric interpretation '${photometric}' is not supported (MONOCHROME1, MONOCHROME2 or RGB)`);
  }
  if (samples !== 1) fail(`${photometric} with ${samples} samples per pixel`);
  if (bitsAllocated !== 8 && bitsAllocated !== 16) fail(`BitsAllocated ${bitsAllocated} is not supported (8 or 16)`);
  if (bitsStored < 1 || bitsStored > bitsAllocated) fail(`BitsStored ${bitsStored} does not fit BitsAllocated ${bitsAllocated}`);
  const count = rows * columns;
  const bytesPer = bitsAllocated / 8;
  if (pixels.length < count * bytesPer) {
    fail(`pixel data is truncated (${pixels.length} bytes for ${columns} x ${rows} x ${bytesPer})`);
  }

  const slope = ds.floatString('x00281053') ?? 1;
  const intercept = ds.floatString('x00281052') ?? 0;
  const mask = 2 ** bitsStored - 1;
  const signBit = 2 ** (bitsStored - 1);
  const values = new Float64Array(count);
  for (let p = 0; p < count; p++) {
    const raw = bytesPer === 1 ? view.getUint8(p) : view.getUint16(p * 2, littleEndian);
    // Bits above BitsStored may hold overlays or garbage; keep only the stored bits.
    let v = raw & mask;
    if (signed && v >= signBit) v -= 2 ** bitsStored;
    values[p] = v * slope + intercept;
  }

  const centre = ds.floatString('x00281050');
  const width = ds.floatString('x00281051');
  const data = new Float32Array(count);
  if (centre !== undefined && width !== undefined && width >= 1) {
    const low = centre - 0.5 - (width - 1) / 2;
    const high = centre - 0.5 + (width - 1) / 2;
    for (let p = 0; p < count; p++) {
      const m = values[p]!;
      data[p] = m <= low ? 0 : m > high ? 255 : ((m - (centre - 0.5)) / (width - 1) + 0.5) * 255;
    }
  } else {
    if (centre !== undefined || width !== undefined) notes.push('DICOM window incomplete or invalid: min-max scaling used');
    let min = Infinity;
    let max = -Infinity;
    for (let p = 0; p < count; p++) {
      min = Math.min(min, values[p]!);
      max = Math.max(max, values[p]!);
    }
    const range = max - min;
    for (let p = 0; p < count; p++) data[p] = range > 0 ? ((values[p]! - min) / range) * 255 : 0;
  }
  if (photometric === 'MONOCHROME1') {
    for (let p = 0; p < count; p++) data[p] = 255 - data[p]!;
  }
  return { width: columns, height: rows, channels: 1, data, hasColourChannels: false, notes };
}
