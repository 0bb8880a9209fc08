import type { Server } from 'node:http';
import { ApolloServer, type ApolloServerPlugin, type GraphQLRequestListener } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
  ApolloServerPluginSchemaReportingDisabled,
  ApolloServerPluginUsageReportingDisabled,
} from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import type { Db } from '../db/client.js';
import { sharedTenantScope } from '../db/tenant-scope.js';
import { type ExecutionResult, type GraphQLSchema, getOperationAST, NoSchemaIntrospectionCustomRule, specifiedRules } from 'graphql';
import type { ChangeSubscriber } from '../events/change-subscriber.js';
import type { LiveEventSubscriber } from '../events/live-event-feed.js';
import type { LiveEventsService } from '../services/live-ops/live-events.service.js';
import type { Route } from '../http/router.js';
import { addToLogContext } from '../lib/log-context.js';
import { activeSpan, inSpan } from '../lib/tracing.js';
import type { Logger } from '../lib/logger.js';
import type { RedisClient } from '../lib/redis.js';
import { ApplicationFeed, redisChangeSource } from './application-feed.js';
import type { ApiRateLimiter } from './api-rate-limiter.js';
import { authenticateKey } from './authenticate.js';
import { LiveRoomFeed, liveEventSource, NO_LIVE_EVENTS } from './live-room-feed.js';
import { CompiledOperations } from './compiled-operations.js';
import { GraphqlContext, type GraphqlServices } from './context.js';
import { classifyError, ExposedError, earlyRefusal, formatForClient, MASKED_MESSAGE, maskedMessage, rateLimited } from './errors.js';
import { DEFAULT_BODY_LIMIT, type FastPath, graphqlHttpHandler } from './http-handler.js';
import { jitGateway, type PrecomputedResults } from './jit-executor.js';
import { allHooks, type OnOperation, operationMetricsPlugin } from './operation-metrics.js';
import { assertOperationAllowed, missingScope } from './operation-scopes.js';
import { PARSE_OPTIONS, type ProtectionLimits, protectionRules } from './protection.js';
import { graphqlSchema } from './schema.js';
import { attachWebSocket, type WebSocketStats } from './ws-server.js';

export interface GraphqlServerDeps {
  services: Omit<GraphqlServices, 'feed' | 'liveRoomFeed'>;
  /**
   * The services' database: with it, each query operation runs as one unit of work, its
   * resolvers' tenant scopes sharing one transaction (sharedTenantScope) instead of one each.
   * Mutations and subscriptions keep a scope per service call.
   */
  db?: Db;
  /** Live changes (this instance's one psubscribe) and the kept stream for `after:` replays. */
  changes: { subscriber: ChangeSubscriber; redis: RedisClient; prefix: string };
  /** Live room and goods events (`liveRoomUpdated`): this instance's psubscribe and live_events for `after:`. Absent: the subscription sees none. */
  liveEvents?: { subscriber: LiveEventSubscriber; events: LiveEventsService };
  /** `config.graphql`. */
  config: ProtectionLimits & { introspection: boolean };
  logger: Logger;
  /** Request body limit in bytes (default 1 MiB); also the WebSocket message limit. */
  bodyLimitBytes?: number;
  /** Distinct applications a subscriber may have waiting before it is dropped (default 1,000). */
  maxPendingPerSubscriber?: number;
  /** WebSocket ping interval (default 12 s). */
  keepAliveMs?: number;
  /**
   * Execute queries and mutations with graphql-jit (default true; false = graphql-js). With jit,
   * queries seen before are answered on a fast path beside Apollo's pipeline (see http-handler).
   */
  jit?: boolean;
  /** Each GraphQL request over HTTP, whichever path answered it (metrics). */
  onOperation?: OnOperation;
  /**
   * More observers of every GraphQL request over HTTP (audit, usage reporting, ...): the one
   * extension point both paths report to, once per request (see operation-metrics.ts).
   */
  operationHooks?: readonly OnOperation[];
  /** Per-API-key rate limit: one token per HTTP request and per WebSocket connection; absent: unlimited. */
  rateLimiter?: ApiRateLimiter;
  /** Each subscription result sent over graphql-ws (metrics). */
  onSubscriptionMessage?: () => void;
}

export interface GraphqlServer {
  /** `/graphql` for GET and POST: mount it in the app's router. */
  route: Route;
  schema: GraphQLSchema;
  /** Starts Apollo, attaches graphql-ws to `httpServer` (same path) and starts the change subscription. */
  start(httpServer: Server): Promise<void>;
  /**
   * Drains: closes WebSockets, stops taking requests, waits for in-flight ones, and closes
   * `httpServer` (Apollo's drain plugin). Call before closing Redis and Postgres.
   */
  stop(): Promise<void>;
  /** graphql-ws connections open now (zero before `start`). */
  webSocket: WebSocketStats;
}

