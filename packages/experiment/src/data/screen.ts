import { listSome, type Problem } from './dataset.js';
import { DatasetError } from './errors.js';
import { IN_TURN, type ImageRequest, type ImageWorkers } from './image-workers.js';
import type { ScreenOptions, ScreenedImage, StoredImage } from './screen-image.js';

/** Options of prepareImages: those of screenImage, and how to go through the files. */
export interface PrepareOptions extends ScreenOptions {
  /** Called after each file, e.g. for a progress line. */
  onProgress?: (done: number, total: number) => void;
  /** Screens the files on these worker threads and this one, several at once (default: one after the other, on this thread). */
  workers?: ImageWorkers;
}

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
  const { onProgress, workers, ...screenOptions } = options;
  let done = 0;
  const screened = await screenFiles(
    items.map((item) => item.path),
    screenOptions,
    workers,
    () => onProgress?.(++done, items.length),
  ).collect();
  screened.forEach((result, i) => {
    const item = items[i]!;
    for (const note of result.notes) notes.set(note, [...(notes.get(note) ?? []), item.path]);
    if ('image' in result) {
      out.items.push(item);
      out.images.push(result.image);
    } else if ('excluded' in result) out.excluded.push(result.excluded);
    else out.problems.push(result.problem);
  });
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

/**
 * Starts screenImage of each path: on the workers, and on this thread once it collects the
 * results (in the paths' order); without workers, one file after the other when collected.
 * `onEach` is called after each file (for progress).
 */
export function screenFiles(paths: readonly string[], options: ScreenOptions, workers?: ImageWorkers, onEach?: () => void): ImageRequest<ScreenedImage> {
  return (workers ?? IN_TURN).screen(paths, options, onEach);
}
