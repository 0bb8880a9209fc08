import type { Db } from '../db/client.js';
import { ApiQuotaLimiter } from '../jobs/api-quota.js';
import type { Clock } from '../lib/clock.js';
import type { ImageFetcher } from '../lib/image-fetch.js';
import type { Logger } from '../lib/logger.js';
import type { RedisClient } from '../lib/redis.js';
import type { SecretBox } from '../lib/secret-box.js';
import { AuthorizersService } from '../services/authorizers.service.js';
import { systemContext } from '../services/context.js';
import { PgCredentialStore } from '../services/credential-store.pg.js';
import { LiveApplicationLifecycle, LiveApplicationQueries } from '../services/live-application/index.js';
import { LiveApiService } from '../services/live-ops/live-api.service.js';
import { LiveCalls, type LiveWechat } from '../services/live-ops/live-calls.js';
import { LiveChangeSink } from '../services/live-ops/live-changes.js';
import { LiveGoodsService } from '../services/live-ops/live-goods.service.js';
import { LiveMediaService } from '../services/live-ops/live-media.service.js';
import type { LiveEventPublisher } from '../services/live-ops/live-mirror.js';
import { LiveRolesService } from '../services/live-ops/live-roles.service.js';
import { LiveRoomsService } from '../services/live-ops/live-rooms.service.js';
import { ApiKeysService } from '../services/api-keys/api-keys.service.js';
import { type LiveSyncPace, LiveSyncService } from '../services/live-ops/live-sync.service.js';
import type { ApiKeyInvalidations, ApplicationQueue, ChangePublisher } from '../services/ports.js';
import { SecretRotationService } from '../services/secret-rotation.service.js';
import { type OnComponentSecretChanged, TenantsService } from '../services/tenants.service.js';
import type { WebhookDeliveryQueue } from '../services/webhooks/deliveries.service.js';
import { WebhookEndpointsService } from '../services/webhooks/endpoints.service.js';
import type { Lookup, UrlPolicy } from '../services/webhooks/url-policy.js';

export interface Services {
  tenants: TenantsService;
  /** API keys: lifecycle (admin keys, the CLI) and the per-request check, with its cache. */
  apiKeys: ApiKeysService;
  authorizers: AuthorizersService;
  /** Reads of live applications. */
  applications: LiveApplicationQueries;
  /** Every change of a live application (console, worker and webhook alike). */
  lifecycle: LiveApplicationLifecycle;
  credentials: PgCredentialStore;
  /** Outbound webhook endpoints (admin scope). */
  webhookEndpoints: WebhookEndpointsService;
  /** Re-encrypts every `*_enc` column under the sealing key (`wxlive secrets rotate`). */
  secrets: SecretRotationService;
}

/** The domain services over one database, queue and publisher. */
export function createServices(deps: {
  db: Db;
  box: SecretBox;
  clock: Clock;
  logger: Logger;
  queue: ApplicationQueue;
  publisher: ChangePublisher;
  /** Where outbound deliveries made by the services (authorizer.updated) are enqueued. */
  webhookQueue?: WebhookDeliveryQueue;
  /** Which endpoint URLs may be registered; default https to public addresses only. */
  urlPolicy?: UrlPolicy;
  lookup?: Lookup;
  /** How long valid API keys are remembered in process (0 or absent: every request looks its key up). */
  apiKeyCacheTtlMs?: number;
  /** Tells other instances to forget revoked keys (absent: this process only). */
  apiKeyInvalidations?: ApiKeyInvalidations;
  /** CREDENTIAL_OVERLAP_MINUTES in ms; default 60 minutes. */
  credentialOverlapMs?: number;
  /** Drops the tenant's cached component token after its app secret changed. */
  onComponentSecretChanged?: OnComponentSecretChanged;
}): Services {
  const { db, box, clock, logger } = deps;
  const authorizers = new AuthorizersService(db, box, clock, deps.webhookQueue);
  const apiKeys = new ApiKeysService({
    db,
    clock,
    ...(deps.apiKeyCacheTtlMs === undefined ? {} : { cacheTtlMs: deps.apiKeyCacheTtlMs }),
    ...(deps.apiKeyInvalidations === undefined ? {} : { invalidations: deps.apiKeyInvalidations }),
  });
  return {
    tenants: new TenantsService(db, box, clock, apiKeys, {
      ...(deps.credentialOverlapMs === undefined ? {} : { credentialOverlapMs: deps.credentialOverlapMs }),
      ...(deps.onComponentSecretChanged === undefined ? {} : { onComponentSecretChanged: deps.onComponentSecretChanged }),
    }),
    apiKeys,
    authorizers,
    applications: new LiveApplicationQueries({ db, clock }),
    lifecycle: new LiveApplicationLifecycle({ db, authorizers, queue: deps.queue, publisher: deps.publisher, clock, logger }),
    credentials: new PgCredentialStore(db, box, clock),
    webhookEndpoints: new WebhookEndpointsService({
      db,
      box,
      clock,
      urlPolicy: deps.urlPolicy ?? { allowHttp: false, allowPrivateAddresses: false },
      ...(deps.lookup === undefined ? {} : { lookup: deps.lookup }),
    }),
    secrets: new SecretRotationService(db, box),
  };
}