/** The GraphQL API: Apollo over our node:http router, graphql-ws for subscriptions, one schema. */
export function createGraphqlServer(deps: GraphqlServerDeps): GraphqlServer {
  const { logger } = deps;
  const schema = graphqlSchema();
  const feed = new ApplicationFeed(redisChangeSource(deps.changes.subscriber, deps.changes.redis, deps.changes.prefix, deps.services.applications, logger), {
    logger,
    ...(deps.maxPendingPerSubscriber === undefined ? {} : { maxPending: deps.maxPendingPerSubscriber }),
  });
  const liveRoomFeed = new LiveRoomFeed(deps.liveEvents ? liveEventSource(deps.liveEvents.subscriber, deps.liveEvents.events) : NO_LIVE_EVENTS, {
    logger,
    ...(deps.maxPendingPerSubscriber === undefined ? {} : { maxPending: deps.maxPendingPerSubscriber }),
  });
  const services: GraphqlServices = { ...deps.services, feed, liveRoomFeed };
  // Keys are cached (and revocations heard) in the service: API_KEY_CACHE_SECONDS.
  const authenticator = services.apiKeys;
  const rules = protectionRules(deps.config);
  const bodyLimit = deps.bodyLimitBytes ?? DEFAULT_BODY_LIMIT;
  const precomputed: PrecomputedResults = new WeakMap();
  const db = deps.db;
  const onOperation = allHooks([...(deps.onOperation ? [deps.onOperation] : []), ...(deps.operationHooks ?? [])]);
  const queryUnit = db
    ? (context: object, execute: () => Promise<ExecutionResult>) =>
        context instanceof GraphqlContext ? sharedTenantScope(db, context.tenant.tenantId, execute) : execute()
    : undefined;
  // The same rules Apollo validates with (its own introspection rule is equivalent to graphql's).
  const allRules = [...specifiedRules, ...rules, ...(deps.config.introspection ? [] : [NoSchemaIntrospectionCustomRule])];
  const fast: FastPath<GraphqlContext> | undefined =
    deps.jit === false
      ? undefined
      : {
          operations: new CompiledOperations(schema, { rules: allRules, parseOptions: PARSE_OPTIONS }),
          precomputed,
          ...(queryUnit ? { unit: queryUnit } : {}),
          allows: (context, operation) => missingScope(context.tenant, operation.scopes) === undefined,
          // Only results without errors are answered here: queries, their codes empty.
          served: (context, operation, seconds) => {
            const operationName = getOperationAST(operation.document)?.name?.value;
            nameOperationSpan('query', operationName);
            onOperation?.({ type: 'query', tenantId: context.tenant.tenantId, errorCodes: [], seconds, operationName, path: 'fast' });
          },
        };
  let apollo: ApolloServer<GraphqlContext> | undefined;
  let webSocketStats: WebSocketStats | undefined;

  const contextFor = async (authorization: string | undefined, requestId: string): Promise<GraphqlContext> => {
    try {
      const { tenant, rateLimit } = await authenticateKey(authenticator, authorization, requestId);
      if (deps.rateLimiter && tenant.apiKeyId !== undefined) {
        const verdict = await deps.rateLimiter.take(tenant.tenantId, tenant.apiKeyId, rateLimit);
        if (!verdict.ok) throw rateLimited(verdict.retryAfterSeconds);
      }
      // The router entered the request's log context; from here on its lines name the tenant too.
      addToLogContext({ tenantId: tenant.tenantId });
      return new GraphqlContext(tenant, services, logger);
    } catch (err) {
      if (classifyError(err).exposed) throw err;
      logger.error({ err, requestId }, 'authenticating a GraphQL request failed');
      throw new ExposedError(maskedMessage(requestId), { extensions: { code: 'INTERNAL_SERVER_ERROR', http: { status: 500 } } });
    }
  };

  return {
    schema,
    webSocket: {
      connections: () => webSocketStats?.connections() ?? 0,
    },
    route: {
      method: 'ALL',
      path: '/graphql',
      handler: tracedOperation(
        graphqlHttpHandler(
          () => apollo,
          contextFor,
          bodyLimit,
          fast,
          (code) => onOperation?.({ type: 'none', tenantId: undefined, errorCodes: [code], seconds: undefined, path: 'http' }),
          earlyRefusal,
        ),
      ),
    },

    async start(httpServer) {
      if (apollo) throw new Error('the GraphQL server is already started');
      await deps.changes.subscriber.start();
      await deps.liveEvents?.subscriber.start();
      const ws = attachWebSocket(httpServer, {
        schema,
        services,
        authenticator,
        logger,
        rules,
        introspection: deps.config.introspection,
        maxPayloadBytes: bodyLimit,
        ...(deps.rateLimiter ? { rateLimiter: deps.rateLimiter } : {}),
        ...(deps.keepAliveMs === undefined ? {} : { keepAliveMs: deps.keepAliveMs }),
        ...(deps.onSubscriptionMessage === undefined ? {} : { onSubscriptionMessage: deps.onSubscriptionMessage }),
      });
      webSocketStats = ws.stats;
      const server = new ApolloServer<GraphqlContext>({
        ...(deps.jit === false ? { schema } : { gateway: jitGateway(schema, precomputed, queryUnit) }),
        csrfPrevention: true,
        // The process entry points own SIGTERM/SIGINT and drain everything in order (createApp's stop).
        stopOnTerminationSignals: false,
        introspection: deps.config.introspection,
        hideSchemaDetailsFromClientErrors: !deps.config.introspection,
        includeStacktraceInErrorResponses: false,
        persistedQueries: false,
        allowBatchedHttpRequests: false,
        parseOptions: PARSE_OPTIONS,
        validationRules: rules,
        formatError: (formatted, error) => formatForClient(formatted, error),
        logger: apolloLogger(logger),
        plugins: [
          // Cache-control costs about a third of Apollo's per-request time and we set no cache hints.
          ApolloServerPluginCacheControlDisabled(),
          ApolloServerPluginInlineTraceDisabled(),
          ApolloServerPluginLandingPageDisabled(),
          ApolloServerPluginSchemaReportingDisabled(),
          ApolloServerPluginUsageReportingDisabled(),
          ApolloServerPluginDrainHttpServer({ httpServer }),
          { serverWillStart: async () => ({ drainServer: () => ws.close() }) },
          requestPlugin(),
          ...(onOperation ? [operationMetricsPlugin(onOperation)] : []),
        ],
      });
      try {
        await server.start();
      } catch (err) {
        await ws.close();
        throw err;
      }
      apollo = server;
    },

    async stop() {
      const server = apollo;
      apollo = undefined;
      await server?.stop();
    },
  };
}

