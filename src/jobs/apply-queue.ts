import { type JobsOptions, Queue } from 'bullmq';
import type { Clock } from '../lib/clock.js';
import type { RedisClient } from '../lib/redis.js';
import type { ApplicationQueue } from '../services/ports.js';
import { bullPrefix, tenantQuotaKeys } from './quota-keys.js';
import { currentTraceparent } from '../lib/tracing.js';

export const APPLY_QUEUE_NAME = 'live-apply';

/** Small JSON, never class instances or Dates: the row in Postgres is the source of truth. */
export interface ApplyJobData {
  tenantId: string;
  applicationId: string;
  appId: string;
  /**
   * WeChat's accepting answer when a run could not record it (Postgres was gone): the next run
   * records it instead of calling again, since a second call would apply twice.
   */
  accepted?: { errcode: number | null; errmsg: string | null; latencyMs: number | null };
  /** The W3C trace context of the request that enqueued it: the job's span continues that trace. */
  traceparent?: string;
}

export type ApplyJobName = 'apply' | 'expire';

/** The name of the custom backoff strategy the worker registers (exponential with jitter). */
export const APPLY_BACKOFF = 'apply-jitter';

/** BullMQ's largest priority; larger numbers run later. */
const MAX_PRIORITY = 2_097_152;
/** How long a tenant's burst keeps pushing its later jobs back (see `enqueue`). */
const FAIRNESS_WINDOW_MS = 60_000;

export type JobPresence = 'present' | 'missing' | 'finished';

export interface ApplyQueueOptions {
  /** A connection of the caller's; the queue does not close it. */
  redis: RedisClient;
  redisPrefix: string;
  clock: Clock;
  maxAttempts: number;
  backoffMs: number;
}

/** The `live-apply` queue behind the services' ApplicationQueue port. */
export class ApplyQueue implements ApplicationQueue {
  readonly queue: Queue<ApplyJobData, string, ApplyJobName>;
  /** Expiry jobs waiting for this turn's addBulk (see scheduleExpiry). */
  private expiries: PendingExpiry[] | undefined;

  constructor(private readonly options: ApplyQueueOptions) {
    this.queue = new Queue<ApplyJobData, string, ApplyJobName>(APPLY_QUEUE_NAME, { connection: options.redis, prefix: bullPrefix(options.redisPrefix) });
  }

  /**
   * Fairness, cheaply: each tenant's jobs get priorities 1, 2, 3, ... counted over its recent
   * enqueues, so the first job of a quiet tenant runs before the 2nd job of a tenant that just
   * queued thousands (round-robin by arrival rank). Jobs blocked by quota are delayed, not held.
   */
  async enqueue(jobs: readonly ApplyJobData[]): Promise<void> {
    if (jobs.length === 0) return;
    const byTenant = new Map<string, ApplyJobData[]>();
    for (const j of jobs) {
      const list = byTenant.get(j.tenantId);
      if (list) list.push(j);
      else byTenant.set(j.tenantId, [j]);
    }
    // A Redis Cluster pipeline must stay on one slot, and each counter has its tenant's hash tag:
    // one small pipeline per tenant, in parallel.
    const ends = await Promise.all(
      [...byTenant].map(async ([tenantId, list]) => {
        const key = tenantQuotaKeys(this.options.redisPrefix, tenantId).enqueued;
        const [entry] = (await this.options.redis.pipeline().incrby(key, list.length).pexpire(key, FAIRNESS_WINDOW_MS).exec()) ?? [];
        return entry && !entry[0] ? Number(entry[1]) : list.length;
      }),
    );
    const bulk: { name: ApplyJobName; data: ApplyJobData; opts: JobsOptions }[] = [];
    const traceparent = currentTraceparent();
    let i = 0;
    for (const [, list] of byTenant) {
      const end = ends[i] ?? list.length;
      i += 1;
      const start = end - list.length;
      list.forEach((job, n) => {
        bulk.push({
          name: 'apply',
          data: traceparent === undefined ? job : { ...job, traceparent },
          opts: this.applyOptions(job.applicationId, Math.min(MAX_PRIORITY, start + n + 1)),
        });
      });
    }
    await this.queue.addBulk(bulk);
  }

