import { readFile } from 'node:fs/promises';
import type { Server, ServerResponse } from 'node:http';
import { checkPixelLimit, declaredSize, decodeImage, DatasetError, ImageTooLargeError, pixelLimit, toUint8Image, type ImageFormat } from '../data/index.js';
import { encodeGrayPng, encodePng } from '../report/png.js';
import { RequestError } from './errors.js';
import { checkSameOrigin, checkToken, COMMON_HEADERS, readJsonBody, sendJson, startLocalServer, type LocalRequest } from '../http/local-server.js';
import type { LabelItem } from './items.js';
import type { Suggestion } from './suggest.js';
import { PAGE_CSS, PAGE_HTML, PAGE_JS } from './page.js';
import { checkImagePath, decodeRequestPath, MAX_IMAGE_BYTES, toUrlPath } from './paths.js';
import type { LabelRecord, LabelStore } from './store.js';

/** What a run does: label images, run a blinded reader study, or settle two label files' disagreements. */
export type LabelMode = 'label' | 'reader' | 'review';

/** An image of the run as the server holds it. */
export interface RunItem extends LabelItem {
  /** The model's suggestion (`cnn label --model`; never in a reader study). */
  suggestion?: Suggestion;
  /** The path below the served folder (label and review runs; a reader study serves by position and needs none). */
  rel?: string;
}

/** Options of startLabelServer. */
export interface ServerOptions {
  mode: LabelMode;
  classes: readonly string[];
  /** The images, in the order they are shown. */
  items: readonly RunItem[];
  store: LabelStore;
  /** Written into every row. */
  labeller: string;
  /** The real path of the folder `/images/` serves from; required unless mode is 'reader'. */
  root?: string;
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /** Port (default 0: one the system picks). */
  port?: number;
  /** The write token (default: 24 random bytes); tests pass their own. */
  token?: string;
  /** Shown in the page (the output file's name, say). */
  title?: string;
  /** The most megapixels an image may declare (default 50); a larger one is refused with 413, unread. */
  maxMegapixels?: number;
}

/** A running labeller. */
export interface LabelServer {
  /** The address to open, token included. */
  url: string;
  port: number;
  token: string;
  server: Server;
  close(): Promise<void>;
}

/** The header the page sends the token in. */
const TOKEN_HEADER = 'x-label-token';
/** Longest time on one image a reader study records (a day: anything beyond is a tab left open, not reading). */
const MAX_SECONDS = 86_400;

/**
 * Starts the labeller's HTTP server.
 *
 * Routes: `GET /` (the page), `/app.js`, `/app.css`, `GET /api/state` (classes, images and
 * their labels), `POST /api/label` (set or clear one label), `GET /images/<path>` (an image
 * below the data folder: label and review runs), `GET /items/<n>/image` (the n-th image of a
 * reader study, re-encoded so no file name or metadata reaches the reader).
 *
 * Defences, in the order they run: the Host header must name this server (a web page on
 * another site that rebinds its DNS name to 127.0.0.1 gets 403); every route but the page
 * itself (`/`, its script and style) needs the per-run token, so a server listening on
 * 0.0.0.0 shows nobody without the printed address the data set or its labels; writes take
 * the token only as a header (the page copies it from its URL; another site's form cannot set
 * it) and refuse a foreign Origin, while reads also take it as a `token` query parameter (an
 * `<img>` cannot send a header); images pass decodeRequestPath and checkImagePath, bodies are
 * size-limited JSON. Every failure is a 4xx answer; an unexpected error is a 500 for that
 * request only.
 */
