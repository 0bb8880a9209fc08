import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Config, ConfigError } from '../config/config.js';
import { connectPglite, connectPostgres, type Database } from '../db/client.js';
import { RedisChangePublisher } from '../events/change-feed.js';
import { listenForApiKeyInvalidations, RedisApiKeyInvalidations } from '../events/api-key-invalidations.js';
import { ChangeSubscriber } from '../events/change-subscriber.js';
import { LiveEventSubscriber, RedisLiveEventPublisher } from '../events/live-event-feed.js';
import { OutboxRelay } from '../events/outbox-relay.js';
import { ApiRateLimiter } from '../graphql/api-rate-limiter.js';
import { createGraphqlServer, type GraphqlServer } from '../graphql/index.js';
import { withCors } from '../http/cors.js';
import { type GraphiqlOptions, graphiqlRoutes } from '../http/graphiql.js';
import { createRouter, type Route } from '../http/router.js';
import { createApplyClients, type JobsRuntime, startJobsRuntime } from '../jobs/jobs-runtime.js';
import type { JobsTuning } from '../jobs/jobs-tuning.js';
import { type LiveSyncLoop, type LiveSyncLoopOptions, startLiveSyncLoop } from '../jobs/live-sync.js';
import { createWebhookDelivery, type WebhookDelivery } from '../jobs/webhook-runtime.js';
import { type Clock, systemClock } from '../lib/clock.js';
import { whileSlow } from '../lib/slow-step.js';
import { createLogger, type Logger } from '../lib/logger.js';
import { createRedis, type RedisClient } from '../lib/redis.js';
import { SecretBox } from '../lib/secret-box.js';
import { createMetrics, type Metrics, recordGraphqlOperation } from '../metrics/metrics.js';
import { createWebhookMetrics } from '../metrics/webhook-metrics.js';
import { AuthorizationLinkService } from '../services/authorization-link.service.js';
import { LiveEventsService } from '../services/live-ops/live-events.service.js';
import type { LiveSyncPace } from '../services/live-ops/live-sync.service.js';
import { QuotaService } from '../services/quota.service.js';
import { TokenService } from '../services/token.service.js';
import { createImageFetcher } from '../lib/image-fetch.js';
import { createWechatApi, type WechatApi } from '../wechat/wechat-api.js';
import { createWebhooks, exchangeViaWechatApi, type Webhooks } from '../webhooks/webhooks.module.js';
import { healthRoutes } from './health.routes.js';
import { registerAppMetrics } from './app-metrics.js';
import { createLiveServices, createServices, type LiveServices, type Services } from './services.js';

export interface AppOptions {
  clock?: Clock;
  logger?: Logger;
  /** An already-open database (the demo's PGlite); otherwise opened from the config. */
  database?: Database;
  /** Run the committed migrations at start (the demo and tests; production runs `npm run db:migrate`). */
  migrate?: boolean;
  jobsTuning?: Partial<JobsTuning>;
  /** GraphiQL's page options (the demo prefills its own key). */
  graphiql?: GraphiqlOptions;
  /** Extra routes (the simulator-backed demo adds none; tests may). */
  routes?: Route[];
  /** The live sync loop's polling (tests poll faster) and pace (LIVE_SYNC_PACE by default). */
  liveSync?: Partial<Omit<LiveSyncLoopOptions, 'batch'>> & { pace?: Partial<LiveSyncPace> };
}

export interface App {
  config: Config;
  /** `http://host:port` of the API, when ROLE includes it. */
  url: string | undefined;
  /** `http://host:port` of a worker's own /healthz, /readyz and /metrics (ROLE=worker, METRICS_PORT). */
  metricsUrl: string | undefined;
  server: Server | undefined;
  database: Database;
  /** The commands connection (a Cluster when REDIS_CLUSTER_NODES is set). */
  redis: RedisClient;
  services: Services;
  /** Live management after OPENED (rooms, goods, roles, images; per-API quota and audit trail). */
  live: LiveServices;
  wechat: WechatApi;
  metrics: Metrics;
  jobs: JobsRuntime | undefined;
  /** The worker's live sync loop (ROLE=worker or all, LIVE_SYNC_CONCURRENCY > 0). */
  liveSync: LiveSyncLoop | undefined;
  /** Outbound webhooks: the queue, the delivery log and, in the worker role, the worker. */
  outbound: WebhookDelivery;
  webhooks: Webhooks | undefined;
  graphql: GraphqlServer | undefined;
  logger: Logger;
  /** Drains HTTP and WebSocket, closes the worker, then Redis and Postgres. */
  stop(): Promise<void>;
}

