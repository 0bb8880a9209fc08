import { type BackoffStrategy, DelayedError, Worker } from 'bullmq';
import { withLogContext } from '../lib/log-context.js';
import { contextFromTraceparent, inSpan, SpanKind } from '../lib/tracing.js';
import type { RedisClient } from '../lib/redis.js';
import { type ApplyJobDeps, type ApplyStep, runApplyJob } from './apply-live.job.js';
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
  /** A run this long in one step is logged once as stuck, with the step (default 60 s). */
  stuckAfterMs?: number;
  name?: string;
}

export interface ApplyWorkerHandle {
  worker: Worker<ApplyJobData, string, ApplyJobName>;
  /** Jobs running in this process now: since when, and in which step (what a drain waits for). */
  active(): { id: string; name: string; runningMs: number; step: ApplyStep | null; stepMs: number }[];
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
  type Run = { name: string; since: number; step: ApplyStep | null; stepSince: number; reported: boolean };
  const running = new Map<string, Run>();
  const track = async <T>(key: string, name: string, run: (step: (step: ApplyStep) => void) => Promise<T>): Promise<T> => {
    const entry: Run = { name, since: Date.now(), step: null, stepSince: Date.now(), reported: false };
    running.set(key, entry);
    try {
      return await run((step) => {
        entry.step = step;
        entry.stepSince = Date.now();
        entry.reported = false;
      });
    } finally {
      running.delete(key);
    }
  };
  // Every await of a run is bounded (WeChat and token waits by timeouts, Postgres and Redis by
  // their clients); a run that still stays in one step is a bug to find, so it names itself.
  const stuckAfterMs = deps.stuckAfterMs ?? 60_000;
  const watchdog = setInterval(
    () => {
      const now = Date.now();
      for (const [id, run] of running) {
        if (run.reported || now - run.stepSince < stuckAfterMs) continue;
        run.reported = true;
        deps.logger.warn({ jobId: id, name: run.name, step: run.step, stepMs: now - run.stepSince, runningMs: now - run.since }, 'apply job stuck in one step');
      }
    },
    Math.min(stuckAfterMs, 10_000),
  );
  watchdog.unref();
  const worker = new Worker<ApplyJobData, string, ApplyJobName>(
    APPLY_QUEUE_NAME,
    (job, token) =>
      track(`${job.id}/${job.attemptsMade}`, job.name, (step) =>
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
              job.name === 'expire' ? runExpireJob(job, token, deps) : runApplyJob(job, token, deps, step),
            ),
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
    active: () => [...running].map(([id, r]) => ({ id, name: r.name, runningMs: Date.now() - r.since, step: r.step, stepMs: Date.now() - r.stepSince })),
    close: () => {
      clearInterval(watchdog);
      return worker.close();
    },
  };
}