export async function startLabelServer(options: ServerOptions): Promise<LabelServer> {
  if (options.mode !== 'reader' && options.root === undefined) throw new Error('startLabelServer: a label or review run needs the served folder (root)');
  const state = new RunState(options);
  const local = await startLocalServer(options, handle);
  const { token } = local;

  async function handle(request: LocalRequest): Promise<void> {
    const { req, res, rawPath, method } = request;

    if (rawPath === '/api/label') {
      if (method !== 'POST') throw new RequestError(405, 'use POST');
      checkToken(request, token, TOKEN_HEADER, 'cnn label', false);
      checkSameOrigin(req);
      const body = await readJsonBody(req);
      sendJson(res, 200, await state.apply(body));
      return;
    }
    if (method !== 'GET') throw new RequestError(405, 'only GET here');
    switch (rawPath) {
      case '/':
        return sendText(res, PAGE_HTML, 'text/html; charset=utf-8');
      case '/app.js':
        return sendText(res, PAGE_JS, 'text/javascript; charset=utf-8');
      case '/app.css':
        return sendText(res, PAGE_CSS, 'text/css; charset=utf-8');
      case '/favicon.ico':
        res.writeHead(204).end();
        return;
    }
    checkToken(request, token, TOKEN_HEADER, 'cnn label', true);
    if (rawPath === '/api/state') return sendJson(res, 200, state.snapshot());
    if (rawPath.startsWith('/images/')) {
      if (options.mode === 'reader') throw new RequestError(404, 'a reader study serves images by position only');
      const checked = await checkImagePath(options.root!, decodeRequestPath(rawPath.slice('/images/'.length)));
      return sendImage(res, await readFile(checked.file), checked.format, checked.file, false, pixelLimit(options.maxMegapixels));
    }
    const byPosition = /^\/items\/(\d{1,9})\/image$/.exec(rawPath);
    if (byPosition && options.mode === 'reader') {
      const item = options.items[Number(byPosition[1])];
      if (!item) throw new RequestError(404, 'no such image');
      const bytes = await readFile(item.file);
      if (bytes.length > MAX_IMAGE_BYTES) throw new RequestError(413, 'the image file is too large to serve');
      return sendImage(res, bytes, undefined, item.file, true, pixelLimit(options.maxMegapixels));
    }
    throw new RequestError(404, 'not found');
  }

  return { url: `${local.origin}/?token=${encodeURIComponent(token)}`, port: local.port, token, server: local.server, close: local.close };
}

/** The run's images and labels as the page sees them, and the one place labels change. */
class RunState {
  constructor(private readonly options: ServerOptions) {}

  /**
   * Classes, shortcut keys and every image with its label. A reader study sends no names,
   * studies, source labels or paths: only positions and the reader's own labels.
   */
  snapshot(): object {
    const { mode, classes, items, store, labeller, title } = this.options;
    const reader = mode === 'reader';
    return {
      mode,
      title: title ?? '',
      labeller,
      classes,
      keys: classes.map((_, i) => shortcutKey(i)),
      items: items.map((item, index) => {
        const record = store.get(item.key);
        const out: Record<string, unknown> = {
          index,
          image: reader ? `/items/${index}/image` : `/images/${toUrlPath(item.rel ?? '')}`,
          label: record?.label ?? null,
        };
        if (reader) {
          out.seconds = record?.seconds ?? null;
          return out;
        }
        out.name = item.name;
        out.study = item.study;
        if (item.sourceLabel !== undefined) out.sourceLabel = item.sourceLabel;
        if (item.suggestion) out.suggestion = item.suggestion;
        if (item.review) out.review = { a: pick(item.review.a), b: pick(item.review.b) };
        return out;
      }),
    };
  }

