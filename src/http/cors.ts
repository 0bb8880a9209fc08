import type { Route } from './router.js';

/**
 * CORS for browser consoles on the GraphQL route (CORS_ORIGINS). Origins are listed exactly
 * (`https://console.example.com`), or `*` for any. Credentials are never allowed: the API key
 * travels in the Authorization header, which needs no cookie mode, and `*` with credentials is
 * what browsers forbid for good reason. API keys belong on a server, not in a browser bundle: a
 * key in a page is a key anyone who opens it holds.
 */
export interface CorsOptions {
  /** Exact origins, or ['*']; empty: no CORS headers at all (the default). */
  origins: readonly string[];
  maxAgeSeconds?: number;
}

const ALLOWED_HEADERS = ['authorization', 'content-type', 'x-request-id', 'apollo-require-preflight'];
const ALLOWED_METHODS = 'GET, POST, OPTIONS';

export function withCors(route: Route, options: CorsOptions): Route {
  if (options.origins.length === 0) return route;
  const any = options.origins.includes('*');
  const listed = new Set(options.origins);
  const maxAge = String(options.maxAgeSeconds ?? 600);
  return {
    ...route,
    method: 'ALL',
    async handler(ctx) {
      const { req, res } = ctx;
      const origin = req.headers.origin;
      const allowed = origin !== undefined && (any || listed.has(origin));
      if (allowed) {
        res.setHeader('access-control-allow-origin', any ? '*' : origin);
        if (!any) res.setHeader('vary', 'Origin');
      }
      if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) {
        if (!allowed) {
          res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' }).end('This origin is not allowed; list it in CORS_ORIGINS.');
          return;
        }
        res.writeHead(204, {
          'access-control-allow-methods': ALLOWED_METHODS,
          'access-control-allow-headers': ALLOWED_HEADERS.join(', '),
          'access-control-max-age': maxAge,
        });
        res.end();
        return;
      }
      await route.handler(ctx);
    },
  };
}
