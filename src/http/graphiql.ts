import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { type Route, sendText } from './router.js';

export const GRAPHIQL_ASSETS_PATH = '/graphiql/assets';

const require = createRequire(import.meta.url);

/**
 * Our own page files. `tsc` does not copy them into dist, so from `dist/src/http` they are read
 * from `src/http/static` (the Dockerfile copies that folder, as it copies the migrations).
 */
function staticDir(): string {
  const here = new URL('./static', import.meta.url);
  const candidates = [fileURLToPath(here), fileURLToPath(here.href.replace('/dist/src/', '/src/'))];
  const found = candidates.find((dir) => existsSync(join(dir, 'graphiql.html')));
  if (!found) throw new Error(`the GraphiQL page files are missing (looked in ${candidates.join(' and ')})`);
  return found;
}

/**
 * The browser files of GraphiQL and React, by the name the page asks for. `npm run build` copies
 * them into dist/graphiql-vendor (vendor-graphiql.ts), so the production install needs neither
 * package (both are devDependencies); from src (tsx) they are read from node_modules.
 */
export const VENDOR_FILES: Readonly<Record<string, readonly [pkg: string, file: string]>> = {
  'react.production.min.js': ['react', 'umd/react.production.min.js'],
  'react-dom.production.min.js': ['react-dom', 'umd/react-dom.production.min.js'],
  'graphql-ws.min.js': ['graphql-ws', 'umd/graphql-ws.min.js'],
  'graphiql.min.js': ['graphiql', 'graphiql.min.js'],
  'graphiql.min.css': ['graphiql', 'graphiql.min.css'],
};

/** dist/graphiql-vendor, from dist/src/http; from src/http it is a folder that does not exist. */
export const VENDOR_DIR = fileURLToPath(new URL('../../graphiql-vendor', import.meta.url));

/** A vendored file when the build copied it, else the package's (found through its package.json: `exports` hide the UMD files). */
function packageFile(name: string): () => string {
  return () => {
    const vendored = join(VENDOR_DIR, name);
    if (existsSync(vendored)) return vendored;
    const [pkg, file] = VENDOR_FILES[name] ?? [];
    if (!pkg || !file) throw new Error(`no vendor file named ${name}`);
    return join(dirname(require.resolve(`${pkg}/package.json`)), file);
  };
}

function ownFile(file: string): () => string {
  return () => join(staticDir(), file);
}

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';

/** The only files the assets route serves: a name is a key here or a 404, so no path reaches the disk. */
const ASSETS = new Map<string, { path: () => string; type: string }>([
  ['react.production.min.js', { path: packageFile('react.production.min.js'), type: JS }],
  ['react-dom.production.min.js', { path: packageFile('react-dom.production.min.js'), type: JS }],
  ['graphql-ws.min.js', { path: packageFile('graphql-ws.min.js'), type: JS }],
  ['graphiql.min.js', { path: packageFile('graphiql.min.js'), type: JS }],
  ['graphiql.min.css', { path: packageFile('graphiql.min.css'), type: CSS }],
  ['graphiql-page.js', { path: ownFile('graphiql-page.js'), type: JS }],
  ['graphiql-page.css', { path: ownFile('graphiql-page.css'), type: CSS }],
]);

interface LoadedAsset {
  body: Buffer;
  gzipped: Buffer;
  type: string;
  /** Content hash: the page's `?v=` and the ETag, so a year of caching never serves a stale file. */
  hash: string;
}

const gzipAsync = promisify(gzip);
const loaded = new Map<string, Promise<LoadedAsset>>();

/** Read and compressed once, on first use (not at import): graphiql.min.js alone is ~1 MB. */
function loadAsset(name: string): Promise<LoadedAsset> | undefined {
  const asset = ASSETS.get(name);
  if (!asset) return undefined;
  let entry = loaded.get(name);
  if (!entry) {
    entry = (async () => {
      const body = await readFile(asset.path());
      return { body, gzipped: await gzipAsync(body), type: asset.type, hash: createHash('sha256').update(body).digest('hex').slice(0, 16) };
    })();
    // A failed read (a missing package) is retried on the next request rather than cached.
    entry.catch(() => loaded.delete(name));
    loaded.set(name, entry);
  }
  return entry;
}

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/**
 * The page may load scripts and styles from this origin only and talk to this origin only
 * (HTTP and WebSocket): an API key typed into GraphiQL goes nowhere else. GraphiQL's fonts are
 * data: URLs inside its CSS; its components set inline styles.
 */
