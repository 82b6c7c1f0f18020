import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readBinaryprotoFile } from './binaryproto.js';
import { readCaffemodelFile } from './caffemodel.js';
import { CaffeFormatError } from './errors.js';
import { loadModel } from './model.js';
import { readNetPrototxtFile } from './prototxt.js';
import { fixtureBytes, fixturePath } from './testing/fixtures.js';

/**
 * Files are sniffed before they are read whole. The big files here are sparse (a size, no data
 * blocks), so they cost no disk; reading one whole would still cost its size in memory.
 */

const work = mkdtempSync(path.join(tmpdir(), 'cnn-sniff-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A sparse file of `size` bytes whose first bytes are `head` (zeros after it). */
function sparse(name: string, size: number, head = new Uint8Array(0)): string {
  const file = path.join(work, name);
  const fd = openSync(file, 'w');
  writeSync(fd, head);
  ftruncateSync(fd, size);
  closeSync(fd);
  return file;
}

function caught(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error');
}

const GB = 2 ** 30;

describe('reading model files', () => {
  it('refuses a 1.5 GB file of zeros at byte 0 without reading it whole', () => {
    const zeros = sparse('zeros.caffemodel', 1.5 * GB);
    const before = process.memoryUsage().rss;
    const error = caught(() => loadModel({ prototxt: fixturePath('real/lenet/deploy.prototxt'), weights: zeros }));
    const grown = process.memoryUsage().rss - before;
    expect(error).toBeInstanceOf(CaffeFormatError);
    expect(error.message).toBe(
      `${zeros}: starts with 4096 zero bytes: a file that was allocated but never written (an interrupted copy or download?), not a protobuf message (byte offset 0)`,
    );
    expect(grown).toBeLessThan(256 * 2 ** 20);
  });

  it('refuses a file over 2 GB by its size, naming it, before allocating anything (no bare RangeError)', () => {
    const big = sparse('big.caffemodel', 2.5 * GB, fixtureBytes('real/lenet/model.caffemodel').subarray(0, 4096));
    for (const read of [() => loadModel({ prototxt: fixturePath('real/lenet/deploy.prototxt'), weights: big }), () => readCaffemodelFile(big)]) {
      const error = caught(read);
      expect(error).toBeInstanceOf(CaffeFormatError);
      expect(error.message).toBe(`${big}: is 2,684,354,560 bytes, more than the 2,147,483,647 a .caffemodel file can be`);
    }
  });

  it('sniffs .binaryproto and .prototxt files the same way, and names a folder', () => {
    const zeros = sparse('zeros.binaryproto', GB);
    expect(caught(() => readBinaryprotoFile(zeros)).message).toMatch(new RegExp(`^${zeros}: starts with 4096 zero bytes`));
    const binary = path.join(work, 'binary.prototxt');
    writeFileSync(binary, Buffer.from('name: "x"\n\u0000\u0001'));
    expect(caught(() => readNetPrototxtFile(binary)).message).toMatch(new RegExp(`^${binary}: contains binary data \\(a NUL byte\\).*\\(byte offset 10\\)$`));
    const huge = sparse('huge.prototxt', GB, new TextEncoder().encode('name: "x"\n'));
    expect(caught(() => readNetPrototxtFile(huge)).message).toBe(`${huge}: is 1,073,741,824 bytes, more than the 67,108,864 a .prototxt file can be`);
    expect(caught(() => readCaffemodelFile(work)).message).toBe(`${work}: is a folder, not a .caffemodel file`);
  });
});