  async remove(applicationId: string): Promise<boolean> {
    return (await this.queue.remove(applicationId)) === 1;
  }

  /**
   * `atMs` is on the injected clock; the delay BullMQ keeps is relative, in real time. The expiry
   * jobs of the applications submitted in one turn of the event loop are added together (one
   * addBulk, one Redis round trip); each caller learns whether its own add went through.
   */
  scheduleExpiry(job: ApplyJobData, atMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (!this.expiries) {
        const batch: PendingExpiry[] = [];
        this.expiries = batch;
        setImmediate(() => {
          if (this.expiries === batch) this.expiries = undefined;
          this.queue.addBulk(batch.map((e) => e.job)).then(
            () => {
              for (const e of batch) e.resolve();
            },
            (err: unknown) => {
              for (const e of batch) e.reject(err);
            },
          );
        });
      }
      this.expiries.push({
        job: {
          name: 'expire',
          data: job,
          opts: {
            jobId: expiryJobId(job.applicationId),
            delay: Math.max(0, atMs - this.options.clock.now()),
            attempts: 5,
            backoff: { type: 'exponential', delay: 5_000 },
            removeOnComplete: { age: 3600, count: 1000 },
            removeOnFail: { age: 7 * 86_400 },
          },
        },
        resolve,
        reject,
      });
    });
  }

  /**
   * For each application id: does its apply job exist and can it still run? 'finished' jobs are
   * completed or failed while the row may still be QUEUED (the row's update was lost).
   */
  async presence(applicationIds: readonly string[]): Promise<JobPresence[]> {
    if (applicationIds.length === 0) return [];
    const keys = this.queue.keys;
    const pipeline = this.options.redis.pipeline();
    for (const id of applicationIds)
      pipeline
        .exists(this.queue.toKey(id))
        .zscore(keys.completed ?? '', id)
        .zscore(keys.failed ?? '', id);
    const results = (await pipeline.exec()) ?? [];
    return applicationIds.map((_, n) => {
      const [exists, completed, failed] = [results[n * 3], results[n * 3 + 1], results[n * 3 + 2]].map((r) => {
        if (!r || r[0]) throw r?.[0] ?? new Error('job presence check returned no result');
        return r[1];
      });
      if (Number(exists) !== 1) return 'missing';
      return completed !== null || failed !== null ? 'finished' : 'present';
    });
  }

  /**
   * Re-adds apply jobs whose previous job finished while the row stayed QUEUED. An accepted
   * answer the old job could not record is carried over, so the new job records it instead of
   * calling WeChat a second time.
   */
  async replace(jobs: readonly ApplyJobData[]): Promise<void> {
    const replacements: ApplyJobData[] = [];
    for (const j of jobs) {
      const old = await this.queue.getJob(j.applicationId);
      replacements.push(old?.data.accepted ? { ...j, accepted: old.data.accepted } : j);
      await this.queue.remove(j.applicationId);
    }
    await this.enqueue(replacements);
  }

  close(): Promise<void> {
    return this.queue.close();
  }

  private applyOptions(applicationId: string, priority: number): JobsOptions {
    return {
      jobId: applicationId,
      priority,
      attempts: this.options.maxAttempts,
      backoff: { type: APPLY_BACKOFF, delay: this.options.backoffMs },
      removeOnComplete: { age: 3600, count: 10_000 },
      removeOnFail: { age: 7 * 86_400 },
    };
  }
}

interface PendingExpiry {
  job: { name: ApplyJobName; data: ApplyJobData; opts: JobsOptions };
  resolve: () => void;
  reject: (err: unknown) => void;
}

export function expiryJobId(applicationId: string): string {
  return `expire-${applicationId}`;
}
