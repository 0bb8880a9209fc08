import type { Config } from '../config/config.js';
import type { Db } from '../db/client.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { RedisClient } from '../lib/redis.js';
import type { LiveApplicationLifecycle, LiveApplicationQueries } from '../services/live-application/index.js';
import type { ApplyJobDeps } from './apply-live.job.js';
import { type ApplyWorkerHandle, startApplyWorker } from './apply-live.worker.js';
import type { ApplyLiveCaller } from './apply-outcome.js';
import { ApplyQueue } from './apply-queue.js';
import { DEFAULT_JOBS_TUNING, type JobsTuning } from './jobs-tuning.js';
import { LiveGrantsGate } from './live-grants-gate.js';
import { QuotaLimiter } from './quota-limiter.js';
import { recordedCallsFromDb } from './recorded-calls.js';
import { whileSlow } from '../lib/slow-step.js';
import { InboxRetention } from '../webhooks/inbox-retention.js';
import { Reconciler, startReconciler } from './reconciler.js';
import { startRetention } from './retention.job.js';
import { tenantLimitsFromDb } from './tenant-limits.js';

type JobsConfig = Pick<
  Config,
  'redisPrefix' | 'applyMaxAttempts' | 'applyBackoffMs' | 'applyHourlyCapPerApp' | 'workerConcurrency' | 'liveGrantsPauseMs' | 'wechatTimeoutMs' | 'retention'
>;

export interface ApplyClients {
  queue: ApplyQueue;
  limiter: QuotaLimiter;
  gate: LiveGrantsGate;
}

/**
 * What the API side needs: the queue behind the lifecycle, and the limiter and live-grants gate
 * for `quota(appId)`. With `db`, the limiter seeds the quota-day counters Redis lost from the
 * calls Postgres recorded.
 */
export function createApplyClients(deps: { config: JobsConfig; redis: RedisClient; clock: Clock; db?: Db }): ApplyClients {
  const { config, redis, clock, db } = deps;
  return {
    queue: new ApplyQueue({ redis, redisPrefix: config.redisPrefix, clock, maxAttempts: config.applyMaxAttempts, backoffMs: config.applyBackoffMs }),
    limiter: new QuotaLimiter(redis, {
      prefix: config.redisPrefix,
      windowCapPerApp: config.applyHourlyCapPerApp,
      ...(db === undefined ? {} : { recordedCalls: recordedCallsFromDb(db) }),
    }),
    // A probe is one applyliveinfo: the lock outlives a probe whose worker died by little more than
    // its timeout (the same job, taken back, resumes its own probe at once).
    gate: new LiveGrantsGate(redis, { prefix: config.redisPrefix, pauseMs: config.liveGrantsPauseMs, probeLockMs: config.wechatTimeoutMs + 2_000 }),
  };
}

export interface JobsRuntimeDeps {
  config: JobsConfig;
  db: Db;
  /** For commands (limiter, queue, reconciler); not closed here. */
  redis: RedisClient;
  /** For the BullMQ worker, created with `maxRetriesPerRequest: null`; not closed here. */
  workerConnection: RedisClient;
  lifecycle: LiveApplicationLifecycle;
  applications: LiveApplicationQueries;
  applyLive: ApplyLiveCaller;
  clock: Clock;
  logger: Logger;
  tuning?: Partial<JobsTuning>;
  /** The API side's clients when both roles share a process (ROLE=all); not closed here. */
  clients?: ApplyClients;
  onLiveGrantsPaused?: ApplyJobDeps['onLiveGrantsPaused'];
  onWait?: ApplyJobDeps['onWait'];
}

export interface JobsRuntime extends ApplyClients {
  reconciler: Reconciler;
  /** Inbox and delivery-log retention, run on `retentionIntervalMs` (tests call runOnce). */
  retention: InboxRetention;
  worker: ApplyWorkerHandle;
  /** Stops the reconciler, drains the worker's running jobs, closes the queue. */
  close(): Promise<void>;
}

/** The worker role: the apply worker and the reconciler on its interval (ROLE=worker or all). */
export function startJobsRuntime(deps: JobsRuntimeDeps): JobsRuntime {
  const { config, clock, logger } = deps;
  const tuning = { ...DEFAULT_JOBS_TUNING, ...deps.tuning };
  const clients = deps.clients ?? createApplyClients({ config, redis: deps.redis, clock, db: deps.db });
  const { queue, limiter, gate } = clients;
  const worker = startApplyWorker({
    connection: deps.workerConnection,
    redisPrefix: config.redisPrefix,
    concurrency: config.workerConcurrency,
    backoffMs: config.applyBackoffMs,
    lockDurationMs: tuning.lockDurationMs,
    stalledIntervalMs: tuning.stalledIntervalMs,
    ticketWaitMs: tuning.ticketWaitMs,
    lifecycle: deps.lifecycle,
    applications: deps.applications,
    limiter,
    gate,
    tenantLimits: tenantLimitsFromDb(deps.db),
    applyLive: deps.applyLive,
    scheduleExpiry: (job, atMs) => queue.scheduleExpiry(job, atMs),
    clock,
    logger,
    ...(deps.onLiveGrantsPaused === undefined ? {} : { onLiveGrantsPaused: deps.onLiveGrantsPaused }),
    ...(deps.onWait === undefined ? {} : { onWait: deps.onWait }),
  });
  const reconciler = new Reconciler({
    db: deps.db,
    redis: deps.redis,
    redisPrefix: config.redisPrefix,
    queue,
    lifecycle: deps.lifecycle,
    applications: deps.applications,
    logger,
  });
  const interval = startReconciler(reconciler, tuning.reconcileIntervalMs, logger);
  const retention = new InboxRetention(deps.db, clock, {
    inboxRetentionMs: config.retention.inboxMs,
    deliveryRetentionMs: config.retention.deliveryMs,
    liveEventRetentionMs: config.retention.liveEventMs,
  });
  const retentionRuns = startRetention(retention, tuning.retentionIntervalMs, logger);
  return {
    ...clients,
    reconciler,
    retention,
    worker,
    async close() {
      await whileSlow(logger, 'reconciler stopped', () => interval.close());
      await whileSlow(logger, 'retention run finished', () => retentionRuns.close());
      await whileSlow(
        logger,
        'apply jobs drained',
        () => worker.close(),
        () => ({ active: worker.active().slice(0, 10) }),
      );
      if (!deps.clients) await queue.close();
    },
  };
}