/** Live management after OPENED: rooms, goods, roles, images, and the per-API quota and audit trail. */
export interface LiveServices {
  calls: LiveCalls;
  liveRooms: LiveRoomsService;
  liveGoods: LiveGoodsService;
  liveRoles: LiveRolesService;
  liveMedia: LiveMediaService;
  liveApi: LiveApiService;
  /** The sync loop's reads (and forced ones): the mirror kept fresh, changes turned into events. */
  sync: LiveSyncService;
}

export function createLiveServices(deps: {
  db: Db;
  redis: RedisClient;
  redisPrefix: string;
  clock: Clock;
  logger: Logger;
  wechat: LiveWechat;
  /** Subscribers of liveRoomUpdated on every instance; without it they catch up from live_events. */
  publisher?: LiveEventPublisher;
  webhookQueue?: WebhookDeliveryQueue;
  fetchImage?: ImageFetcher;
  /** The sync loop's pace (LIVE_SYNC_PACE by default). */
  pace?: Partial<LiveSyncPace>;
}): LiveServices {
  const { db, clock, logger } = deps;
  // The limiter seeds a day Redis lost from the audit trail, which LiveCalls writes: a late binding.
  let calls: LiveCalls | undefined;
  const quota = new ApiQuotaLimiter(deps.redis, { prefix: deps.redisPrefix, recordedCalls: (q) => (calls ? calls.recordedCalls(q) : Promise.resolve(0)) });
  calls = new LiveCalls({ db, wechat: deps.wechat, quota, clock, logger });
  // A room made or a good added through the gateway is read by the sync loop on its next round
  // (a start 10 minutes ahead, an audit starting), not at the rare pace; the loop's own changes are not.
  let sync: LiveSyncService | undefined;
  const changes = new LiveChangeSink(logger, deps.publisher, deps.webhookQueue, async (tenantId, appIds) => {
    for (const appId of appIds) await sync?.markDue(systemContext(tenantId), appId);
  });
  sync = new LiveSyncService({
    db,
    calls,
    changes: new LiveChangeSink(logger, deps.publisher, deps.webhookQueue),
    clock,
    logger,
    ...(deps.pace === undefined ? {} : { pace: deps.pace }),
  });
  return {
    calls,
    liveRooms: new LiveRoomsService({ db, clock, calls, changes, refresh: (ctx, appId) => (sync as LiveSyncService).refresh(ctx, appId).then((r) => r.error) }),
    liveGoods: new LiveGoodsService({ db, clock, calls, changes }),
    liveRoles: new LiveRolesService(calls),
    liveMedia: new LiveMediaService({ calls, clock, ...(deps.fetchImage ? { fetchImage: deps.fetchImage } : {}) }),
    liveApi: new LiveApiService(calls),
    sync,
  };
}