  /** Sets (`label` a class) or clears (`label` null: the undo of a first label) one image's label, once it is on disk. */
  async apply(body: unknown): Promise<object> {
    const { classes, items, store, labeller, mode } = this.options;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new RequestError(400, 'expected a JSON object {index, label}');
    const { index, label, seconds } = body as { index?: unknown; label?: unknown; seconds?: unknown };
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= items.length) throw new RequestError(400, 'index must be the position of an image of this run');
    if (label !== null && (typeof label !== 'string' || !classes.includes(label))) throw new RequestError(400, 'label must be one of the classes, or null to clear');
    if (seconds !== undefined && seconds !== null && (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0 || seconds > MAX_SECONDS)) {
      throw new RequestError(400, `seconds must be a number from 0 to ${MAX_SECONDS}`);
    }
    const key = items[index]!.key;
    try {
      if (label === null) await store.delete(key);
      else {
        const record: LabelRecord = { path: key, label, labeller, timestamp: new Date().toISOString() };
        if (mode === 'reader' && typeof seconds === 'number') record.seconds = seconds;
        const suggestion = mode === 'label' ? items[index]!.suggestion : undefined;
        if (suggestion) record.extra = { suggestion: suggestion.label, suggestion_taken: label === suggestion.label ? 'yes' : 'no' };
        await store.set(record);
      }
    } catch (error) {
      // The label is in memory and the next save retries it, but the page must say it is not on disk yet.
      throw new Error(`the label could not be saved: ${(error as Error).message}`);
    }
    return { index, label, seconds: store.get(key)?.seconds ?? null, done: items.filter((item) => store.get(item.key) !== undefined).length };
  }
}

function pick(record: LabelRecord): { label: string; labeller: string } {
  return { label: record.label, labeller: record.labeller };
}

/** The key that picks class `i`: 1-9, then a-z (35 classes); later classes are picked by button only. */
export function shortcutKey(i: number): string | null {
  if (i < 9) return String(i + 1);
  if (i < 35) return String.fromCharCode(97 + i - 9);
  return null;
}

/** The page may load only its own script, style and images, and be framed by nobody. */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function sendText(res: ServerResponse, body: string, type: string): void {
  res.writeHead(200, { ...COMMON_HEADERS, 'Content-Type': type, 'Cache-Control': 'no-store', 'Content-Security-Policy': CSP }).end(body);
}

/**
 * Sends an image: PNG and JPEG as stored, DICOM decoded and sent as PNG (browsers cannot show
 * it). `reencode` sends every format as a fresh PNG, dropping file names and text chunks.
 * An image declaring more than `maxPixels` is refused (413) before it is decoded or sent: the
 * browser would decode a decompression bomb as readily as the server.
 */
function sendImage(res: ServerResponse, bytes: Buffer, format: ImageFormat | undefined, file: string, reencode: boolean, maxPixels: number): void {
  let body: Uint8Array = bytes;
  let type = format === 'jpeg' ? 'image/jpeg' : 'image/png';
  const reason = (error: unknown): string => (error as Error).message.replace(`${file}: `, '');
  if (reencode || format === 'dicom' || format === undefined) {
    let decoded;
    try {
      decoded = decodeImage(bytes, file, { maxPixels });
    } catch (error) {
      if (error instanceof ImageTooLargeError) throw new RequestError(413, `the image ${reason(error)}`);
      throw new RequestError(422, `cannot decode the image: ${reason(error)}`);
    }
    body = toPng(toUint8Image(decoded));
    type = 'image/png';
  } else {
    try {
      const { width, height } = declaredSize(bytes, file)!;
      checkPixelLimit(file, width, height, maxPixels);
    } catch (error) {
      if (error instanceof ImageTooLargeError) throw new RequestError(413, `the image ${reason(error)}`);
      if (error instanceof DatasetError) throw new RequestError(422, `cannot read the image: ${reason(error)}`);
      throw error;
    }
  }
  res.writeHead(200, { ...COMMON_HEADERS, 'Content-Type': type, 'Content-Length': body.byteLength, 'Cache-Control': 'private, max-age=600' }).end(body);
}

function toPng(image: ReturnType<typeof toUint8Image>): Uint8Array {
  if (image.channels === 1) return encodeGrayPng(image.data, image.width, image.height);
  const rgba = new Uint8Array(image.width * image.height * 4);
  for (let p = 0; p < image.width * image.height; p++) {
    rgba[4 * p] = image.data[3 * p]!;
    rgba[4 * p + 1] = image.data[3 * p + 1]!;
    rgba[4 * p + 2] = image.data[3 * p + 2]!;
    rgba[4 * p + 3] = 255;
  }
  return encodePng(rgba, image.width, image.height);
}
