import { once } from 'node:events';
import { createWriteStream, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { startProgress } from '../progress.js';
import { CommandError, DownloadError } from './errors.js';
import { sha1File } from './files.js';

/** A model that `cnn fetch-model` knows where to get. */
export interface ZooEntry {
  url: string;
  sha1: string;
  /** Default folder, relative to the working directory. */
  dir: string;
  file: string;
  bytes: number;
}

/**
 * The models `cnn fetch-model` can download. CaffeNet's address and sha1 are those of BVLC's
 * models/bvlc_reference_caffenet/readme.md (the Caffe model zoo).
 */
export const MODEL_ZOO: Readonly<Record<string, ZooEntry>> = {
  caffenet: {
    url: 'http://dl.caffe.berkeleyvision.org/bvlc_reference_caffenet.caffemodel',
    sha1: '4c8d77deb20ea792f84eb5e6d0a11ca0a8660a46',
    dir: 'models/bvlc_reference_caffenet',
    file: 'bvlc_reference_caffenet.caffemodel',
    bytes: 243_862_418,
  },
};

/** Options of `cnn fetch-model`; `url` and `sha1` replace the zoo's (tests use a local server). */
export interface FetchOptions {
  url?: string;
  sha1?: string;
  /** Expect this size instead of the published one: nothing past it is downloaded. */
  bytes?: number;
  dir?: string;
  quiet?: boolean;
  /** Give up when no data arrives for this long (default 60 s); the partial file is kept. */
  timeoutMs?: number;
}

/** What a finished `cnn fetch-model` did. */
export interface FetchResult {
  file: string;
  bytes: number;
  sha1: string;
  /** Bytes already on disk from an interrupted download, that were not fetched again. */
  resumedFrom: number;
  /** The verified file was already there: nothing was downloaded. */
  alreadyPresent: boolean;
}

const MAX_REDIRECTS = 5;

/**
 * `cnn fetch-model NAME`: downloads a model's weights into `<dir>/<file>`. Bytes go to
 * `<file>.part` first; a `.part` left by an interrupted run is resumed with an HTTP Range
 * request (a server that ignores Range sends the whole file, which then replaces it). At the
 * end the sha1 of the whole file is checked, and only a file with the published sha1 is
 * renamed to its final name: a wrong one is deleted, so nothing corrupt is left to be loaded.
 * Nothing past the published size is taken: a response announcing more is refused unread, and
 * a stream that goes on is cut there (then checked, and deleted unless its sha1 is right).
 */
export async function fetchModel(name: string, options: FetchOptions = {}): Promise<FetchResult> {
  const entry = MODEL_ZOO[name];
  if (!entry) throw new CommandError(`unknown model '${name}'; available: ${Object.keys(MODEL_ZOO).join(', ')}`);
  const url = options.url ?? entry.url;
  const expected = (options.sha1 ?? entry.sha1).toLowerCase();
  if (!/^[0-9a-f]{40}$/.test(expected)) throw new CommandError(`--sha1 '${options.sha1}' is not 40 hexadecimal digits`);
  const dir = options.dir ?? entry.dir;
  const dest = path.join(dir, entry.file);
  const part = `${dest}.part`;
  mkdirSync(dir, { recursive: true });

  if (existsSync(dest)) {
    const sha1 = sha1File(dest);
    if (sha1 !== expected) {
      throw new DownloadError(`${dest} already exists but its sha1 is ${sha1}, not ${expected}: delete it and run fetch-model again`);
    }
    return { file: dest, bytes: statSync(dest).size, sha1, resumedFrom: 0, alreadyPresent: true };
  }

  const limit = options.bytes ?? entry.bytes;
  const resumedFrom = existsSync(part) ? statSync(part).size : 0;
  const { overran } = await download(url, part, resumedFrom, limit, options);
  const bytes = statSync(part).size;
  const sha1 = sha1File(part);
  if (sha1 !== expected) {
    rmSync(part, { force: true });
    const what = overran ? `the server sent more than the expected ${limit} bytes; stopped there. The first ${limit}` : `the downloaded file (${bytes} bytes)`;
    throw new DownloadError(`${url}: ${what} ha${overran ? 've' : 's'} sha1 ${sha1}, expected ${expected}; it was deleted (run again to download it afresh)`);
  }
  renameSync(part, dest);
  return { file: dest, bytes, sha1, resumedFrom, alreadyPresent: false };
}

/**
 * Fetches `url` into `part`, continuing from `offset` bytes already there, and never past
 * `limit` bytes in all; `overran` says the server had more to send than that.
 */
async function download(url: string, part: string, offset: number, limit: number, options: FetchOptions): Promise<{ overran: boolean }> {
  let response = await request(url, offset > 0 ? { Range: `bytes=${offset}-` } : {}, options.timeoutMs);
  let start = offset;
  if (response.statusCode === 416 && offset > 0) {
    // Nothing left past `offset`: either the .part is already complete or it is longer than the file.
    const total = Number(/\/(\d+)$/.exec(response.headers['content-range'] ?? '')?.[1]);
    response.resume();
    if (total === offset) return { overran: false };
    rmSync(part, { force: true });
    response = await request(url, {}, options.timeoutMs);
    start = 0;
  }
  if (response.statusCode === 200) {
    // A server without Range support sends everything: start the file over.
    start = 0;
  } else if (response.statusCode === 206) {
    const from = Number(/^bytes (\d+)-/.exec(response.headers['content-range'] ?? '')?.[1]);
    if (from !== offset) {
      response.resume();
      throw new DownloadError(`${url}: asked for bytes from ${offset}, the server sent '${response.headers['content-range'] ?? 'no Content-Range'}'`);
    }
  } else {
    response.resume();
    throw new DownloadError(`${url}: HTTP ${response.statusCode} ${response.statusMessage ?? ''}`.trimEnd());
  }

  const length = Number(response.headers['content-length']);
  const total = Number.isFinite(length) ? start + length : undefined;
  if (total !== undefined && total > limit) {
    response.destroy();
    if (start === 0) rmSync(part, { force: true });
    throw new DownloadError(`${url}: the server announces ${total} bytes, more than the expected ${limit}; nothing was kept`);
  }
  const megabytes = (bytes: number): number => Math.round(bytes / 1e5) / 10;
  const progress = startProgress(`downloading ${path.basename(part, '.part')}`, megabytes(total ?? limit), 'MB', options.quiet);
  let received = start;
  let overran = false;
  const file = createWriteStream(part, { flags: start > 0 ? 'a' : 'w' });
  try {
    for await (const chunk of response as AsyncIterable<Buffer>) {
      const room = limit - received;
      const piece = chunk.length > room ? chunk.subarray(0, room) : chunk;
      received += piece.length;
      progress.update(megabytes(received));
      if (!file.write(piece)) await once(file, 'drain');
      // Leaving the loop destroys the response: nothing more is read.
      if (chunk.length > room) {
        overran = true;
        break;
      }
    }
  } catch (error) {
    throw new DownloadError(
      `${url}: the download broke off after ${received}${total === undefined ? '' : ` of ${total}`} bytes ` +
        `(${(error as Error).message}); the partial file ${part} is kept: run the same command again to resume`,
    );
  } finally {
    progress.stop();
    await new Promise<void>((resolve, reject) => file.end((error?: Error | null) => (error ? reject(error) : resolve())));
  }
  if (!overran && total !== undefined && received !== total) {
    throw new DownloadError(`${url}: the server closed the connection after ${received} of ${total} bytes; run the same command again to resume from ${part}`);
  }
  return { overran };
}

/** A GET of `url` following redirects; resolves with the response (its body not yet read). */
function request(url: string, headers: Record<string, string>, timeoutMs = 60_000, redirects = 0): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      reject(new CommandError(`'${url}' is not a URL`));
      return;
    }
    const client = target.protocol === 'https:' ? https : target.protocol === 'http:' ? http : undefined;
    if (!client) {
      reject(new CommandError(`${url}: only http and https URLs can be fetched`));
      return;
    }
    const req = client.get(target, { headers: { 'User-Agent': 'cnn fetch-model', ...headers } }, (response) => {
      const status = response.statusCode ?? 0;
      const location = response.headers.location;
      if (status >= 300 && status < 400 && location) {
        response.resume();
        if (redirects >= MAX_REDIRECTS) {
          reject(new DownloadError(`${url}: more than ${MAX_REDIRECTS} redirects`));
          return;
        }
        request(new URL(location, target).href, headers, timeoutMs, redirects + 1).then(resolve, reject);
        return;
      }
      resolve(response);
    });
    // An idle connection (no bytes for timeoutMs) is an error, never an endless wait.
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no data for ${timeoutMs / 1000} s`)));
    req.on('error', (error) => reject(new DownloadError(`${url}: ${error.message}`)));
  });
}

/** The line `cnn fetch-model` prints when it is done. */
export function formatFetch(result: FetchResult): string {
  if (result.alreadyPresent) return `${result.file} is already there (sha1 ${result.sha1} verified)`;
  const resumed = result.resumedFrom > 0 ? `, resumed from byte ${result.resumedFrom}` : '';
  return `saved ${result.file} (${result.bytes.toLocaleString('en-US')} bytes, sha1 ${result.sha1} verified${resumed})`;
}
