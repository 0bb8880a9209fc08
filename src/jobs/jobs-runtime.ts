import type { Config } from '../config/config.js';
import type { Db } from '../db/client.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { RedisClient } from '../lib/redis.js';
import type { ApplicationTransitions } from '../services/application-transitions.service.js';
import { type ApplyWorkerHandle, startApplyWorker } from './apply-live.worker.js';
import type { ApplyLiveCaller } from './apply-outcome.js';
import { ApplyQueue } from './apply-queue.js';
import { DEFAULT_JOBS_TUNING, type JobsTuning } from './jobs-tuning.js';
import { QuotaLimiter } from './quota-limiter.js';
import { recordedCallsFromDb } from './recorded-calls.js';
import { Reconciler, startReconciler } from './reconciler.js';
import { tenantLimitsFromDb } from './tenant-limits.js';

type JobsConfig = Pick<Config, 'redisPrefix' | 'applyMaxAttempts' | 'applyBackoffMs' | 'applyHourlyCapPerApp' | 'workerConcurrency'>;

/**
 * What the API side needs: the queue behind ApplicationsService, and the limiter for `quota(appId)`.
 * With `db`, the limiter seeds the quota-day counters Redis lost from the calls Postgres recorded.
 */
export function createApplyClients(deps: { config: JobsConfig; redis: RedisClient; clock: Clock; db?: Db }): {
  queue: ApplyQueue;
  limiter: QuotaLimiter;
} {
  const { config, redis, clock, db } = deps;
  return {
    queue: new ApplyQueue({ redis, redisPrefix: config.redisPrefix, clock, maxAttempts: config.applyMaxAttempts, backoffMs: config.applyBackoffMs }),
    limiter: new QuotaLimiter(redis, {
      prefix: config.redisPrefix,
      windowCapPerApp: config.applyHourlyCapPerApp,
      ...(db === undefined ? {} : { recordedCalls: recordedCallsFromDb(db) }),
    }),
  };
}

export interface JobsRuntimeDeps {
  config: JobsConfig;
  db: Db;
  /** For commands (limiter, queue, reconciler); not closed here. */
  redis: RedisClient;
  /** For the BullMQ worker, created with `maxRetriesPerRequest: null`; not closed here. */
  workerConnection: RedisClient;
  transitions: ApplicationTransitions;
  applyLive: ApplyLiveCaller;
  clock: Clock;
  logger: Logger;
  tuning?: Partial<JobsTuning>;
  /** The API side's queue and limiter when both roles share a process (ROLE=all); not closed here. */
  clients?: { queue: ApplyQueue; limiter: QuotaLimiter };
}

export interface JobsRuntime {
  queue: ApplyQueue;
  limiter: QuotaLimiter;
  reconciler: Reconciler;
  worker: ApplyWorkerHandle;
  /** Stops the reconciler, drains the worker's running jobs, closes the queue. */
  close(): Promise<void>;
}

/** The worker role: the apply worker and the reconciler on its interval (ROLE=worker or all). */
export function startJobsRuntime(deps: JobsRuntimeDeps): JobsRuntime {
  const { config, clock, logger } = deps;
  const tuning = { ...DEFAULT_JOBS_TUNING, ...deps.tuning };
  const { queue, limiter } = deps.clients ?? createApplyClients({ config, redis: deps.redis, clock, db: deps.db });
  const worker = startApplyWorker({
    connection: deps.workerConnection,
    redisPrefix: config.redisPrefix,
    concurrency: config.workerConcurrency,
    backoffMs: config.applyBackoffMs,
    lockDurationMs: tuning.lockDurationMs,
    stalledIntervalMs: tuning.stalledIntervalMs,
    ticketWaitMs: tuning.ticketWaitMs,
    transitions: deps.transitions,
    limiter,
    tenantLimits: tenantLimitsFromDb(deps.db),
    applyLive: deps.applyLive,
    scheduleExpiry: (job, atMs) => queue.scheduleExpiry(job, atMs),
    clock,
    logger,
  });
  const reconciler = new Reconciler({ db: deps.db, redis: deps.redis, redisPrefix: config.redisPrefix, queue, transitions: deps.transitions, logger });
  const interval = startReconciler(reconciler, tuning.reconcileIntervalMs, logger);
  return {
    queue,
    limiter,
    reconciler,
    worker,
    async close() {
      await interval.close();
      await worker.close();
      if (!deps.clients) await queue.close();
    },
  };
}