/** The composition root: everything is wired here and nowhere else. Nothing connects at import. */
export async function createApp(config: Config, options: AppOptions = {}): Promise<App> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  if (!config.secretKeys) throw new ConfigError('SECRET_KEY: required (or SECRET_KEYS); 32 random bytes in base64 (openssl rand -base64 32)');
  const box = new SecretBox(config.secretKeys);
  const database =
    options.database ??
    (config.databaseUrl ? connectPostgres(config.databaseUrl, { max: config.dbPoolSize, role: config.databaseAppRole }) : await connectPglite(config.dataDir));
  if (options.migrate ?? database.driver === 'pglite') await database.migrate();

  const redis = createRedis(config, { purpose: 'commands' });
  const redisClients: RedisClient[] = [redis];
  logRedisOutages(redis, 'commands', logger);
  const metrics = createMetrics();
  // Outbound webhooks: deliveries are made where changes and pushes are stored (every role), sent by workers.
  const outbound = createWebhookDelivery({
    db: database.db,
    box,
    redis,
    redisPrefix: config.redisPrefix,
    clock,
    logger: logger.child({ component: 'outbound-webhooks' }),
    metrics: createWebhookMetrics(metrics.registry, database.db),
  });
  // Every committed change goes through the outbox: published after commit, or by the relay's
  // sweep when the process that committed it died first.
  const publisher = new OutboxRelay({
    db: database.db,
    redis: new RedisChangePublisher(redis, config.redisPrefix),
    clock,
    logger: logger.child({ component: 'outbox' }),
    fanOut: outbound.fanOut,
  });
  const clients = createApplyClients({ config, redis, clock, db: database.db });
  const { queue, limiter, gate } = clients;
  // The queue shares the commands connection, whose outages are logged once below.
  queue.queue.on('error', (err) => logger.debug({ err }, 'apply queue redis error'));
  const services = createServices({
    db: database.db,
    box,
    clock,
    logger,
    queue,
    publisher,
    urlPolicy: config.outboundWebhooks,
    webhookQueue: outbound.dispatch,
    // Only the API roles check keys; a worker revokes none, but its services are the same.
    apiKeyCacheTtlMs: config.role === 'worker' ? 0 : config.apiKeyCacheTtlMs,
    apiKeyInvalidations: new RedisApiKeyInvalidations(redis, config.redisPrefix, logger.child({ component: 'api-keys' })),
    credentialOverlapMs: config.credentialOverlapMs,
    // `wechat` is made below from these services; this runs only after a secret change, long after.
    onComponentSecretChanged: (tenantId) => wechat.tokens.forgetComponentToken(tenantId),
  });
  const wechat = createWechatApi({
    baseUrl: config.wechatApiBase,
    timeoutMs: config.wechatTimeoutMs,
    redis,
    prefix: config.redisPrefix,
    store: services.credentials,
    clock,
    logger: logger.child({ component: 'wechat' }),
    refreshAheadMs: config.tokenRefreshAheadMs,
    onCall: (call) => {
      metrics.wechatCalls.inc({ endpoint: call.endpoint, outcome: call.outcome, errcode: call.errcode === null ? '' : String(call.errcode) });
      metrics.wechatLatency.observe({ endpoint: call.endpoint }, call.latencyMs / 1000);
      if (call.endpoint === 'api_component_token' || call.endpoint === 'api_authorizer_token') {
        metrics.tokenRefreshes.inc({ kind: call.endpoint === 'api_component_token' ? 'component' : 'authorizer' });
      }
    },
  });

  const images = createImageFetcher({
    allowHttp: config.outboundWebhooks.allowHttp,
    allowPrivateAddresses: config.outboundWebhooks.allowPrivateAddresses,
  });
  const live = createLiveServices({
    db: database.db,
    redis,
    redisPrefix: config.redisPrefix,
    clock,
    logger: logger.child({ component: 'live' }),
    wechat: { run: (tenantId, appId, call) => wechat.runLive(tenantId, appId, call) },
    webhookQueue: outbound.dispatch,
    fetchImage: images.fetch,
    publisher: new RedisLiveEventPublisher(redis, config.redisPrefix),
    ...(options.liveSync?.pace === undefined ? {} : { pace: options.liveSync.pace }),
  });

  const runsApi = config.role !== 'worker';
  const runsWorker = config.role !== 'api';

  let jobs: JobsRuntime | undefined;
  let liveSync: LiveSyncLoop | undefined;
  if (runsWorker) {
    const workerConnection = createRedis(config, { purpose: 'worker' });
    redisClients.push(workerConnection);
    logRedisOutages(workerConnection, 'worker', logger);
    jobs = startJobsRuntime({
      config,
      db: database.db,
      redis,
      workerConnection,
      lifecycle: services.lifecycle,
      applications: services.applications,
      applyLive: (tenantId, appId) => wechat.applyLive(tenantId, appId),
      clients,
      onLiveGrantsPaused: (effect) => metrics.liveGrantsPauses.inc({ effect }),
      onWait: (reason) => metrics.applyWaits.inc({ reason }),
      clock,
      logger: logger.child({ component: 'jobs' }),
      tuning: { ...config.jobs, ...options.jobsTuning },
    });
    if (config.liveSyncConcurrency > 0) {
      const { pace: _pace, ...loop } = options.liveSync ?? {};
      liveSync = startLiveSyncLoop(live.sync, logger.child({ component: 'live-sync' }), {
        ...loop,
        batch: config.liveSyncConcurrency,
        onSynced: (o) => {
          metrics.liveSyncs.inc({ outcome: o.error === null ? 'ok' : o.error.code === 'API_QUOTA_REACHED' ? 'quota' : 'failed' });
          metrics.liveSyncRooms.inc(o.rooms);
          for (const e of o.events) metrics.liveEvents.inc({ type: e.type });
        },
      });
    }
    outbound.startWorker({
      connection: workerConnection,
      allowPrivateAddresses: config.outboundWebhooks.allowPrivateAddresses,
      concurrency: config.outboundWebhooks.concurrency,
      timeoutMs: config.outboundWebhooks.timeoutMs,
    });
    // The deliveries made in this process (events of the changes it commits, with ROLE=all the
    // pushes it relays) are attempted from here at once when their endpoint is healthy; else through the queue.
    if (config.outboundWebhooks.direct) {
      outbound.startDirect({
        allowPrivateAddresses: config.outboundWebhooks.allowPrivateAddresses,
        timeoutMs: config.outboundWebhooks.timeoutMs,
      });
    }
  }

  let server: Server | undefined;
  let graphql: GraphqlServer | undefined;
  let webhooks: Webhooks | undefined;
  let url: string | undefined;
  let subscriber: ChangeSubscriber | undefined;
  if (runsApi) {
    const subscriberConnection = createRedis(config, { purpose: 'subscriber' });
    redisClients.push(subscriberConnection);
    logRedisOutages(subscriberConnection, 'subscriber', logger);
    subscriber = new ChangeSubscriber(subscriberConnection, config.redisPrefix, logger);
    await listenForApiKeyInvalidations(subscriberConnection, config.redisPrefix, (i) => services.apiKeys.forget(i), logger);
    // The same connection: one psubscribe per feed, each handling its own pattern.
    const liveEventSubscriber = new LiveEventSubscriber(subscriberConnection, config.redisPrefix, logger);
    graphql = createGraphqlServer({
      db: database.db,
      services: {
        tenants: services.tenants,
        apiKeys: services.apiKeys,
        authorizers: services.authorizers,
        applications: services.applications,
        lifecycle: services.lifecycle,
        quota: new QuotaService({ tenants: services.tenants, reader: limiter, liveGrants: gate, clock }),
        authorizationLinks: new AuthorizationLinkService({ wechat, clock }),
        tokens: new TokenService({
          tokens: wechat.tokens,
          authorizers: services.authorizers,
          onRead: (r) => metrics.tokenReads.inc({ key_id: r.keyId, kind: r.kind, outcome: r.outcome }),
        }),
        webhookEndpoints: services.webhookEndpoints,
        webhookDeliveries: outbound.deliveries,
        liveRooms: live.liveRooms,
        liveGoods: live.liveGoods,
        liveRoles: live.liveRoles,
        liveMedia: live.liveMedia,
        liveApi: live.liveApi,
      },
      changes: { subscriber, redis, prefix: config.redisPrefix },
      liveEvents: { subscriber: liveEventSubscriber, events: new LiveEventsService(database.db) },
      config: config.graphql,
      logger: logger.child({ component: 'graphql' }),
      onOperation: (report) => recordGraphqlOperation(metrics, report),
      rateLimiter: new ApiRateLimiter(redis, {
        prefix: config.redisPrefix,
        defaults: config.rateLimit,
        clock,
        logger: logger.child({ component: 'rate-limit' }),
      }),
      onSubscriptionMessage: () => metrics.graphqlWsMessages.inc(),
    });
    metrics.watchWebSocket(graphql.webSocket);
    webhooks = createWebhooks({
      db: database.db,
      redis,
      redisPrefix: config.redisPrefix,
      services: {
        tenants: services.tenants,
        authorizers: services.authorizers,
        lifecycle: services.lifecycle,
        credentials: wechat.tokens,
      },
      exchangeAuthorizationCode: exchangeViaWechatApi(wechat),
      relayQueue: outbound.dispatch,
      queue,
      clock,
      logger,
      replayWindowMs: config.webhookReplayWindowMs,
      acceptPlaintext: config.webhookAcceptPlaintext,
      // Processing after the reply takes a few statements per push; keep two connections for the inserts.
      processingConcurrency: Math.max(2, config.dbPoolSize - 2),
      onOutcome: (outcome, reason) => metrics.webhookPushes.inc({ outcome, reason: reason ?? '' }),
    });
    // Bull Board (and express under it) is loaded only when its dashboard is on.
    const dashboard = config.adminToken ? (await import('../http/queue-dashboard.js')).queueDashboardRoutes(queue.queue, config.adminToken) : [];
    const routes: Route[] = [
      ...healthRoutes({ database, redis, metrics, jobs, runsWorker }),
      ...graphiqlRoutes(withCors(graphql.route, { origins: config.corsOrigins }), options.graphiql),
      ...webhooks.routes,
      ...dashboard,
      ...(options.routes ?? []),
    ];
    registerAppMetrics({
      metrics,
      db: database.db,
      queue,
      subscriber,
      liveSubscriber: liveEventSubscriber,
      tenants: services.tenants,
      limiter,
      gate,
      outbox: publisher,
      clock,
    });
    server = createServer(createRouter(routes, logger));
    await graphql.start(server);
    webhooks.sweeper.start();
    await new Promise<void>((resolve, reject) => {
      server?.once('error', reject);
      server?.listen(config.port, config.host, () => resolve());
    });
    const address = server.address() as AddressInfo;
    url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${address.port}`;
    logger.info({ url, role: config.role }, 'gateway listening');
  }

  let metricsServer: Server | undefined;
  let metricsUrl: string | undefined;
  if (!runsApi) {
    // A worker has no API port: health and metrics get their own, for the orchestrator and Prometheus.
    metricsServer = createServer(createRouter(healthRoutes({ database, redis, metrics, jobs, runsWorker }), logger));
    metricsUrl = await listen(metricsServer, config.metricsPort, config.host);
    logger.info({ url: metricsUrl, role: config.role }, 'health and metrics listening');
  }

  publisher.start();

  let stopped: Promise<void> | undefined;
  return {
    config,
    url,
    metricsUrl,
    server,
    database,
    redis,
    services,
    wechat,
    live,
    metrics,
    jobs,
    liveSync,
    outbound,
    webhooks,
    graphql,
    logger,
    stop() {
      stopped ??= (async () => {
        const step = async (name: string, fn: () => Promise<unknown> | undefined) => {
          const started = Date.now();
          // A step that hangs says which it is (a supervisor's SIGKILL comes next).
          await whileSlow(logger, name, fn);
          logger.debug({ step: name, ms: Date.now() - started }, 'shutdown step done');
        };
        await step('http and websockets drained', () => graphql?.stop());
        await step('webhook processing finished', () => webhooks?.stop());
        await step('live sync stopped', () => liveSync?.close());
        await step('worker drained', () => jobs?.close());
        await step('metrics server closed', () => (metricsServer ? closeServer(metricsServer) : undefined));
        await step('outbox relay stopped', () => publisher.stop());
        await step('webhook deliveries drained', () => outbound.close());
        images.close();
        await step('queue closed', () => queue.close());
        await step('redis closed', () => Promise.all(redisClients.map((r) => r.quit().catch(() => r.disconnect()))));
        await step('database closed', () => database.close());
        logger.info('stopped');
      })();
      return stopped;
    },
  };
}

async function listen(server: Server, port: number, host: string): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${address.port}`;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}

/**
 * Without an 'error' listener ioredis prints every failed reconnect to stderr, unstructured and
 * several times a second while Redis is down: log each outage once, and its end.
 */
function logRedisOutages(client: RedisClient, connection: string, logger: Logger): void {
  let down = false;
  client.on('error', (err: unknown) => {
    if (down) return;
    down = true;
    logger.warn({ err, connection }, 'redis unavailable; reconnecting');
  });
  client.on('ready', () => {
    if (!down) return;
    down = false;
    logger.info({ connection }, 'redis available again');
  });
}
