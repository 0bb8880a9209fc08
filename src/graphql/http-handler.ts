import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { ApolloServer } from '@apollo/server';
import { HeaderMap } from '@apollo/server';
import type { ExecutionResult } from 'graphql';
import Negotiator from 'negotiator';
import { BodyTooLargeError, type RequestContext, readBody, sendJson } from '../http/router.js';
import type { CompiledOperation, CompiledOperations } from './compiled-operations.js';
import type { PrecomputedResults } from './jit-executor.js';

export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/** The HTTP fast path's state: compiled query operations, and results handed to Apollo's executor. */
export interface FastPath<TContext> {
  operations: CompiledOperations;
  precomputed: PrecomputedResults;
  /** Runs the operation's execution as one unit of work (the query's shared tenant scope), as Apollo's path does. */
  unit?(context: TContext, execute: () => Promise<ExecutionResult>): Promise<ExecutionResult>;
  /** False when the caller's key may not run the operation: Apollo's path then refuses it, as it refuses any other. */
  allows(context: TContext, operation: CompiledOperation): boolean;
  /**
   * Called once for each request the fast path answers itself, `seconds` after authentication:
   * Apollo's plugins never see these, so whatever must see every request (metrics) hooks in here too.
   */
  served?(context: TContext, operation: CompiledOperation, seconds: number): void;
}

/** What the fast path leaves for Apollo when it does not answer itself. */
type Handover<TContext> = { context: TContext } | { contextError: unknown } | undefined;

/** An authentication failure answered by the HTTP handler itself (see graphqlHttpHandler's refuseEarly). */
export interface EarlyRefusal {
  status: number;
  headers: Record<string, string>;
  /** The one error of the answer, as Apollo's formatError would have sent it. */
  error: object;
  /** Its code, for the operation hooks. */
  code: string;
}

async function settle<TContext>(created: Promise<TContext>): Promise<{ context: TContext } | { contextError: unknown }> {
  try {
    return { context: await created };
  } catch (contextError) {
    return { contextError };
  }
}

/**
 * Serves Apollo from our own node:http router through Apollo's integration API
 * (`executeHTTPGraphQLRequest`): we read and parse the body (with a size limit), Apollo does the
 * rest (CSRF prevention, batching refusal, GET rules), we write its answer.
 *
 * With `fast`, a JSON POST of a query Apollo would run without errors is answered here: the
 * compiled operation runs straight after authentication, skipping Apollo's per-request pipeline
 * (query hash, document store, content negotiation, plugin hooks), which cost more than the
 * query's own execution. Anything else (GET, mutations, unseen accept headers, extensions,
 * invalid documents) goes to Apollo as before; so do results with errors, failed authentication
 * and keys without the scope the operation needs, with the context or its error and the result
 * handed over, so Apollo formats, masks, refuses and logs them as always and nothing runs twice.
 */
export function graphqlHttpHandler<TContext extends object>(
  getServer: () => ApolloServer<TContext> | undefined,
  context: (authorization: string | undefined, requestId: string) => Promise<TContext>,
  bodyLimit = DEFAULT_BODY_LIMIT,
  fast?: FastPath<TContext>,
  /** A request refused here before any GraphQL pipeline ran (406: no response type the client accepts; an early refusal). */
  refused?: (code: string) => void,
  /**
   * Which authentication failures are answered here, before the body is parsed or any GraphQL
   * pipeline runs (a key over its rate limit): the cheapest answer there is, so that a flooding key
   * costs the others as little as possible. Anything else it does not answer goes on as before.
   */
  refuseEarly?: (contextError: unknown) => EarlyRefusal | undefined,
) {
  return async ({ req, res, url, requestId }: RequestContext): Promise<void> => {
    const server = getServer();
    if (!server) {
      sendJson(res, 503, { errors: [{ message: 'GraphQL is starting.', extensions: { code: 'SERVICE_UNAVAILABLE' } }] });
      return;
    }
    let body: unknown;
    let handover: Handover<TContext> | typeof SERVED;
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
      // Apollo would run the operation (a mutation too) and only then answer 406: refuse first.
      if (!answerable(req.headers.accept)) {
        sendJson(res, 406, {
          errors: [
            {
              message: 'The accept header accepts neither application/json nor application/graphql-response+json; send one of them (or no accept header).',
              extensions: { code: 'BAD_REQUEST' },
            },
          ],
        });
        refused?.('BAD_REQUEST');
        return;
      }
      const text = raw.toString('utf8');
      if (isJson(req.headers['content-type'])) {
        // Authenticated once, here, whichever path answers: Apollo's gets the context or its error.
        const authenticated = await settle(context(req.headers.authorization, requestId));
        // Only for the accept values whose answer type is known without Apollo's negotiation (FAST_ACCEPT).
        const contentType = FAST_ACCEPT.get(req.headers.accept);
        if ('contextError' in authenticated && refuseEarly && contentType) {
          const refusal = refuseEarly(authenticated.contextError);
          if (refusal) {
            // Apollo's serialisation of an answer with one error, byte for byte.
            const json = `${JSON.stringify({ errors: [refusal.error] })}\n`;
            res.writeHead(refusal.status, { ...refusal.headers, 'content-type': contentType, 'content-length': Buffer.byteLength(json) });
            res.end(json);
            refused?.(refusal.code);
            return;
          }
        }
        handover = authenticated;
        try {
          body = JSON.parse(text);
        } catch {
          sendJson(res, 400, { errors: [{ message: 'The request body is not valid JSON.', extensions: { code: 'BAD_REQUEST' } }] });
          return;
        }
        if (fast) {
          const served = await serveFast(fast, body, req.headers, res, authenticated);
          if (served === SERVED) return;
          if (served) handover = served;
        }
      } else {
        body = text;
      }
    }
    const headers = toHeaderMap(req.headers);
    const response = await server.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: req.method ?? 'GET', headers, search: url.search, body },
      context: () => contextFor(handover, () => context(headers.get('authorization'), requestId)),
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

