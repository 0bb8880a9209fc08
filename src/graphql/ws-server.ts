import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import {
  type ExecutionArgs,
  execute,
  GraphQLError,
  type GraphQLError as GraphQLErrorType,
  type GraphQLFormattedError,
  type GraphQLSchema,
  getOperationAST,
  Kind,
  NoSchemaIntrospectionCustomRule,
  specifiedRules,
  type ValidationRule,
} from 'graphql';
import type { Context } from 'graphql-ws';
// Renamed: a `use...` call outside a React component reads as a hook to the linter.
import { type Extra, useServer as serveGraphqlWs } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { withLogContext } from '../lib/log-context.js';
import type { Logger } from '../lib/logger.js';
import type { TenantContext } from '../services/context.js';
import type { ApiRateLimiter } from './api-rate-limiter.js';
import { type Authenticator, authenticate, authenticateKey } from './authenticate.js';
import { GraphqlContext, type GraphqlServices } from './context.js';
import { CompiledOperations } from './compiled-operations.js';
import { classifyError, ExposedError, formatForClient, maskedMessage } from './errors.js';
import { assertOperationAllowed } from './operation-scopes.js';
import { PARSE_OPTIONS } from './protection.js';
import { sharedSubscribe } from './shared-subscriptions.js';

export interface WebSocketOptions {
  schema: GraphQLSchema;
  services: GraphqlServices;
  /** `services.apiKeys`. */
  authenticator: Authenticator;
  logger: Logger;
  /** Validation rules on top of graphql's own: the same protection as the HTTP path. */
  rules: readonly ValidationRule[];
  introspection: boolean;
  maxPayloadBytes: number;
  keepAliveMs?: number;
  /** Takes one token per connection (subscriptions count once, at connect); absent: unlimited. */
  rateLimiter?: ApiRateLimiter;
  /** Called for each subscription result sent to a client (metrics). */
  onSubscriptionMessage?: () => void;
}

/** What is open over graphql-ws right now, read when /metrics is scraped. */
export interface WebSocketStats {
  /** Authenticated (acknowledged) graphql-ws connections still open. */
  connections(): number;
}

/** Closes a connection refused by the rate limiter (4400-4499 are the application's; 4429 mirrors HTTP 429). */
export const RATE_LIMITED_CLOSE_CODE = 4429;

interface Connection extends Record<PropertyKey, unknown> {
  tenant: TenantContext;
}

type Ctx = Context<Record<string, unknown> | undefined, Extra & Partial<Connection>>;

/**
 * graphql-ws on the HTTP server's `/graphql` path, with the HTTP path's protections: the API key
 * in `connectionParams.authorization` (checked at connection, 4403 when invalid, and again at
 * every subscribe so a revoked key starts nothing new), the same validation rules and scope
 * check, and errors masked the same way.
 */
