/*
 * Writers of test images (`@cnn/experiment/testing`): PNG and DICOM files built byte by byte,
 * valid or deliberately malformed (a decompression bomb), for tests of code that reads images.
 */
export { writePng, pngBomb, chunk, crc32, type RawPng } from './data/testing/png.js';
export { writeDicom, EXPLICIT_LE, IMPLICIT_LE, EXPLICIT_BE, DEFLATED_LE, type DicomSpec } from './data/testing/dicom.js';