/**
 * Per request, one shared listener (no allocation): the scope check once the operation is known
 * (the fast path makes the same check itself, and hands refused operations over to this one),
 * logging of internal errors with the request id, and the request id put into masked messages
 * (`formatError` has no access to the request).
 */
function requestPlugin(): ApolloServerPlugin<GraphqlContext> {
  const listener: GraphQLRequestListener<GraphqlContext> = {
    async didResolveOperation({ contextValue, operation, document, schema, operationName }) {
      if (operation) nameOperationSpan(operation.operation, operationName ?? undefined);
      if (operation) assertOperationAllowed(contextValue.tenant, schema, document, operation);
    },
    async didEncounterErrors({ contextValue, errors }) {
      for (const error of errors) {
        if (classifyError(error).exposed) continue;
        contextValue.logger.error(
          { err: error.originalError ?? error, requestId: contextValue.requestId, tenantId: contextValue.tenant.tenantId, path: error.path },
          'GraphQL operation failed',
        );
      }
    },
    async willSendResponse({ contextValue, response }) {
      if (response.body.kind !== 'single') return;
      const result = response.body.singleResult;
      if (!result.errors?.some((e) => e.message === MASKED_MESSAGE)) return;
      const message = maskedMessage(contextValue.requestId);
      response.body.singleResult = { ...result, errors: result.errors.map((e) => (e.message === MASKED_MESSAGE ? { ...e, message } : e)) };
    },
  };
  return { requestDidStart: async () => listener };
}

/**
 * One span per GraphQL request over HTTP, around both paths (Apollo's and the fast path), so its
 * resolvers' database scopes and WeChat calls are its children; named once the operation is known.
 */
function tracedOperation(handler: Route['handler']): Route['handler'] {
  return (ctx) => inSpan('graphql', {}, async () => handler(ctx));
}

function nameOperationSpan(type: string, name: string | undefined): void {
  const span = activeSpan();
  span?.updateName(name ? `graphql ${type} ${name}` : `graphql ${type}`);
  span?.setAttribute('graphql.operation.type', type);
  if (name) span?.setAttribute('graphql.operation.name', name);
}

function apolloLogger(logger: Logger) {
  const log = logger.child({ component: 'apollo' });
  return {
    debug: (message?: unknown) => log.debug(String(message)),
    info: (message?: unknown) => log.info(String(message)),
    warn: (message?: unknown) => log.warn(String(message)),
    error: (message?: unknown) => log.error(String(message)),
  };
}
