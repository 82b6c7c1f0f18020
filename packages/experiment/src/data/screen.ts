import { readFile } from 'node:fs/promises';
import { DEFAULT_COLOUR_THRESHOLD, DEFAULT_COLOUR_TOLERANCE, colourFraction, type ColourRule } from './colour.js';
import { listSome, type Problem } from './dataset.js';
import { decodeImage } from './decode.js';
import { DatasetError, isFileSystemError, messageOf } from './errors.js';
import { toUint8Image, type RasterImage } from './image.js';
import { studyPreprocess, type StudyPreprocessOptions } from './preprocess.js';

/** Options of prepareImages: the study's preprocessing and the colour exclusion rule. */
export interface PrepareOptions extends StudyPreprocessOptions, ColourRule {
  /** Keep images that carry colour instead of excluding them (they are still made gray unless gray = false). Default false. */
  keepColour?: boolean;
  /** The most pixels an image may declare (default DEFAULT_MAX_PIXELS); a larger one is a problem, skipped. */
  maxPixels?: number;
  /** Called after each file, e.g. for a progress line. */
  onProgress?: (done: number, total: number) => void;
}

/** An 8-bit preprocessed image, as the study stored it. */
export type StoredImage = RasterImage & { data: Uint8Array };

/** The images that passed, aligned with their items, and what was left out and why. */
export interface PreparedImages<T> {
  items: T[];
  images: StoredImage[];
  /** Readable images left out by the study's rules (colour). */
  excluded: Problem[];
  /** Unreadable or corrupt files. */
  problems: Problem[];
  /** Facts from the decoders, grouped ("multi-frame DICOM ...: first frame used (3 files: ...)"). */
  notes: string[];
}

/**
 * Reads, screens and preprocesses every item, never stopping for one bad file:
 * 1. decode (decodeImage); an unreadable or corrupt file, or one declaring more pixels than
 *    maxPixels, goes to `problems` with the reason;
 * 2. the colour rule (colour.ts) on the whole decoded image, before any crop, so a Doppler box or
 *    a coloured mark anywhere counts; such an image goes to `excluded` unless keepColour;
 * 3. studyPreprocess (gray, central square crop, resize to 256) and rounding to 8 bits
 *    (64 KiB per 256 x 256 image, so a 5,000-image set fits in memory).
 *
 * @param classes class names, to report a class that has lost all its images
 * @throws DatasetError when a class is left without images (naming it and what happened to them)
 */
export async function prepareImages<T extends { path: string; label: number }>(
  items: readonly T[],
  classes: readonly string[],
  options: PrepareOptions = {},
): Promise<PreparedImages<T>> {
  const out: PreparedImages<T> = { items: [], images: [], excluded: [], problems: [], notes: [] };
  const notes = new Map<string, string[]>();
  let done = 0;
  for (const item of items) {
    const screened = await screenImage(item.path, options);
    for (const note of screened.notes) notes.set(note, [...(notes.get(note) ?? []), item.path]);
    if ('image' in screened) {
      out.items.push(item);
      out.images.push(screened.image);
    } else if ('excluded' in screened) out.excluded.push(screened.excluded);
    else out.problems.push(screened.problem);
    options.onProgress?.(++done, items.length);
  }
  for (const [note, paths] of notes) {
    out.notes.push(`${note} (${paths.length} file${paths.length === 1 ? '' : 's'}: ${listSome(paths, 5)})`);
  }

  const left = new Set(out.items.map((i) => i.label));
  const lost = classes.flatMap((name, c) => (left.has(c) ? [] : [name]));
  if (lost.length > 0) {
    throw new DatasetError(
      `class(es) ${lost.map((n) => `'${n}'`).join(', ')} have no images left after screening ` +
        `(${out.excluded.length} excluded for colour, ${out.problems.length} unreadable in all; see those lists; keepColour keeps coloured images)`,
    );
  }
  return out;
}

/** One file after screening: its preprocessed image, or why it was left out; and the decoder's notes. */
export type ScreenedImage = ({ image: StoredImage } | { excluded: Problem } | { problem: Problem }) & { notes: string[] };

/**
 * Steps 1-3 of prepareImages for one file. Streamed callers (`cnn features`) screen one
 * batch at a time, so no more than a batch of images is ever held.
 */
export async function screenImage(path: string, options: Omit<PrepareOptions, 'onProgress'> = {}): Promise<ScreenedImage> {
  const tolerance = options.tolerance ?? DEFAULT_COLOUR_TOLERANCE;
  const threshold = options.threshold ?? DEFAULT_COLOUR_THRESHOLD;
  try {
    const decoded = decodeImage(await readFile(path), path, { maxPixels: options.maxPixels });
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
