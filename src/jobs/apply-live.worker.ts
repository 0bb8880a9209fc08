import { type BackoffStrategy, DelayedError, Worker } from 'bullmq';
import { withLogContext } from '../lib/log-context.js';
import { contextFromTraceparent, inSpan, SpanKind } from '../lib/tracing.js';
import type { RedisClient } from '../lib/redis.js';
import { type ApplyJobDeps, runApplyJob } from './apply-live.job.js';
import { APPLY_QUEUE_NAME, type ApplyJobData, type ApplyJobName } from './apply-queue.js';
import { runExpireJob } from './expire-application.job.js';
import { bullPrefix } from './quota-keys.js';

export interface ApplyWorkerOptions {
  /** The worker's own connection, created with `maxRetriesPerRequest: null` (BullMQ requires it). */
  connection: RedisClient;
  redisPrefix: string;
  concurrency: number;
  /** First retry delay (APPLY_BACKOFF_MS); doubles per attempt. */
  backoffMs: number;
  maxBackoffMs?: number;
  /**
   * A job whose worker died (SIGKILL, lost host) is taken back after its lock expires and the
   * next stalled check runs: up to lockDuration + stalledInterval. Tests make both short.
   */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  name?: string;
}

export interface ApplyWorkerHandle {
  worker: Worker<ApplyJobData, string, ApplyJobName>;
  /** Stops taking jobs and waits for the running ones to finish (SIGTERM drains). */
  close(): Promise<void>;
}

/**
 * Exponential with "equal jitter": half the delay is fixed, half random, so retries of many jobs
 * failed by one WeChat hiccup do not come back in lockstep.
 */
export function jitteredBackoff(baseMs: number, maxMs: number, random: () => number = Math.random): BackoffStrategy {
  return (attemptsMade) => {
    const full = Math.min(maxMs, baseMs * 2 ** Math.max(0, attemptsMade - 1));
    return Math.round(full / 2 + random() * (full / 2));
  };
}

/**
 * Runs `live-apply` jobs in this process. No queue-global rate limit (`Worker.rateLimit` would
 * stall every tenant for one tenant's limit): limits are per tenant and appid, in QuotaLimiter,
 * and a job over a limit is delayed by itself.
 */
export function startApplyWorker(deps: ApplyJobDeps & ApplyWorkerOptions): ApplyWorkerHandle {
  const worker = new Worker<ApplyJobData, string, ApplyJobName>(
    APPLY_QUEUE_NAME,
    (job, token) =>
      // Each run is a span in the trace of the request that enqueued the job (its data carries it).
      inSpan(
        `job ${job.name}`,
        {
          kind: SpanKind.CONSUMER,
          parent: contextFromTraceparent(job.data.traceparent),
          expected: (err) => err instanceof DelayedError,
          attributes: { 'wxlive.tenant_id': job.data.tenantId, 'wxlive.application_id': job.data.applicationId, 'messaging.message.id': job.id ?? '' },
        },
        () =>
          withLogContext({ tenantId: job.data.tenantId, applicationId: job.data.applicationId, ...(job.id === undefined ? {} : { jobId: job.id }) }, () =>
            job.name === 'expire' ? runExpireJob(job, token, deps) : runApplyJob(job, token, deps),
          ),
      ),
    {
      connection: deps.connection,
      prefix: bullPrefix(deps.redisPrefix),
      concurrency: deps.concurrency,
      lockDuration: deps.lockDurationMs ?? 30_000,
      stalledInterval: deps.stalledIntervalMs ?? 30_000,
      // A second crash on the same job is still worth one more try; a third means the job kills workers.
      maxStalledCount: 2,
      settings: { backoffStrategy: jitteredBackoff(deps.backoffMs, deps.maxBackoffMs ?? 600_000) },
      ...(deps.name === undefined ? {} : { name: deps.name }),
    },
  );
  worker.on('error', (err) => deps.logger.error({ err }, 'apply worker error'));
  worker.on('failed', (job, err) => {
    if (job) deps.logger.warn({ jobId: job.id, name: job.name, attemptsMade: job.attemptsMade, err: err.message }, 'apply job failed');
  });
  return {
    worker,
    close: () => worker.close(),
  };
}
