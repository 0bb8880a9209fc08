import type { Db } from '../db/client.js';
import type { Route } from '../http/router.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { RedisClient } from '../lib/redis.js';
import type { AuthorizersService } from '../services/authorizers.service.js';
import type { PgCredentialStore } from '../services/credential-store.pg.js';
import type { LiveApplicationLifecycle } from '../services/live-application/index.js';
import type { ApplicationQueue } from '../services/ports.js';
import type { TenantsService } from '../services/tenants.service.js';
import type { WebhookDeliveryQueue } from '../services/webhooks/deliveries.service.js';
import type { WechatApi } from '../wechat/wechat-api.js';
import { InboxStore } from './inbox.store.js';
import { InboxSweeper } from './inbox-sweeper.js';
import { PushIntake } from './push-intake.js';
import { type ExchangeAuthorizationCode, type OnProcessed, type PushEffects, PushProcessor } from './push-processor.js';
import { ReplayGuard } from './replay-guard.js';
import { TenantCryptCache } from './tenant-crypt-cache.js';
import { createWebhookRoutes } from './webhook.routes.js';
import type { OnOutcome } from './webhook-outcome.js';

export interface WebhookServices {
  tenants: Pick<TenantsService, 'crypto'>;
  authorizers: Pick<AuthorizersService, 'upsertAuthorized' | 'revoke'>;
  lifecycle: Pick<LiveApplicationLifecycle, 'open' | 'cancelForRevoked'>;
  credentials: Pick<PgCredentialStore, 'saveTicket'>;
}

export interface WebhooksDeps {
  db: Db;
  redis: RedisClient;
  /** REDIS_PREFIX. */
  redisPrefix: string;
  services: WebhookServices;
  /** `exchangeViaWechatApi(wechatApi)` in production. */
  exchangeAuthorizationCode: ExchangeAuthorizationCode;
  /** RELAY deliveries are enqueued here after the answer. */
  relayQueue?: WebhookDeliveryQueue;
  /** Lets an `unauthorized` push remove the cancelled applications' jobs. */
  queue?: Pick<ApplicationQueue, 'remove'>;
  clock: Clock;
  logger: Logger;
  /** `config.webhookReplayWindowMs`; default 5 min, 0 disables the timestamp check. */
  replayWindowMs?: number;
  onOutcome?: OnOutcome;
  onProcessed?: OnProcessed;
  acceptPlaintext?: boolean;
  maxAttempts?: number;
  sweepIntervalMs?: number;
  sweepBackoffMs?: number;
  /** Pushes processed at once after their answers; default 4 (keep it below the Postgres pool size). */
  processingConcurrency?: number;
}

export interface Webhooks {
  routes: Route[];
  sweeper: InboxSweeper;
  inbox: InboxStore;
  processor: PushProcessor;
  crypts: TenantCryptCache;
  /** Waits until every push already answered has been processed. */
  drain(): Promise<void>;
  /**
   * Stops the sweeper and waits for processing in progress; pushes still waiting are left to a
   * sweeper (they are stored). Call before closing Postgres and Redis.
   */
  stop(): Promise<void>;
}

/** Wires the webhook receiver from the services; nothing connects until a request arrives. */
export function createWebhooks(deps: WebhooksDeps): Webhooks {
  const logger = deps.logger.child({ component: 'webhooks' });
  const inbox = new InboxStore(deps.db);
  const processor = new PushProcessor({
    inbox,
    effects: effectsFromServices(deps.services, deps.exchangeAuthorizationCode, deps.queue),
    clock: deps.clock,
    logger,
    ...(deps.maxAttempts === undefined ? {} : { maxAttempts: deps.maxAttempts }),
    ...(deps.onProcessed === undefined ? {} : { onProcessed: deps.onProcessed }),
  });
  const replayGuard = new ReplayGuard({
    redis: deps.redis,
    prefix: deps.redisPrefix,
    clock: deps.clock,
    logger,
    ...(deps.replayWindowMs === undefined ? {} : { windowMs: deps.replayWindowMs }),
  });
  const crypts = new TenantCryptCache({ load: (tenantId) => deps.services.tenants.crypto(tenantId), clock: deps.clock });
  const intake = new PushIntake({
    inbox,
    ...(deps.relayQueue === undefined
      ? {}
      : {
          relayQueue: deps.relayQueue,
          onRelayEnqueueFailed: (err: unknown) => logger.warn({ err }, 'enqueueing relay deliveries failed; the delivery sweep sends them'),
        }),
    processor,
    replayGuard,
    clock: deps.clock,
    ...(deps.processingConcurrency === undefined ? {} : { processingConcurrency: deps.processingConcurrency }),
  });
  const sweeper = new InboxSweeper({
    inbox,
    processor,
    clock: deps.clock,
    logger,
    ...(deps.sweepIntervalMs === undefined ? {} : { intervalMs: deps.sweepIntervalMs }),
    ...(deps.sweepBackoffMs === undefined ? {} : { backoffMs: deps.sweepBackoffMs }),
  });
  const routes = createWebhookRoutes({
    crypts,
    replayGuard,
    intake,
    ...(deps.onOutcome === undefined ? {} : { onOutcome: deps.onOutcome }),
    ...(deps.acceptPlaintext === undefined ? {} : { acceptPlaintext: deps.acceptPlaintext }),
  });
  return {
    routes,
    sweeper,
    inbox,
    processor,
    crypts,
    drain: () => intake.drain(),
    async stop() {
      await sweeper.stop();
      const left = intake.abandonWaiting();
      if (left > 0) logger.info({ left }, 'answered pushes left to the inbox sweeper at shutdown');
      await intake.drain();
    },
  };
}

export function effectsFromServices(services: WebhookServices, exchange: ExchangeAuthorizationCode, queue?: Pick<ApplicationQueue, 'remove'>): PushEffects {
  return {
    saveTicket: (ctx, ticket) => services.credentials.saveTicket(ctx.tenantId, ticket),
    exchangeAuthorizationCode: exchange,
    upsertAuthorized: (ctx, grant) => services.authorizers.upsertAuthorized(ctx, grant),
    revoke: (ctx, appId) => services.authorizers.revoke(ctx, appId),
    cancelForRevoked: (ctx, appId) => services.lifecycle.cancelForRevoked(ctx, appId),
    opened: async (ctx, appId, openedAt) => (await services.lifecycle.open(ctx, appId, openedAt)) !== undefined,
    ...(queue === undefined ? {} : { removeJob: (applicationId: string) => queue.remove(applicationId) }),
  };
}

/** The WeChat facade's api_query_auth as the narrow exchange the processor needs. */
export function exchangeViaWechatApi(api: Pick<WechatApi, 'queryAuth'>): ExchangeAuthorizationCode {
  return async (tenantId, code) => {
    const info = await api.queryAuth(tenantId, code);
    return { appId: info.authorizerAppId, refreshToken: info.authorizerRefreshToken, permissionSets: info.permissionSets };
  };
}
