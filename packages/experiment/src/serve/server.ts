import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Server, ServerResponse } from 'node:http';
import { RequestError } from '../label/errors.js';
import { checkToken, COMMON_HEADERS, sendJson, startLocalServer, type LocalRequest } from '../http/local-server.js';
import type { InputRecipe } from '../data/index.js';
import { CLASSIFY_HTML, LEARN_HTML } from './pages.js';

/** A model the pages may load: an experiment's output folder, read and checked by the server. */
export interface ServedModel {
  /** Shown in the page (the folder's name). */
  name: string;
  prototxt: string;
  weights: Uint8Array;
  classes: string[];
  recipe: InputRecipe;
}

/** Options of startServeServer. */
export interface ServeOptions {
  model?: ServedModel;
  host?: string;
  port?: number;
  token?: string;
  /** The folder of the browser bundle (default: the package's dist/web, built by `npm run build`). */
  bundle?: string;
}

/** A running `cnn serve`. */
export interface ServeServer {
  /** The address to open, token included. */
  url: string;
  port: number;
  token: string;
  server: Server;
  close(): Promise<void>;
}

/** The bundle's files the pages load, and their types. */
const BUNDLE_FILES: Record<string, string> = {
  'engine.js': 'text/javascript; charset=utf-8',
  'learn.js': 'text/javascript; charset=utf-8',
  'classify.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
};

export const DEFAULT_BUNDLE = fileURLToPath(new URL('../../dist/web/', import.meta.url));

/**
 * The headers that make a page cross-origin isolated (so it has SharedArrayBuffer and the
 * library's pool can run), on every answer: the pages, their scripts and workers alike.
 */
const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

/**
 * The pages may run only their own scripts and workers, compile WebAssembly (the wasm
 * backend emits its modules), and talk to this server only.
 */
const CSP =
  "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; style-src 'self'; img-src 'self' blob: data:; " +
  "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const TOKEN_HEADER = 'x-serve-token';

/**
 * Starts the server of `cnn serve`, under the labeller's rules (http/local-server.ts): the
 * pages (`/learn`, `/classify`) and the bundle's files (`/app/...`, code only) answer anyone
 * who names this server. The model (`/api/model`, `/api/model/prototxt`, `/api/model/weights`)
 * needs the run's token when the server listens beyond this machine (`--host 0.0.0.0`); on a
 * loopback address, where the Host check already keeps other sites' pages out, the pages work
 * from their plain address too (`cnn serve --model DIR --port P` then `/classify`, the command's
 * contract). Nothing is fetched from anywhere else.
 */
export async function startServeServer(options: ServeOptions): Promise<ServeServer> {
  const bundle = options.bundle ?? DEFAULT_BUNDLE;
  const files = new Map<string, Buffer>();
  for (const name of Object.keys(BUNDLE_FILES)) {
    try {
      files.set(name, await readFile(path.join(bundle, name)));
    } catch {
      throw new Error(`the pages' bundle is missing (${path.join(bundle, name)}): build it with npm run build`);
    }
  }
  const { model } = options;
  const loopback = isLoopback(options.host ?? '127.0.0.1');
  const local = await startLocalServer({ ...options, headers: ISOLATION_HEADERS }, handle);
  const { token } = local;

  async function handle(request: LocalRequest): Promise<void> {
    const { res, rawUrl, rawPath, method } = request;
    if (method !== 'GET') throw new RequestError(405, 'only GET here');
    switch (rawPath) {
      case '/': {
        const query = rawUrl.slice(rawPath.length);
        res.writeHead(302, { ...COMMON_HEADERS, Location: `${model ? '/classify' : '/learn'}${query}` }).end();
        return;
      }
      case '/learn':
        return send(res, LEARN_HTML, 'text/html; charset=utf-8');
      case '/classify':
        return send(res, CLASSIFY_HTML, 'text/html; charset=utf-8');
      case '/favicon.ico':
        res.writeHead(204).end();
        return;
    }
    if (rawPath.startsWith('/app/')) {
      const name = rawPath.slice('/app/'.length);
      const body = files.get(name);
      if (body === undefined) throw new RequestError(404, 'not found');
      return send(res, body, BUNDLE_FILES[name]!);
    }
    if (!loopback) checkToken(request, token, TOKEN_HEADER, 'cnn serve', false);
    if (!rawPath.startsWith('/api/model')) throw new RequestError(404, 'not found');
    if (!model) throw new RequestError(404, 'cnn serve runs without --model');
    switch (rawPath) {
      case '/api/model':
        return sendJson(res, 200, { name: model.name, classes: model.classes, recipe: recipeJson(model.recipe) });
      case '/api/model/prototxt':
        return send(res, model.prototxt, 'text/plain; charset=utf-8');
      case '/api/model/weights':
        return send(res, model.weights, 'application/octet-stream');
    }
    throw new RequestError(404, 'not found');
  }

  return { url: `${local.origin}/${model ? 'classify' : 'learn'}?token=${encodeURIComponent(token)}`, port: local.port, token, server: local.server, close: local.close };
}

/** True for an address only this machine reaches. */
function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** The recipe as JSON: a mean image's values as a plain array. */
function recipeJson(recipe: InputRecipe): object {
  return 'values' in recipe.mean ? recipe : { ...recipe, mean: { ...recipe.mean, image: Array.from(recipe.mean.image) } };
}

function send(res: ServerResponse, body: string | Uint8Array, type: string): void {
  res.writeHead(200, { ...COMMON_HEADERS, 'Content-Type': type, 'Cache-Control': 'no-store', 'Content-Security-Policy': CSP }).end(body);
}
