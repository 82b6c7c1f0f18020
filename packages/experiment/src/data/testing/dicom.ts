import { deflateRawSync } from 'node:zlib';

export const EXPLICIT_LE = '1.2.840.10008.1.2.1';
export const IMPLICIT_LE = '1.2.840.10008.1.2';
export const EXPLICIT_BE = '1.2.840.10008.1.2.2';
export const DEFLATED_LE = '1.2.840.10008.1.2.1.99';

/** A minimal single- or multi-frame DICOM image, for tests of the decoder. */
export interface DicomSpec {
  transferSyntax?: string;
  rows: number;
  columns: number;
  bitsAllocated: 8 | 16;
  bitsStored?: number;
  pixelRepresentation?: 0 | 1;
  photometric?: string;
  samplesPerPixel?: number;
  planarConfiguration?: 0 | 1;
  frames?: number;
  /** DS strings as they stand in the file, e.g. '40\\400' for two windows. */
  rescaleSlope?: string;
  rescaleIntercept?: string;
  windowCentre?: string;
  windowWidth?: string;
  /** The stored sample values (two's complement for negative ones), written as is. */
  pixels: readonly number[];
}

/**
 * Writes a DICOM Part 10 file byte by byte: 128-byte preamble, 'DICM', the file meta group
 * (explicit VR little endian, with its group length), then the image attributes in tag order in
 * the chosen transfer syntax and the pixel data (OB for 8 bits, OW for 16).
 */
export function writeDicom(spec: DicomSpec): Uint8Array {
  const syntax = spec.transferSyntax ?? EXPLICIT_LE;
  const meta = [
    element(0x0002, 0x0001, 'OB', Buffer.from([0, 1]), true, true),
    element(0x0002, 0x0002, 'UI', text('1.2.840.10008.5.1.4.1.1.7', '\0'), true, true),
    element(0x0002, 0x0003, 'UI', text('1.2.3.4.5.6.7', '\0'), true, true),
    element(0x0002, 0x0010, 'UI', text(syntax, '\0'), true, true),
    element(0x0002, 0x0012, 'UI', text('1.2.3.4', '\0'), true, true),
  ];
  const metaBody = Buffer.concat(meta);
  const groupLength = Buffer.alloc(4);
  groupLength.writeUInt32LE(metaBody.length);

  const little = syntax !== EXPLICIT_BE;
  const explicit = syntax !== IMPLICIT_LE;
  const us = (v: number): Buffer => {
    const b = Buffer.alloc(2);
    if (little) b.writeUInt16LE(v);
    else b.writeUInt16BE(v);
    return b;
  };
  const el = (group: number, elem: number, vr: string, value: Buffer): Buffer => element(group, elem, vr, value, explicit, little);
  const parts = [
    el(0x0008, 0x0016, 'UI', text('1.2.840.10008.5.1.4.1.1.7', '\0')),
    el(0x0008, 0x0018, 'UI', text('1.2.3.4.5.6.7', '\0')),
    el(0x0028, 0x0002, 'US', us(spec.samplesPerPixel ?? 1)),
    el(0x0028, 0x0004, 'CS', text(spec.photometric ?? 'MONOCHROME2', ' ')),
  ];
  if (spec.planarConfiguration !== undefined) parts.push(el(0x0028, 0x0006, 'US', us(spec.planarConfiguration)));
  if (spec.frames !== undefined) parts.push(el(0x0028, 0x0008, 'IS', text(String(spec.frames), ' ')));
  parts.push(
    el(0x0028, 0x0010, 'US', us(spec.rows)),
    el(0x0028, 0x0011, 'US', us(spec.columns)),
    el(0x0028, 0x0100, 'US', us(spec.bitsAllocated)),
    el(0x0028, 0x0101, 'US', us(spec.bitsStored ?? spec.bitsAllocated)),
    el(0x0028, 0x0102, 'US', us((spec.bitsStored ?? spec.bitsAllocated) - 1)),
    el(0x0028, 0x0103, 'US', us(spec.pixelRepresentation ?? 0)),
  );
  if (spec.windowCentre !== undefined) parts.push(el(0x0028, 0x1050, 'DS', text(spec.windowCentre, ' ')));
  if (spec.windowWidth !== undefined) parts.push(el(0x0028, 0x1051, 'DS', text(spec.windowWidth, ' ')));
  if (spec.rescaleIntercept !== undefined) parts.push(el(0x0028, 0x1052, 'DS', text(spec.rescaleIntercept, ' ')));
  if (spec.rescaleSlope !== undefined) parts.push(el(0x0028, 0x1053, 'DS', text(spec.rescaleSlope, ' ')));
  const bytesPer = spec.bitsAllocated / 8;
  const pixels = Buffer.alloc(Math.ceil((spec.pixels.length * bytesPer) / 2) * 2);
  spec.pixels.forEach((v, i) => {
    if (bytesPer === 1) pixels[i] = v & 0xff;
    else if (little) pixels.writeUInt16LE(v & 0xffff, i * 2);
    else pixels.writeUInt16BE(v & 0xffff, i * 2);
  });
  parts.push(el(0x7fe0, 0x0010, bytesPer === 1 ? 'OB' : 'OW', pixels));
  let body = Buffer.concat(parts);
  if (syntax === DEFLATED_LE) body = deflateRawSync(body);

  return Buffer.concat([
    Buffer.alloc(128),
    Buffer.from('DICM', 'latin1'),
    element(0x0002, 0x0000, 'UL', groupLength, true, true),
    metaBody,
    body,
  ]);
}

/** A string value padded to even length (UI with NUL, text VRs with a space), as DICOM requires. */
function text(value: string, pad: string): Buffer {
  return Buffer.from(value.length % 2 === 0 ? value : value + pad, 'latin1');
}

const LONG_VRS = new Set(['OB', 'OW', 'OF', 'SQ', 'UT', 'UN']);

/** Tag, (VR,) length, value: explicit VR uses a 2-byte length except for OB/OW/... (2 reserved + 4). */
function element(group: number, elem: number, vr: string, value: Buffer, explicit: boolean, little: boolean): Buffer {
  const u16 = (b: Buffer, v: number, at: number): number => (little ? b.writeUInt16LE(v, at) : b.writeUInt16BE(v, at));
  const u32 = (b: Buffer, v: number, at: number): number => (little ? b.writeUInt32LE(v, at) : b.writeUInt32BE(v, at));
  let head: Buffer;
  if (!explicit) {
    head = Buffer.alloc(8);
    u32(head, value.length, 4);
  } else if (LONG_VRS.has(vr)) {
    head = Buffer.alloc(12);
    head.write(vr, 4, 'latin1');
    u32(head, value.length, 8);
  } else {
    head = Buffer.alloc(8);
    head.write(vr, 4, 'latin1');
    u16(head, value.length, 6);
  }
  u16(head, group, 0);
  u16(head, elem, 2);
  return Buffer.concat([head, value]);
}
