import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { withLogContext } from '../lib/log-context.js';
import type { Logger } from '../lib/logger.js';
import { contextFromHeaders, inSpan, SpanKind } from '../lib/tracing.js';

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  url: URL;
  requestId: string;
  log: Logger;
}

export type Handler = (ctx: RequestContext) => Promise<void> | void;

export interface Route {
  method: 'GET' | 'POST' | 'ALL';
  /** Path with `:name` segments, e.g. `/webhooks/wechat/:tenantId/auth`; a trailing `*` matches a prefix. */
  path: string;
  handler: Handler;
}

interface CompiledRoute extends Route {
  regex: RegExp;
  names: string[];
}

function compile(route: Route): CompiledRoute {
  const names: string[] = [];
  const source = route.path
    .split('/')
    .map((seg) => {
      if (seg.startsWith(':')) {
        names.push(seg.slice(1));
        return '([^/]+)';
      }
      if (seg === '*') return '.*';
      return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return { ...route, regex: new RegExp(`^${source}/?$`), names };
}

/**
 * A small path router for node:http: the gateway has a handful of routes, not a framework's worth.
 * Each request runs in its log context (its request id on every line written for it) and ends
 * with one access log line.
 */
export function createRouter(routes: Route[], logger: Logger) {
  const compiled = routes.map(compile);
  return function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const header = req.headers['x-request-id'];
    const requestId = typeof header === 'string' && /^[\w.-]{1,64}$/.test(header) ? header : randomUUID();
    res.setHeader('x-request-id', requestId);
    const url = parseTarget(req.url);
    const found = url ? find(compiled, req.method, url.pathname) : undefined;
    // The route's pattern, never the path: paths carry tenant and app ids, queries carry signatures.
    const route = found && 'route' in found ? found.route.path : null;
    res.once('close', () => {
      const durationMs = Math.round((performance.now() - started) * 10) / 10;
      const fields = { requestId, method: req.method, route, status: res.statusCode, durationMs };
      logger.info(res.writableFinished ? fields : { ...fields, aborted: true }, 'http request');
    });
    return withLogContext({ requestId }, async () => {
      if (!url) return sendText(res, 400, 'bad request');
      if (!found || !('route' in found)) {
        const methodMismatch = found?.methodMismatch === true;
        return sendText(res, methodMismatch ? 405 : 404, methodMismatch ? 'method not allowed' : 'not found');
      }
      // Every line carries the request id through the log context.
      const ctx: RequestContext = { req, res, params: found.params, url, requestId, log: logger };
      const { route: matched } = found;
      const attributes = { 'http.request.method': req.method ?? '', 'http.route': matched.path, 'wxlive.request_id': requestId };
      // A server span per request, continuing the caller's trace when it sent a traceparent.
      await inSpan(`${req.method} ${matched.path}`, { kind: SpanKind.SERVER, attributes, parent: contextFromHeaders(req.headers) }, async (span) => {
        try {
          await matched.handler(ctx);
        } catch (err) {
          ctx.log.error({ err, path: url.pathname }, 'unhandled error in HTTP handler');
          if (!res.headersSent) sendText(res, 500, 'internal error');
          else res.end();
        }
        span.setAttribute('http.response.status_code', res.statusCode);
      });
    });
  };
}

type Found = { route: CompiledRoute; params: Record<string, string> } | { methodMismatch: true };

function find(routes: CompiledRoute[], method: string | undefined, pathname: string): Found | undefined {
  let methodMismatch = false;
  for (const route of routes) {
    const m = route.regex.exec(pathname);
    if (!m) continue;
    if (route.method !== 'ALL' && route.method !== method) {
      methodMismatch = true;
      continue;
    }
    const params: Record<string, string> = {};
    route.names.forEach((n, i) => {
      params[n] = decodeSegment(m[i + 1] ?? '');
    });
    return { route, params };
  }
  return methodMismatch ? { methodMismatch } : undefined;
}

// Both run before any handler's try: a throw here would be an unhandled rejection, which ends the process.
function parseTarget(target: string | undefined): URL | undefined {
  try {
    return new URL(target ?? '/', 'http://localhost');
  } catch {
    // An absolute-form target that is no URL (`POST http://[ HTTP/1.1`).
    return undefined;
  }
}

/** A segment that is not valid percent-encoding stays as sent: it can match no id, and every handler checks its params. */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

export function sendText(res: ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  sendText(res, status, JSON.stringify(body), 'application/json; charset=utf-8');
}

export class BodyTooLargeError extends Error {
  readonly code = 'BODY_TOO_LARGE';
}

/** An oversized body is read to its end, unbuffered, up to this much... */
const DRAIN_MAX_BYTES = 64 * 1024 * 1024;
/** ...and for at most this long, before the refusal is sent. */
const DRAIN_MAX_MS = 10_000;

/**
 * Reads the whole body, refusing more than `limit` bytes without buffering the rest. A refused
 * body is first read to its end and discarded (up to 64 MiB or 10 s): a 413 written while the
 * client is still uploading, then the connection closed, reaches most clients as EPIPE or a reset
 * instead of the answer. Past those bounds the refusal goes at once and the connection closes.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const refuse = (message: string) => {
      req.removeAllListeners('data');
      req.removeAllListeners('end');
      let drained = 0;
      const timer = setTimeout(() => done(), DRAIN_MAX_MS);
      const done = () => {
        clearTimeout(timer);
        req.removeAllListeners('data');
        reject(new BodyTooLargeError(message));
      };
      if (req.readableEnded) return done();
      req.on('data', (chunk: Buffer) => {
        drained += chunk.length;
        if (drained > DRAIN_MAX_BYTES) done();
      });
      req.once('end', done);
      req.resume();
    };
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      if (declared > DRAIN_MAX_BYTES) {
        req.resume();
        reject(new BodyTooLargeError(`body of ${declared} bytes is over the ${limit}-byte limit`));
        return;
      }
      refuse(`body of ${declared} bytes is over the ${limit}-byte limit`);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        refuse(`body is over the ${limit}-byte limit`);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
