import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FormattedExecutionResult } from 'graphql';
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { createLiveServices, createServices, type Services } from '../../../src/app/services.js';
import type { Db } from '../../../src/db/client.js';
import { OutboxRelay } from '../../../src/events/outbox-relay.js';
import { LiveGrantsGate } from '../../../src/jobs/live-grants-gate.js';
import { RedisChangePublisher } from '../../../src/events/change-feed.js';
import { ChangeSubscriber } from '../../../src/events/change-subscriber.js';
import { createGraphqlServer, type GraphqlServer, type GraphqlServerDeps } from '../../../src/graphql/index.js';
import { createRouter } from '../../../src/http/router.js';
import { QuotaLimiter } from '../../../src/jobs/quota-limiter.js';
import { ManualClock } from '../../../src/lib/clock.js';
import { type Logger, silentLogger } from '../../../src/lib/logger.js';
import { AuthorizationLinkService } from '../../../src/services/authorization-link.service.js';
import { type QuotaReader, QuotaService } from '../../../src/services/quota.service.js';
import { TokenService } from '../../../src/services/token.service.js';
import { WebhookDeliveriesService } from '../../../src/services/webhooks/deliveries.service.js';
import type { DueDelivery } from '../../../src/services/webhooks/event-fan-out.js';
import type { Lookup, UrlPolicy } from '../../../src/services/webhooks/url-policy.js';
import { createWechatClient } from '../../../src/wechat/client/wechat-client.js';
import { createTokenManager, type TokenManager } from '../../../src/wechat/tokens/token-manager.js';
import { componentLoginPageUrl, createWechatApi } from '../../../src/wechat/wechat-api.js';
import type { TestEnv } from '../../support/test-env.js';
import { RecordingQueue } from './recording-queue.js';
import { LiveEventSubscriber } from '../../../src/events/live-event-feed.js';
import { LiveEventsService } from '../../../src/services/live-ops/live-events.service.js';

/** Stands in for WeChat's pre-auth code call; records every call so tests can assert it happened. */
export class FakePreAuth {
  readonly calls: string[] = [];
  failWith: Error | undefined;
  async createPreAuthCode(tenantId: string) {
    this.calls.push(tenantId);
    if (this.failWith) throw this.failWith;
    return { preAuthCode: `preauth@${tenantId}`, expiresIn: 1800, componentAppId: 'wxcomponent0000001' };
  }
  componentLoginPageUrl = componentLoginPageUrl;
}

/** The delivery queue behind redeliverWebhook, recording what was enqueued. */
export class RecordingWebhookQueue {
  readonly enqueued: DueDelivery[] = [];
  async enqueue(deliveries: readonly DueDelivery[]): Promise<void> {
    this.enqueued.push(...deliveries);
  }
}

export interface GraphqlApp {
  url: string;
  wsUrl: string;
  services: Services;
  queue: RecordingQueue;
  webhookQueue: RecordingWebhookQueue;
  clock: ManualClock;
  preAuth: FakePreAuth;
  quotaLimiter: QuotaLimiter;
  /** The token manager behind the token queries (WeChat at `wechatApiBase`). */
  tokens: TokenManager;
  graphql: GraphqlServer;
  publisher: OutboxRelay;
  subscriber: ChangeSubscriber;
  /** liveRoomUpdated's listeners. */
  liveSubscriber: LiveEventSubscriber;
  /** POST /graphql with a bearer key (or none). */
  request<T = unknown>(query: string, variables?: Record<string, unknown>, key?: string | null, headers?: Record<string, string>): Promise<GraphqlResponse<T>>;
  wsClient(key: string | undefined, options?: { onClose?: (code: number) => void }): Client;
  close(): Promise<void>;
}

export interface GraphqlErrorBody {
  message: string;
  path?: (string | number)[];
  extensions?: { code?: string };
}

