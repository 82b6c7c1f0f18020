import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DownloadError, fetchModel, MODEL_ZOO } from '@cnn/experiment';
import { REPO_ROOT } from './helpers/shared.js';

/**
 * `cnn fetch-model` against a local HTTP server on 127.0.0.1 (there is no internet here): a
 * small file served with Range support, a transfer cut off midway and then resumed, a wrong
 * checksum, a server that ignores Range, and a missing file.
 */

const payload = randomBytes(600_000);
const sha1 = createHash('sha1').update(payload).digest('hex');
const FILE = MODEL_ZOO.caffenet!.file;

/** What the server does with the next request, and what it saw. */
const server = {
  cutAfter: undefined as number | undefined,
  ignoreRange: false,
  requests: [] as { url: string; range: string | undefined; status: number }[],
  /** Bytes the endless route has written so far. */
  streamed: 0,
};

const httpServer = http.createServer((req, res) => {
  const range = server.ignoreRange ? undefined : req.headers.range;
  const record = (status: number): void => void server.requests.push({ url: req.url ?? '', range: req.headers.range, status });
  if (req.url === '/endless' || req.url === '/announces-too-much') {
    // A server that never stops (a misconfigured mirror, an attacker): 64 KiB chunks up to 40 MB,
    // a bound only so that a client without a size cap ends too. Bytes written are counted.
    record(200);
    res.writeHead(200, req.url === '/endless' ? {} : { 'Content-Length': 50_000_000 });
    let sent = 0;
    const chunk = Buffer.alloc(65_536, 7);
    const more = (): void => {
      while (sent < 40_000_000 && !res.destroyed) {
        sent += chunk.length;
        server.streamed = sent;
        if (!res.write(chunk)) return void res.once('drain', more);
      }
      res.end();
    };
    more();
    return;
  }
  if (req.url !== '/bvlc_reference_caffenet.caffemodel') {
    record(404);
    res.writeHead(404).end('not found');
    return;
  }
  let start = 0;
  if (range) {
    start = Number(/^bytes=(\d+)-$/.exec(range)?.[1]);
    if (!(start < payload.length)) {
      record(416);
      res.writeHead(416, { 'Content-Range': `bytes */${payload.length}` }).end();
      return;
    }
    record(206);
    res.writeHead(206, { 'Content-Length': payload.length - start, 'Content-Range': `bytes ${start}-${payload.length - 1}/${payload.length}` });
  } else {
    record(200);
    res.writeHead(200, { 'Content-Length': payload.length, 'Content-Type': 'application/octet-stream' });
  }
  const body = payload.subarray(start);
  const cut = server.cutAfter;
  if (cut !== undefined) {
    server.cutAfter = undefined;
    // Send part of the body, then drop the connection as a failing network would.
    res.write(body.subarray(0, cut), () => setTimeout(() => res.socket?.destroy(), 50));
    return;
  }
  res.end(body);
});

let baseUrl = '';
let dir = '';
const root = mkdtempSync(path.join(tmpdir(), 'cnn-fetch-test-'));

beforeAll(async () => {
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => httpServer.close(() => resolve()));
  rmSync(root, { recursive: true, force: true });
});

let run = 0;
beforeEach(() => {
  dir = path.join(root, `run${run++}`);
  server.cutAfter = undefined;
  server.ignoreRange = false;
  server.requests = [];
});

const url = (): string => `${baseUrl}/bvlc_reference_caffenet.caffemodel`;