const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "font-src 'self' data:",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Rendered once per endpoint, on the first browser visit. */
const pages = new Map<string, Promise<string>>();

async function renderPage(endpoint: string, authorization: string): Promise<string> {
  const template = await readFile(ownFile('graphiql.html')(), 'utf8');
  const names = [...template.matchAll(/\{\{asset:([\w.-]+)\}\}/g)].map((m) => m[1] ?? '');
  const hashes = new Map<string, string>();
  for (const name of names) {
    const asset = loadAsset(name);
    if (!asset) throw new Error(`graphiql.html names an unknown asset: ${name}`);
    hashes.set(name, (await asset).hash);
  }
  return template
    .replace(/\{\{asset:([\w.-]+)\}\}/g, (_, name: string) => `${GRAPHIQL_ASSETS_PATH}/${name}?v=${hashes.get(name) ?? ''}`)
    .replaceAll('{{endpoint}}', escapeHtml(endpoint))
    .replaceAll('{{authorization}}', escapeHtml(authorization));
}

function wantsHtml(req: IncomingMessage): boolean {
  return req.method === 'GET' && /\btext\/html\b/i.test(req.headers.accept ?? '');
}

export interface GraphiqlOptions {
  /** The GraphQL path the page posts to and opens WebSockets on (default `/graphql`). */
  endpoint?: string;
  /**
   * The header editor's Authorization value, read at each page load. The demo only (its own key,
   * for a tenant of the simulator): anything else would hand a key to whoever opens the page.
   */
  defaultAuthorization?: () => string | undefined;
}

/**
 * Answers a browser's `GET /graphql` (Accept: text/html) with the GraphiQL page; returns false,
 * having written nothing, for anything else (GraphQL GETs and POSTs go on to the API).
 */
export async function serveGraphiql(req: IncomingMessage, res: ServerResponse, options: GraphiqlOptions = {}): Promise<boolean> {
  if (!wantsHtml(req)) return false;
  const endpoint = options.endpoint ?? '/graphql';
  const authorization = options.defaultAuthorization?.() ?? '';
  const cacheKey = `${endpoint}\n${authorization}`;
  let page = pages.get(cacheKey);
  if (!page) {
    page = renderPage(endpoint, authorization);
    page.catch(() => pages.delete(cacheKey));
    pages.set(cacheKey, page);
  }
  const html = await page;
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(html),
    'cache-control': 'no-cache',
    'content-security-policy': PAGE_CSP,
    'x-frame-options': 'DENY',
    ...SECURITY_HEADERS,
  });
  res.end(html);
  return true;
}

/** `GET /graphiql/assets/:name`: the page's files from node_modules and src/http/static, cached for a year. */
export function graphiqlAssetsRoute(): Route {
  return {
    method: 'GET',
    path: `${GRAPHIQL_ASSETS_PATH}/:name`,
    async handler({ req, res, params }) {
      const pending = loadAsset(params.name ?? '');
      if (!pending) {
        sendText(res, 404, 'not found');
        return;
      }
      const asset = await pending;
      const etag = `"${asset.hash}"`;
      const useGzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
      const headers = {
        'content-type': asset.type,
        // The page asks for `?v=<content hash>`, so a changed file gets a new URL.
        'cache-control': 'public, max-age=31536000, immutable',
        etag,
        vary: 'accept-encoding',
        ...SECURITY_HEADERS,
      };
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304, headers);
        res.end();
        return;
      }
      const body = useGzip ? asset.gzipped : asset.body;
      res.writeHead(200, { ...headers, 'content-length': body.length, ...(useGzip && { 'content-encoding': 'gzip' }) });
      res.end(body);
    },
  };
}

/**
 * The GraphQL route with GraphiQL in front of it for browsers, plus the assets route. Mount these
 * in place of the GraphQL route: `createRouter([...graphiqlRoutes(graphql.route), ...])`.
 */
export function graphiqlRoutes(graphqlRoute: Route, options: GraphiqlOptions = {}): Route[] {
  const endpoint = options.endpoint ?? graphqlRoute.path;
  return [
    graphiqlAssetsRoute(),
    {
      ...graphqlRoute,
      async handler(ctx) {
        if (await serveGraphiql(ctx.req, ctx.res, { ...options, endpoint })) return;
        await graphqlRoute.handler(ctx);
      },
    },
  ];
}