export function attachWebSocket(httpServer: Server, options: WebSocketOptions): { close(): Promise<void>; stats: WebSocketStats } {
  const { schema, services, logger, authenticator, onSubscriptionMessage } = options;
  // Connections authenticated and not yet closed.
  const open = new Set<Ctx>();
  const wss = new WebSocketServer({ server: httpServer, path: '/graphql', maxPayload: options.maxPayloadBytes });
  const rules = [...specifiedRules, ...options.rules, ...(options.introspection ? [] : [NoSchemaIntrospectionCustomRule])];
  const documents = new CompiledOperations(schema, { rules, parseOptions: PARSE_OPTIONS });
  // As Apollo's hideSchemaDetailsFromClientErrors: no "Did you mean ...?" when the schema is private.
  const hideSchema = !options.introspection;
  // One execution per change and distinct subscription document (and variables), not per subscriber.
  const subscribe = sharedSubscribe();

  const mask = (ctx: Ctx, errors: readonly GraphQLErrorType[]): GraphQLFormattedError[] =>
    errors.map((error) => {
      // graphql-js's variable coercion errors carry no code (Apollo adds it on HTTP): same test as Apollo's.
      const badVariable = error.extensions.code === undefined && error.nodes?.length === 1 && error.nodes[0]?.kind === Kind.VARIABLE_DEFINITION;
      const coded = badVariable ? withCode(error, 'BAD_USER_INPUT') : error;
      const requestId = ctx.extra.tenant?.requestId;
      if (!classifyError(coded).exposed) {
        logger.error({ err: coded.originalError ?? coded, requestId, tenantId: ctx.extra.tenant?.tenantId }, 'GraphQL operation over WebSocket failed');
      }
      return formatForClient(coded.toJSON(), coded, requestId);
    });

  const disposable = serveGraphqlWs<Record<string, unknown> | undefined, Connection>(
    {
      schema,
      isProd: true,
      // No router here: each operation enters its log context (request id and tenant) itself.
      execute: (args) => inLogContext(args, () => execute(args)),
      subscribe: (args) => inLogContext(args, () => subscribe(args)),
      async onConnect(ctx) {
        const header = ctx.extra.request.headers['x-request-id'];
        const requestId = typeof header === 'string' && /^[\w.-]{1,64}$/.test(header) ? header : randomUUID();
        try {
          const { tenant, rateLimit } = await authenticateKey(authenticator, ctx.connectionParams?.authorization, requestId);
          const verdict =
            options.rateLimiter && tenant.apiKeyId !== undefined ? await options.rateLimiter.take(tenant.tenantId, tenant.apiKeyId, rateLimit) : undefined;
          if (verdict && !verdict.ok) {
            // graphql-ws closes a refused connection with 4403 "Forbidden"; say what happened instead (the reason is at most 123 bytes).
            ctx.extra.socket.close(RATE_LIMITED_CLOSE_CODE, `RATE_LIMITED: too many requests for this API key; retry after ${verdict.retryAfterSeconds} s`);
            return false;
          }
          ctx.extra.tenant = tenant;
          open.add(ctx);
          return true;
        } catch (err) {
          if (!classifyError(err).exposed) logger.error({ err, requestId }, 'authenticating a WebSocket connection failed');
          return false;
        }
      },
      async onSubscribe(ctx, _id, payload): Promise<ExecutionArgs | readonly GraphQLError[]> {
        const connected = ctx.extra.tenant;
        try {
          if (!connected) throw new Error('subscribe before an authenticated connection_init');
          const tenant = await authenticate(authenticator, ctx.connectionParams?.authorization, connected.requestId ?? randomUUID());
          // One parsed and validated document per distinct query text, shared by its subscribers.
          const { document, errors } = documents.validated(payload.query);
          if (!document) return errors.map((e) => withCode(e, 'GRAPHQL_PARSE_FAILED'));
          if (errors.length > 0) return errors.map((e) => withCode(e, 'GRAPHQL_VALIDATION_FAILED', hideSchema));
          const operation = getOperationAST(document, payload.operationName);
          if (!operation) return [withCode(new GraphQLError('Unable to identify the operation to run.'), 'OPERATION_RESOLUTION_FAILURE')];
          assertOperationAllowed(tenant, schema, document, operation);
          return {
            schema,
            document,
            operationName: payload.operationName ?? null,
            variableValues: payload.variables ?? null,
            contextValue: new GraphqlContext(tenant, services, logger, operation.operation !== 'subscription'),
          };
        } catch (err) {
          if (classifyError(err).exposed && err instanceof GraphQLError) return [err];
          const requestId = connected?.requestId;
          logger.error({ err, requestId, tenantId: connected?.tenantId }, 'starting a GraphQL operation over WebSocket failed');
          return [new ExposedError(maskedMessage(requestId), { extensions: { code: 'INTERNAL_SERVER_ERROR' } })];
        }
      },
      onClose(ctx) {
        open.delete(ctx);
      },
      onNext(ctx, id, _payload, _args, result) {
        // graphql-ws keeps a running subscription's iterator under its id (null for a query).
        if (onSubscriptionMessage && ctx.subscriptions[id]) onSubscriptionMessage();
        if (!result.errors) return undefined;
        return { ...result, errors: mask(ctx, result.errors) };
      },
      onError(ctx, _id, _payload, errors) {
        return mask(ctx, errors);
      },
    },
    wss,
    options.keepAliveMs,
  );
  return {
    async close() {
      await disposable.dispose();
    },
    stats: {
      connections: () => open.size,
    },
  };
}

function inLogContext<T>(args: ExecutionArgs, fn: () => T): T {
  const context = args.contextValue;
  if (!(context instanceof GraphqlContext)) return fn();
  return withLogContext({ tenantId: context.tenant.tenantId, ...(context.requestId === undefined ? {} : { requestId: context.requestId }) }, fn);
}

function withCode(error: GraphQLError, code: string, hideSuggestions = false): GraphQLError {
  const message = hideSuggestions ? error.message.replace(/ ?Did you mean(.+?)\?$/, '') : error.message;
  return new GraphQLError(message, {
    nodes: error.nodes ?? null,
    source: error.source ?? null,
    positions: error.positions ?? null,
    path: error.path ?? null,
    originalError: error.originalError ?? null,
    extensions: { ...error.extensions, code },
  });
}
