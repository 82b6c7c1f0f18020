import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeDicom, writePng } from '@cnn/experiment/testing';

/** A gray PNG of `size` x `size` whose pixels follow a pattern picked by `seed` (so images differ). */
export function grayPng(size: number, seed: number): Buffer {
  const samples: number[] = [];
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) samples.push((x * (seed + 3) + y * 7 + seed * 40) % 256);
  return writePng({ width: size, height: size, colorType: 0, depth: 8, samples });
}

/** A 4 x 4 8-bit MONOCHROME2 DICOM file. */
export function smallDicom(): Uint8Array {
  return writeDicom({ rows: 4, columns: 4, bitsAllocated: 8, pixels: Array.from({ length: 16 }, (_, i) => i * 16) });
}

/** A scratch folder layout for the server's path checks and the labeller runs. */
export interface Sandbox {
  /** Parent of everything; holds `secret.txt` and `outside.png` beside the data folder. */
  dir: string;
  /** The data folder: `study1/a.png`, `study1/b.png`, `study2/c.png`, `study2/d.png`, `study3/e.png`, `scan.dcm`, `notes.txt`, and links. */
  data: string;
  images: string[];
}

/**
 * Builds the sandbox. Inside `data`: five PNGs in three study folders, a DICOM file, a text
 * file, a symlink to an image inside (allowed), and symlinks to `../secret.txt`,
 * `../outside.png` and to the parent folder (all leading outside, so refused).
 */
export function makeSandbox(prefix = 'cnn-label-'): Sandbox {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  const data = path.join(dir, 'data');
  const images = ['study1/a.png', 'study1/b.png', 'study2/c.png', 'study2/d.png', 'study3/e.png'];
  images.forEach((name, i) => {
    mkdirSync(path.join(data, path.dirname(name)), { recursive: true });
    writeFileSync(path.join(data, name), grayPng(32, i));
  });
  writeFileSync(path.join(data, 'scan.dcm'), smallDicom());
  writeFileSync(path.join(data, 'notes.txt'), 'not an image\n');
  writeFileSync(path.join(dir, 'secret.txt'), 'secret\n');
  writeFileSync(path.join(dir, 'outside.png'), grayPng(8, 9));
  mkdirSync(path.join(data, '.links'));
  symlinkSync(path.join(data, 'study1/a.png'), path.join(data, '.links/inside.png'));
  symlinkSync(path.join(dir, 'secret.txt'), path.join(data, '.links/secret.png'));
  symlinkSync(path.join(dir, 'outside.png'), path.join(data, '.links/outside.png'));
  symlinkSync(dir, path.join(data, '.links/up'));
  return { dir, data, images };
}

/** An HTTP answer read off the socket. */
export interface RawAnswer {
  status: number;
  headers: string;
  body: string;
}

/**
 * Sends `request` byte for byte (no client in between to normalise `..` or re-encode the path,
 * as fetch and http.request would) and reads the answer until the server closes.
 */
export function rawRequest(port: number, request: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const [head = '', ...rest] = text.split('\r\n\r\n');
      resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0), headers: head, body: rest.join('\r\n\r\n') });
    });
    socket.write(request);
  });
}

/** A GET with the given raw target and Host, closing the connection after the answer. */
export function rawGet(port: number, target: string, host = `127.0.0.1:${port}`): Promise<RawAnswer> {
  return rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
}