export interface GraphqlResponse<T = unknown> {
  status: number;
  body: { data?: T | null; errors?: GraphqlErrorBody[] };
}

export interface StartOptions {
  /** The database the services use (default the test's own). */
  db?: Db;
  config?: Partial<GraphqlServerDeps['config']>;
  logger?: Logger;
  maxPendingPerSubscriber?: number;
  bodyLimitBytes?: number;
  /** Replaces the quota limiter's read side (e.g. with one that fails). */
  quotaReader?: QuotaReader;
  /** false runs queries with graphql-js instead of graphql-jit. */
  jit?: boolean;
  /** Observers of every GraphQL request over HTTP (GraphqlServerDeps.operationHooks). */
  operationHooks?: GraphqlServerDeps['operationHooks'];
  /** Where the token queries reach WeChat (the simulator); by default nowhere (a closed port). */
  wechatApiBase?: string;
  /** Which webhook endpoint URLs may be registered (default https to public addresses), and the DNS the check uses. */
  urlPolicy?: UrlPolicy;
  lookup?: Lookup;
  /** Remember valid API keys this long (on the harness's manual clock); default 0: no cache. */
  apiKeyCacheTtlMs?: number;
  /** The clock of the services and the token manager (default a ManualClock at the real time). */
  clock?: ManualClock;
}

