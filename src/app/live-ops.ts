import type { Db } from '../db/client.js';
import { RedisLiveEventPublisher } from '../events/live-event-feed.js';
import { ApiQuotaLimiter } from '../jobs/api-quota.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { RedisClient } from '../lib/redis.js';
import { LiveCalls } from '../services/live-ops/live-calls.js';
import { LiveChangeSink } from '../services/live-ops/live-changes.js';
import type { LiveEventPublisher } from '../services/live-ops/live-mirror.js';
import { type LiveSyncPace, LiveSyncService } from '../services/live-ops/live-sync.service.js';
import type { WebhookDeliveryQueue } from '../services/webhooks/deliveries.service.js';
import type { WechatApi } from '../wechat/wechat-api.js';

export interface LiveOps {
  quota: ApiQuotaLimiter;
  calls: LiveCalls;
  publisher: LiveEventPublisher;
  sync: LiveSyncService;
}

/** Live management after OPENED wired once: the per-API quota, the calls, the event publisher and the sync. */
export function createLiveOps(deps: {
  db: Db;
  redis: RedisClient;
  redisPrefix: string;
  wechat: WechatApi;
  webhookQueue: WebhookDeliveryQueue;
  clock: Clock;
  logger: Logger;
  pace?: Partial<LiveSyncPace>;
}): LiveOps {
  const { db, clock, logger } = deps;
  // The audit trail seeds a quota day Redis lost; `calls` is made just below, before any reservation.
  let calls: LiveCalls | undefined;
  const quota = new ApiQuotaLimiter(deps.redis, { prefix: deps.redisPrefix, recordedCalls: (q) => calls?.recordedCalls(q) ?? Promise.resolve(0) });
  calls = new LiveCalls({ db, wechat: { run: (t, a, call) => deps.wechat.runLive(t, a, call) }, quota, clock, logger });
  const publisher = new RedisLiveEventPublisher(deps.redis, deps.redisPrefix);
  const sync = new LiveSyncService({
    db,
    calls,
    changes: new LiveChangeSink(logger.child({ component: 'live-changes' }), publisher, deps.webhookQueue),
    clock,
    logger: logger.child({ component: 'live-sync' }),
    ...(deps.pace === undefined ? {} : { pace: deps.pace }),
  });
  return { quota, calls, publisher, sync };
}
