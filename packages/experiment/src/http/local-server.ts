import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import { RequestError } from '../label/errors.js';

/*
 * The local web servers of `cnn label` and `cnn serve`, and the rules they share: loopback by
 * default, a Host header naming this server (a page on another site that rebinds its DNS
 * name to 127.0.0.1 gets 403), a per-run token for everything but the pages themselves, no
 * writes from a foreign Origin, size-limited JSON bodies, every failure a 4xx (an unexpected
 * error a 500 for that request only).
 */

/** One request as the handler sees it, after the Host check. */
export interface LocalRequest {
  req: IncomingMessage;
  res: ServerResponse;
  /** The request target as sent (path and query). */
  rawUrl: string;
  /** The path part of rawUrl, not decoded. */
  rawPath: string;
  method: string;
}

/** Options of startLocalServer. */
export interface LocalServerOptions {
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /** Port (default 0: one the system picks). */
  port?: number;
  /** The run's token (default: 24 random bytes); tests pass their own. */
  token?: string;
  /** Headers set on every answer, errors included. */
  headers?: Readonly<Record<string, string>>;
}

/** A running local server. */
export interface LocalServer {
  server: Server;
  port: number;
  token: string;
  /** `http://host:port`, the host being one the browser on this machine reaches the server by. */
  origin: string;
  close(): Promise<void>;
}

/** The largest request body taken (labels and settings are a few dozen bytes). */
const MAX_BODY_BYTES = 16 << 10;

/** Starts an HTTP server whose requests pass the Host check and go to `handle`. */
export async function startLocalServer(options: LocalServerOptions, handle: (request: LocalRequest) => Promise<void>): Promise<LocalServer> {
  const token = options.token ?? randomBytes(24).toString('base64url');
  const host = options.host ?? '127.0.0.1';
  const allowedHosts = new Set<string>();
  const server = createServer((req, res) => {
    for (const [name, value] of Object.entries(options.headers ?? {})) res.setHeader(name, value);
    checked(req, res).catch((error: unknown) => {
      const status = error instanceof RequestError ? error.status : 500;
      const message = error instanceof Error ? error.message : String(error);
      if (!res.headersSent) sendJson(res, status, { error: message });
      else res.destroy();
    });
  });
  // A request that is not HTTP at all never reaches the handler: answer 400 and drop the connection.
  server.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;

  async function checked(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const hostHeader = (req.headers.host ?? '').toLowerCase();
    if (!allowedHosts.has(hostHeader)) throw new RequestError(403, 'wrong Host header');
    const rawUrl = req.url ?? '';
    if (!rawUrl.startsWith('/')) throw new RequestError(400, 'the request target must be a path');
    await handle({ req, res, rawUrl, rawPath: rawUrl.split(/[?#]/, 1)[0]!, method: req.method ?? '' });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  for (const name of hostNames(host)) allowedHosts.add(`${name}:${port}`.toLowerCase());
  // On a wildcard address the browser on this machine still reaches the server through loopback.
  const shownHost = isWildcard(host) ? '127.0.0.1' : urlHost(host);
  return {
    server,
    port,
    token,
    origin: `http://${shownHost}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * Checks the run's token (in constant time): sent as the header `header` or, for a read (an
 * `<img>` cannot send a header), as a `token` query parameter. `command` names the command
 * whose printed address carries it.
 */
export function checkToken(request: LocalRequest, token: string, header: string, command: string, allowQuery: boolean): void {
  const query = allowQuery ? new URLSearchParams(request.rawUrl.slice(request.rawPath.length).split('#', 1)[0]).get('token') : null;
  const given = Buffer.from(String(request.req.headers[header] ?? query ?? ''));
  const wanted = Buffer.from(token);
  if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) throw new RequestError(403, `missing or wrong token: open the address that ${command} printed`);
}

/** A write must not come from another site's page. */
export function checkSameOrigin(req: IncomingMessage): void {
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `http://${req.headers.host}`) throw new RequestError(403, 'cross-origin write refused');
}

/** The request's JSON body (application/json, at most MAX_BODY_BYTES). */
export async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') throw new RequestError(415, 'send application/json');
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) throw new RequestError(413, 'request body too large');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new RequestError(413, 'request body too large');
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new RequestError(400, 'the body is not valid JSON');
  }
}

/** Headers of every answer: no sniffing, no referrer, no framing, no reads from other sites. */
export const COMMON_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { ...COMMON_HEADERS, 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' }).end(JSON.stringify(value));
}

/** Settles on Ctrl+C or SIGTERM: a command's local server runs until then. */
export function untilStopped(): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** Names under which the browser may address this server (what the Host header may say, without the port). */
function hostNames(host: string): string[] {
  const names = new Set(['127.0.0.1', 'localhost', '[::1]']);
  if (isWildcard(host)) {
    // Listening everywhere on purpose: any of this machine's own names and addresses.
    names.add(hostname());
    for (const list of Object.values(networkInterfaces())) for (const info of list ?? []) names.add(urlHost(info.address));
  } else {
    names.add(urlHost(host));
  }
  return [...names];
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
