import { realpathSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkImagePath, decodeRequestPath, isInside, RequestError } from '@cnn/experiment/label';
import { makeSandbox } from './helpers.js';

/** The status a call fails with (RequestError), or 'ok'. */
async function statusOf(run: () => unknown): Promise<number | 'ok'> {
  try {
    await run();
    return 'ok';
  } catch (error) {
    if (error instanceof RequestError) return error.status;
    throw error;
  }
}

describe('decodeRequestPath', () => {
  it('decodes each segment once: spaces, unicode and reserved characters in names', () => {
    expect(decodeRequestPath('study%201/caf%C3%A9%2B1.png')).toEqual(['study 1', 'café+1.png']);
    expect(decodeRequestPath('a/b/c.png')).toEqual(['a', 'b', 'c.png']);
  });

  const refused: [string, string][] = [
    ['parent segment', '../secret.txt'],
    ['parent segment in the middle', 'study1/../../secret.txt'],
    ['dot segment', './a.png'],
    ['encoded dots', '%2e%2e/secret.txt'],
    ['mixed-case encoded dots', '%2E./secret.txt'],
    ['encoded slash forging a separator', '..%2fsecret.txt'],
    ['encoded backslash', '..%5csecret.txt'],
    ['double-encoded dots', '%252e%252e/secret.txt'],
    ['double-encoded slash', 'study1%252fa.png'],
    ['absolute path (leading slash)', '/etc/passwd'],
    ['empty segment', 'study1//a.png'],
    ['encoded NUL', 'a.png%00.txt'],
    ['Windows drive', 'C:/Windows/win.ini'],
    ['malformed escape', 'a%zz.png'],
    ['lone percent', 'a%.png'],
    ['nothing at all', ''],
  ];
  it.each(refused)('refuses %s with 400', async (_what, raw) => {
    expect(await statusOf(() => decodeRequestPath(raw))).toBe(400);
  });
});

describe('isInside', () => {
  it('is true strictly below the folder and false for the folder itself, siblings with a common prefix, and parents', () => {
    const root = path.resolve('/data/images');
    expect(isInside(root, path.join(root, 'a.png'))).toBe(true);
    expect(isInside(root, path.join(root, 'x/y/z.png'))).toBe(true);
    expect(isInside(root, root)).toBe(false);
    expect(isInside(root, path.resolve('/data/images-private/a.png'))).toBe(false);
    expect(isInside(root, path.resolve('/data'))).toBe(false);
    expect(isInside(root, path.join(root, '..', 'secret.txt'))).toBe(false);
  });
});

describe('checkImagePath', () => {
  const box = makeSandbox();
  const root = realpathSync(box.data);
  afterAll(() => rmSync(box.dir, { recursive: true, force: true }));
  const check = (rel: string) => checkImagePath(root, rel.split('/'));

  it('accepts PNG and DICOM files below the folder, telling the format from the bytes', async () => {
    expect(await check('study1/a.png')).toMatchObject({ file: path.join(root, 'study1/a.png'), format: 'png' });
    expect((await check('scan.dcm')).format).toBe('dicom');
  });

  it('accepts a symlink that stays inside the folder, as the file it points to', async () => {
    expect((await check('.links/inside.png')).file).toBe(path.join(root, 'study1/a.png'));
  });

  it('refuses symlinks leading outside with 403, whether to a file or to a parent folder', async () => {
    expect(await statusOf(() => check('.links/secret.png'))).toBe(403);
    expect(await statusOf(() => check('.links/outside.png'))).toBe(403);
    expect(await statusOf(() => check('.links/up/secret.txt'))).toBe(403);
  });

  it('refuses a file that is not an image with 415, and a missing file or a folder with 404', async () => {
    expect(await statusOf(() => check('notes.txt'))).toBe(415);
    expect(await statusOf(() => check('study1/missing.png'))).toBe(404);
    expect(await statusOf(() => check('study1'))).toBe(404);
  });

  it('refuses segments that escape even if a caller skipped decodeRequestPath', async () => {
    expect(await statusOf(() => checkImagePath(root, ['..', 'secret.txt']))).toBe(403);
    expect(await statusOf(() => checkImagePath(root, ['..', 'outside.png']))).toBe(403);
  });
});