describe('fetch-model', () => {
  it('downloads into the folder, verifies the sha1, and leaves no .part behind', async () => {
    const result = await fetchModel('caffenet', { url: url(), sha1, dir, quiet: true });
    expect(result).toMatchObject({ file: path.join(dir, FILE), bytes: payload.length, sha1, resumedFrom: 0, alreadyPresent: false });
    expect(readFileSync(path.join(dir, FILE)).equals(payload)).toBe(true);
    expect(existsSync(path.join(dir, `${FILE}.part`))).toBe(false);

    const again = await fetchModel('caffenet', { url: url(), sha1, dir, quiet: true });
    expect(again.alreadyPresent).toBe(true);
    expect(server.requests).toHaveLength(1);
  });

  it('keeps the part of an interrupted transfer, then resumes it with a Range request', async () => {
    server.cutAfter = 250_000;
    const broken = fetchModel('caffenet', { url: url(), sha1, dir, quiet: true });
    await expect(broken).rejects.toBeInstanceOf(DownloadError);
    await expect(broken).rejects.toThrow(/run the same command again to resume/);
    const part = path.join(dir, `${FILE}.part`);
    const kept = statSync(part).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(payload.length);
    expect(existsSync(path.join(dir, FILE))).toBe(false);
    expect(readFileSync(part).equals(payload.subarray(0, kept))).toBe(true);

    const result = await fetchModel('caffenet', { url: url(), sha1, dir, quiet: true });
    expect(result.resumedFrom).toBe(kept);
    expect(server.requests.at(-1)).toMatchObject({ range: `bytes=${kept}-`, status: 206 });
    expect(readFileSync(path.join(dir, FILE)).equals(payload)).toBe(true);
    expect(existsSync(part)).toBe(false);
  });

  it('deletes a download whose sha1 is wrong and keeps nothing in place', async () => {
    const wrong = '0123456789abcdef0123456789abcdef01234567';
    const attempt = fetchModel('caffenet', { url: url(), sha1: wrong, dir, quiet: true });
    await expect(attempt).rejects.toBeInstanceOf(DownloadError);
    await expect(attempt).rejects.toThrow(`has sha1 ${sha1}, expected ${wrong}; it was deleted`);
    expect(existsSync(path.join(dir, FILE))).toBe(false);
    expect(existsSync(path.join(dir, `${FILE}.part`))).toBe(false);
  });

  it('starts over when the server ignores Range on a resume', async () => {
    server.cutAfter = 100_000;
    await expect(fetchModel('caffenet', { url: url(), sha1, dir, quiet: true })).rejects.toBeInstanceOf(DownloadError);
    server.ignoreRange = true;
    const result = await fetchModel('caffenet', { url: url(), sha1, dir, quiet: true });
    expect(server.requests.at(-1)?.status).toBe(200);
    expect(readFileSync(result.file).equals(payload)).toBe(true);
  });

  it('stops an endless stream at the expected size instead of taking all it is sent', async () => {
    const attempt = fetchModel('caffenet', { url: `${baseUrl}/endless`, sha1, bytes: payload.length, dir, quiet: true });
    await expect(attempt).rejects.toBeInstanceOf(DownloadError);
    await expect(attempt).rejects.toThrow(`${baseUrl}/endless: the server sent more than the expected ${payload.length} bytes; stopped there. `);
    expect(existsSync(path.join(dir, `${FILE}.part`))).toBe(false);
    // Stopped at the size, not after everything: far less than the 40 MB the server would send.
    expect(server.streamed).toBeLessThan(10_000_000);
  });

  it('refuses a response whose Content-Length exceeds the expected size before reading it', async () => {
    const attempt = fetchModel('caffenet', { url: `${baseUrl}/announces-too-much`, sha1, bytes: payload.length, dir, quiet: true });
    await expect(attempt).rejects.toThrow(`${baseUrl}/announces-too-much: the server announces 50000000 bytes, more than the expected ${payload.length}; nothing was kept`);
    expect(existsSync(path.join(dir, `${FILE}.part`))).toBe(false);
  });

  it('reports an HTTP error with its status', async () => {
    await expect(fetchModel('caffenet', { url: `${baseUrl}/missing`, sha1, dir, quiet: true })).rejects.toThrow(/missing: HTTP 404 Not Found$/);
  });

  it('runs as `cnn fetch-model caffenet` with a progress display and one closing line', async () => {
    const child = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ['--conditions=source', '--import', 'tsx', 'packages/experiment/src/cli.ts', 'fetch-model', 'caffenet', '--url', url(), '--sha1', sha1, '--dir', dir],
        { cwd: REPO_ROOT },
        (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
      );
    });
    expect(child.code).toBe(0);
    expect(child.stdout.trim()).toBe(`saved ${path.join(dir, FILE)} (600,000 bytes, sha1 ${sha1} verified)`);
    expect(child.stderr).toMatch(/downloading bvlc_reference_caffenet\.caffemodel: 0\.6\/0\.6 MB/);
  });
});