/** The GraphQL API behind a real node:http server on a random port, over the test's Postgres and Redis. */
export async function startGraphqlApp(env: TestEnv, options: StartOptions = {}): Promise<GraphqlApp> {
  const clock = options.clock ?? new ManualClock(Date.now());
  const queue = new RecordingQueue();
  const webhookQueue = new RecordingWebhookQueue();
  const logger = options.logger ?? silentLogger;
  const db = options.db ?? env.appDatabase.db;
  const publisher = new OutboxRelay({ db, redis: new RedisChangePublisher(env.redis, env.redisPrefix), clock, logger });
  const services = createServices({
    db,
    box: env.box,
    clock,
    logger,
    queue,
    publisher,
    ...(options.urlPolicy === undefined ? {} : { urlPolicy: options.urlPolicy }),
    ...(options.lookup === undefined ? {} : { lookup: options.lookup }),
    ...(options.apiKeyCacheTtlMs === undefined ? {} : { apiKeyCacheTtlMs: options.apiKeyCacheTtlMs }),
    // As in createApp: a new app secret drops the cached component token (`tokens` is made below).
    onComponentSecretChanged: (tenantId) => tokens.forgetComponentToken(tenantId),
  });
  const quotaLimiter = new QuotaLimiter(env.redis, { prefix: env.redisPrefix, windowCapPerApp: 10 });
  const preAuth = new FakePreAuth();
  const tokens = createTokenManager({
    redis: env.redis,
    prefix: env.redisPrefix,
    store: services.credentials,
    clock,
    client: createWechatClient({ baseUrl: options.wechatApiBase ?? 'http://127.0.0.1:9', logger, timeoutMs: 2000 }),
  });
  const subRedis = env.newRedis();
  // A psubscribe sent while ioredis still connects breaks its ready check ("Connection in subscriber mode").
  if (subRedis.status !== 'ready') await new Promise((resolve) => subRedis.once('ready', resolve));
  const subscriber = new ChangeSubscriber(subRedis, env.redisPrefix, logger);
  const liveSubscriber = new LiveEventSubscriber(subRedis, env.redisPrefix, logger);
  const graphql = createGraphqlServer({
    db,
    services: {
      tenants: services.tenants,
      apiKeys: services.apiKeys,
      authorizers: services.authorizers,
      applications: services.applications,
      lifecycle: services.lifecycle,
      quota: new QuotaService({
        tenants: services.tenants,
        reader: options.quotaReader ?? quotaLimiter,
        liveGrants: new LiveGrantsGate(env.redis, { prefix: env.redisPrefix }),
        clock,
      }),
      authorizationLinks: new AuthorizationLinkService({ wechat: preAuth, clock }),
      tokens: new TokenService({ tokens, authorizers: services.authorizers }),
      webhookEndpoints: services.webhookEndpoints,
      webhookDeliveries: new WebhookDeliveriesService({ db, clock, queue: webhookQueue }),
      ...createLiveServices({
        db,
        redis: env.redis,
        redisPrefix: env.redisPrefix,
        clock,
        logger,
        wechat: liveWechat(
          createWechatApi({
            baseUrl: options.wechatApiBase ?? 'http://127.0.0.1:9',
            redis: env.redis,
            prefix: env.redisPrefix,
            store: services.credentials,
            clock,
          }),
        ),
        webhookQueue,
      }),
    },
    changes: { subscriber, redis: env.redis, prefix: env.redisPrefix },
    liveEvents: { subscriber: liveSubscriber, events: new LiveEventsService(db) },
    config: { introspection: false, maxDepth: 8, maxCost: 5000, maxAliases: 30, ...options.config },
    logger,
    ...(options.maxPendingPerSubscriber === undefined ? {} : { maxPendingPerSubscriber: options.maxPendingPerSubscriber }),
    ...(options.bodyLimitBytes === undefined ? {} : { bodyLimitBytes: options.bodyLimitBytes }),
    ...(options.jit === undefined ? {} : { jit: options.jit }),
    ...(options.operationHooks === undefined ? {} : { operationHooks: options.operationHooks }),
  });
  const server: Server = createServer(createRouter([graphql.route], logger));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  await graphql.start(server);
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}/graphql`;
  const wsUrl = `ws://127.0.0.1:${port}/graphql`;
  const clients: Client[] = [];

  return {
    url,
    wsUrl,
    services,
    queue,
    webhookQueue,
    clock,
    preAuth,
    quotaLimiter,
    tokens,
    graphql,
    publisher,
    subscriber,
    liveSubscriber,
    async request<T>(query: string, variables?: Record<string, unknown>, key?: string | null, headers: Record<string, string> = {}) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers },
        body: JSON.stringify({ query, variables }),
      });
      return { status: res.status, body: (await res.json()) as GraphqlResponse<T>['body'] };
    },
    wsClient(key, { onClose } = {}) {
      const client = createClient({
        url: wsUrl,
        webSocketImpl: WebSocket,
        connectionParams: key === undefined ? {} : { authorization: `Bearer ${key}` },
        retryAttempts: 0,
        lazy: true,
        on: onClose ? { closed: (event) => onClose((event as { code: number }).code) } : {},
      });
      clients.push(client);
      return client;
    },
    async close() {
      await Promise.all(clients.map((c) => c.dispose()));
      await graphql.stop();
      await publisher.stop();
    },
  };
}

/** Collects a subscription's results until `dispose()`; errors and completion are kept too. */
export function collect<T = Record<string, unknown>>(client: Client, query: string, variables: Record<string, unknown> = {}) {
  const results: FormattedExecutionResult<T, unknown>[] = [];
  const state: { error: unknown; completed: boolean } = { error: undefined, completed: false };
  const dispose = client.subscribe<T>(
    { query, variables },
    {
      next: (r) => results.push(r),
      error: (e) => {
        state.error = e;
      },
      complete: () => {
        state.completed = true;
      },
    },
  );
  return { results, state, dispose };
}

/** Runs one operation over WebSocket and returns its first result, or throws what the server sent as error. */
export async function wsOnce<T = Record<string, unknown>>(
  client: Client,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<FormattedExecutionResult<T, unknown>> {
  const iterator = client.iterate<T>({ query, variables });
  try {
    const first = await iterator.next();
    if (first.done) throw new Error('completed without a result');
    return first.value;
  } finally {
    await iterator.return?.();
  }
}

function liveWechat(api: ReturnType<typeof createWechatApi>) {
  return { run: api.runLive.bind(api) } as const;
}