const SERVED = Symbol('served');

async function contextFor<TContext>(handover: Handover<TContext> | typeof SERVED, create: () => Promise<TContext>): Promise<TContext> {
  if (handover === undefined || handover === SERVED) return create();
  if ('contextError' in handover) throw handover.contextError;
  return handover.context;
}

/** A POST body exactly as the fast path takes it: a query string, optional variables and operation name, nothing else. */
interface PlainBody {
  query: string;
  variables?: Record<string, unknown> | null;
  operationName?: string | null;
}

function isPlainBody(body: unknown): body is PlainBody {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false;
  let keys = 0;
  for (const key in body) {
    keys++;
    if (key !== 'query' && key !== 'variables' && key !== 'operationName') return false;
  }
  const b = body as Record<string, unknown>;
  if (typeof b.query !== 'string' || keys > 3) return false;
  const { variables, operationName } = b;
  if (variables != null && (typeof variables !== 'object' || Array.isArray(variables))) return false;
  return operationName == null || typeof operationName === 'string';
}

/**
 * The response type Apollo chooses for these exact `accept` values (an absent header means JSON);
 * any other value takes Apollo's path, where its content negotiation decides.
 */
export const FAST_ACCEPT = new Map<string | undefined, string>([
  [undefined, 'application/json; charset=utf-8'],
  ['*/*', 'application/json; charset=utf-8'],
  ['application/json', 'application/json; charset=utf-8'],
  ['application/json, */*', 'application/json; charset=utf-8'],
  ['application/graphql-response+json', 'application/graphql-response+json; charset=utf-8'],
  ['application/graphql-response+json, application/json', 'application/graphql-response+json; charset=utf-8'],
  ['application/graphql-response+json,application/json;q=0.9', 'application/graphql-response+json; charset=utf-8'],
  ['application/graphql-response+json, application/json;q=0.9', 'application/graphql-response+json; charset=utf-8'],
]);

async function serveFast<TContext extends object>(
  fast: FastPath<TContext>,
  body: unknown,
  headers: IncomingHttpHeaders,
  res: ServerResponse,
  authenticated: { context: TContext } | { contextError: unknown },
): Promise<Handover<TContext> | typeof SERVED> {
  if (!('context' in authenticated)) return undefined;
  const contentType = FAST_ACCEPT.get(headers.accept);
  if (contentType === undefined || !isPlainBody(body)) return undefined;
  const operation = fast.operations.get(body.query, body.operationName ?? undefined);
  if (!operation) return undefined;
  const contextValue = authenticated.context;
  if (!fast.allows(contextValue, operation)) return { context: contextValue };
  const started = performance.now();
  let result: ExecutionResult;
  try {
    const execute = async () => operation.compiled.query(undefined, contextValue, body.variables ?? {});
    result = await (fast.unit ? fast.unit(contextValue, execute) : execute());
  } catch {
    // Not expected (graphql-jit reports errors in the result): Apollo runs it again and reports it.
    return { context: contextValue };
  }
  if (result.errors) {
    fast.precomputed.set(contextValue, result);
    return { context: contextValue };
  }
  // Apollo's serialisation of a result without errors or extensions, byte for byte.
  const json = `${JSON.stringify({ data: result.data })}\n`;
  res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(json) });
  res.end(json);
  fast.served?.(contextValue, operation, (performance.now() - started) / 1000);
  return SERVED;
}

/** The types a single GraphQL result can be sent as, Apollo's list (chooseContentTypeForSingleResultResponse). */
const RESULT_TYPES = [
  'application/json; charset=utf-8',
  'application/graphql-response+json; charset=utf-8',
  'application/json; callbackSpec=1.0; charset=utf-8',
];

/** Whether a result can be sent in a type the `accept` header allows (an absent header allows JSON). */
function answerable(accept: string | undefined): boolean {
  if (accept === undefined || FAST_ACCEPT.has(accept)) return true;
  return new Negotiator({ headers: { accept } }).mediaType(RESULT_TYPES) !== undefined;
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
