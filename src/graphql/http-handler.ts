import type { IncomingHttpHeaders } from 'node:http';
import type { ApolloServer } from '@apollo/server';
import { HeaderMap } from '@apollo/server';
import { BodyTooLargeError, type RequestContext, readBody, sendJson } from '../http/router.js';

export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/**
 * Serves Apollo from our own node:http router through Apollo's integration API
 * (`executeHTTPGraphQLRequest`): we read and parse the body (with a size limit), Apollo does the
 * rest (CSRF prevention, batching refusal, GET rules), we write its answer.
 */
export function graphqlHttpHandler<TContext extends object>(
  getServer: () => ApolloServer<TContext> | undefined,
  context: (authorization: string | undefined, requestId: string) => Promise<TContext>,
  bodyLimit = DEFAULT_BODY_LIMIT,
) {
  return async ({ req, res, url, requestId }: RequestContext): Promise<void> => {
    const server = getServer();
    if (!server) {
      sendJson(res, 503, { errors: [{ message: 'GraphQL is starting.', extensions: { code: 'SERVICE_UNAVAILABLE' } }] });
      return;
    }
    let body: unknown;
    if (req.method === 'POST') {
      let raw: Buffer;
      try {
        raw = await readBody(req, bodyLimit);
      } catch (err) {
        if (!(err instanceof BodyTooLargeError)) throw err;
        res.setHeader('connection', 'close');
        sendJson(res, 413, { errors: [{ message: `The request body is over ${bodyLimit} bytes.`, extensions: { code: 'PAYLOAD_TOO_LARGE' } }] });
        return;
      }
      const text = raw.toString('utf8');
      if (isJson(req.headers['content-type'])) {
        try {
          body = JSON.parse(text);
        } catch {
          sendJson(res, 400, { errors: [{ message: 'The request body is not valid JSON.', extensions: { code: 'BAD_REQUEST' } }] });
          return;
        }
      } else {
        body = text;
      }
    }
    const headers = toHeaderMap(req.headers);
    const response = await server.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: req.method ?? 'GET', headers, search: url.search, body },
      context: () => context(headers.get('authorization'), requestId),
    });
    const out: Record<string, string> = {};
    for (const [name, value] of response.headers) out[name] = value;
    if (response.body.kind === 'complete') {
      out['content-length'] = String(Buffer.byteLength(response.body.string));
      res.writeHead(response.status ?? 200, out);
      res.end(response.body.string);
      return;
    }
    res.writeHead(response.status ?? 200, out);
    for await (const chunk of response.body.asyncIterator) res.write(chunk);
    res.end();
  };
}

function isJson(contentType: string | undefined): boolean {
  return contentType !== undefined && /^application\/(?:[\w.+-]+\+)?json\b/i.test(contentType);
}

function toHeaderMap(headers: IncomingHttpHeaders): HeaderMap {
  const map = new HeaderMap();
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined) map.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  return map;
}
