import { readFileSync } from 'node:fs';
import { DEFAULT_COLOUR_THRESHOLD, DEFAULT_COLOUR_TOLERANCE, colourFraction, type ColourRule } from './colour.js';
import type { Problem } from './dataset.js';
import { decodeImage } from './decode.js';
import { DatasetError, isFileSystemError, messageOf } from './errors.js';
import { toUint8Image, type RasterImage } from './image.js';
import { studyPreprocess, type StudyPreprocessOptions } from './preprocess.js';

/** Options of screenImage: the study's preprocessing and the colour exclusion rule (plain data, so they can be posted to a worker). */
export interface ScreenOptions extends StudyPreprocessOptions, ColourRule {
  /** Keep images that carry colour instead of excluding them (they are still made gray unless gray = false). Default false. */
  keepColour?: boolean;
  /** The most pixels an image may declare (default DEFAULT_MAX_PIXELS); a larger one is a problem, skipped. */
  maxPixels?: number;
}

/** An 8-bit preprocessed image, as the study stored it. */
export type StoredImage = RasterImage & { data: Uint8Array };

/** One file after screening: its preprocessed image, or why it was left out; and the decoder's notes. */
export type ScreenedImage = ({ image: StoredImage } | { excluded: Problem } | { problem: Problem }) & { notes: string[] };

/**
 * Steps 1-3 of prepareImages for one file. Streamed callers (`cnn features`) screen one
 * batch at a time, so no more than a batch of images is ever held. The file is read
 * synchronously: the threads that screen have nothing else to do meanwhile, and an
 * asynchronous read took 0.2-0.6 ms per busi file here against 0.015 ms (a round trip
 * through libuv's thread pool, and a copy of the buffer it reads into).
 */
export function screenImage(path: string, options: ScreenOptions = {}): ScreenedImage {
  const tolerance = options.tolerance ?? DEFAULT_COLOUR_TOLERANCE;
  const threshold = options.threshold ?? DEFAULT_COLOUR_THRESHOLD;
  try {
    const decoded = decodeImage(readFileSync(path), path, { maxPixels: options.maxPixels });
    const fraction = colourFraction(decoded, tolerance);
    if (fraction > threshold && options.keepColour !== true) {
      const reason =
        `colour: ${(fraction * 100).toFixed(1)}% of pixels coloured (more than ${(threshold * 100).toFixed(1)}% ` +
        `with channel spread > ${tolerance}), e.g. a Doppler overlay or coloured annotation`;
      return { excluded: { path, reason }, notes: decoded.notes };
    }
    return { image: toUint8Image(studyPreprocess(decoded, options)), notes: decoded.notes };
  } catch (err) {
    // A run over thousands of files must not die for one: record it and go on. RangeError is a
    // picture too large to allocate; other errors are bugs and still surface.
    if (!(err instanceof DatasetError || err instanceof RangeError || isFileSystemError(err))) throw err;
    return { problem: { path, reason: messageOf(err).replace(`${path}: `, '') }, notes: [] };
  }
}
