import { open, readlink, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { detectFormat, isInside, type ImageFormat } from '../data/index.js';
import { RequestError } from './errors.js';

export { isInside };

/**
 * The real path `file` stands for, symlinks resolved, whether it exists yet or not (then its
 * folder's real path and its name; a dangling symlink, its target). Locks and writes go there:
 * a symlink or another spelling of the same file must reach the same lock, and a rename over a
 * symlink would replace the link instead of the file it points to.
 */
export async function realTarget(file: string): Promise<string> {
  const absolute = path.resolve(file);
  try {
    return await realpath(absolute);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const link = await readlink(absolute).catch(() => undefined);
  if (link !== undefined) return realTarget(path.resolve(path.dirname(absolute), link));
  const parent = path.dirname(absolute);
  return parent === absolute ? absolute : path.join(await realTarget(parent), path.basename(absolute));
}

/** The largest image the server reads into memory (a DICOM series file can be big; anything larger is refused). */
export const MAX_IMAGE_BYTES = 512 << 20;

/**
 * Turns the raw (still percent-encoded) part of a request path below the image route into path
 * segments, refusing every form of escape before the file system is touched:
 *
 * - a segment that does not decode (`%zz`, a lone `%`) -> 400;
 * - an empty segment (a leading `/` = an absolute path, `//`), `.` or `..`, whether written
 *   plainly or encoded (`%2e%2e`, `%2E.`) -> 400;
 * - a decoded segment holding `/` or `\` (`..%2f..`, `..%5c`), NUL or another control
 *   character, or `:` (a Windows drive or alternate stream) -> 400;
 * - a decoded segment that still holds an escape (`%252e` decodes to `%2e`): a double-encoded
 *   path is an attack, never a real file name -> 400.
 *
 * Decoding happens once, here, per segment: splitting after decoding would let `%2f` forge a
 * separator.
 */
export function decodeRequestPath(raw: string): string[] {
  if (raw === '') throw new RequestError(400, 'no image path');
  return raw.split('/').map((encoded) => {
    let segment: string;
    try {
      segment = decodeURIComponent(encoded);
    } catch {
      throw new RequestError(400, 'malformed percent-encoding in the path');
    }
    if (segment === '' || segment === '.' || segment === '..') throw new RequestError(400, 'the path must be relative to the data folder, without . or .. parts');
    if (/[/\\:\u0000-\u001f\u007f]/.test(segment)) throw new RequestError(400, 'the path holds a separator, colon or control character in a name');
    if (/%[0-9a-f]{2}/i.test(segment)) throw new RequestError(400, 'the path is encoded twice');
    return segment;
  });
}


/** An image file the server may send. */
export interface CheckedImage {
  /** Its real path (symlinks resolved). */
  file: string;
  format: ImageFormat;
  size: number;
}

/**
 * Where the decoded segments lead, if the server may send that file: it must stay inside the
 * data folder once symlinks are resolved (a link inside the folder that points outside is
 * refused, 403), be a regular file (404 otherwise, also when missing), and start with the
 * bytes of a PNG, JPEG or DICOM file (415 otherwise: `notes.txt`, a renamed script, a
 * `.png` that is not one).
 *
 * @param realRoot the data folder's real path (`fs.realpath`), so both sides compare resolved
 */
export async function checkImagePath(realRoot: string, segments: readonly string[]): Promise<CheckedImage> {
  const joined = path.join(realRoot, ...segments);
  // decodeRequestPath already refuses every escape; this is the second lock on the same door.
  if (!isInside(realRoot, joined)) throw new RequestError(403, 'outside the data folder');
  let real: string;
  try {
    real = await realpath(joined);
  } catch {
    throw new RequestError(404, 'no such image');
  }
  if (!isInside(realRoot, real)) throw new RequestError(403, 'the path leads outside the data folder');
  const info = await stat(real);
  if (!info.isFile()) throw new RequestError(404, 'not a file');
  if (info.size > MAX_IMAGE_BYTES) throw new RequestError(413, 'the image file is too large to serve');
  const format = detectFormat(await readHead(real));
  if (format === undefined) throw new RequestError(415, 'not a PNG, JPEG or DICOM image');
  return { file: real, format, size: info.size };
}

/** The first 132 bytes, enough for detectFormat (DICOM's marker sits at byte 128). */
async function readHead(file: string): Promise<Uint8Array> {
  const handle = await open(file, 'r');
  try {
    const head = new Uint8Array(132);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return head.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** A path relative to the data folder as the URL path the image route takes (each segment encoded). */
export function toUrlPath(relative: string): string {
  return relative.split(/[/\\]/).map(encodeURIComponent).join('/');
}
