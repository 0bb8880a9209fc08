import { DelayedError, Worker } from 'bullmq';
import { withLogContext } from '../lib/log-context.js';
import type { Logger } from '../lib/logger.js';
import type { RedisClient } from '../lib/redis.js';
import { EndpointSlots } from './endpoint-slots.js';
import { bullPrefix } from './quota-keys.js';
import { type DeliveryJobDeps, runDeliveryJob } from './webhook-delivery.job.js';
import { WEBHOOK_QUEUE_NAME, type WebhookJobData } from './webhook-queue.js';

export interface WebhookWorkerOptions {
  connection: RedisClient;
  redisPrefix: string;
  /** Deliveries this worker sends at once. */
  concurrency: number;
  /**
   * Deliveries to one endpoint this worker sends at once, to start with and at least. With the
   * 15 s timeout, a dead or slow endpoint holds at most this many of the worker's slots; every
   * other endpoint (every other tenant's) keeps the rest. An endpoint that answers fast earns more,
   * up to `maxPerEndpoint` (EndpointSlots). Up to twice its current slots more wait here for one
   * of them (so a fast endpoint's backlog flows without pauses); past that a job waits a moment in
   * the delayed set.
   */
  perEndpoint: number;
  /** The most slots a fast endpoint earns (default 32). */
  maxPerEndpoint?: number;
  logger: Logger;
}

const OVER_LIMIT_DELAY_MS = 500;

export function startWebhookWorker(deps: DeliveryJobDeps & WebhookWorkerOptions): {
  worker: Worker<WebhookJobData, string, 'deliver'>;
  close(): Promise<void>;
} {
  const running = new Map<string, number>();
  // Jobs waiting here for a slot of their endpoint, by endpoint: a fast endpoint's backlog goes
  // straight from one attempt to the next instead of round trips through the delayed set.
  const waiting = new Map<string, (() => void)[]>();
  const maxHeld = Math.max(deps.perEndpoint * 3, Math.floor(deps.concurrency / 2));
  const slots = new EndpointSlots({ perEndpoint: deps.perEndpoint, ...(deps.maxPerEndpoint === undefined ? {} : { maxPerEndpoint: deps.maxPerEndpoint }) });
  const limitOf = (endpointId: string) => Math.min(slots.limit(endpointId), maxHeld);
  const worker = new Worker<WebhookJobData, string, 'deliver'>(
    WEBHOOK_QUEUE_NAME,
    async (job, token) => {
      const endpointId = job.data.endpointId;
      const limit = limitOf(endpointId);
      if ((running.get(endpointId) ?? 0) >= limit) {
        const queue = waiting.get(endpointId) ?? [];
        // Waiting here holds a slot of the worker too: one endpoint never holds more than half of them (or its start).
        if (queue.length >= limit * 2 || (running.get(endpointId) ?? 0) + queue.length >= maxHeld) {
          await job.moveToDelayed(Date.now() + OVER_LIMIT_DELAY_MS, token);
          throw new DelayedError();
        }
        // The finishing attempt hands its slot over (running stays at the limit).
        await new Promise<void>((resolve) => {
          queue.push(resolve);
          waiting.set(endpointId, queue);
        });
      } else {
        running.set(endpointId, (running.get(endpointId) ?? 0) + 1);
      }
      const started = performance.now();
      try {
        const outcome = await withLogContext({ tenantId: job.data.tenantId, ...(job.id === undefined ? {} : { jobId: job.id }) }, () =>
          runDeliveryJob(job.data, deps),
        );
        slots.settle(endpointId, outcome, performance.now() - started);
        return outcome;
      } catch (err) {
        slots.fail(endpointId);
        throw err;
      } finally {
        // The slot goes to the next waiting job of the endpoint; a slot earned just now lets one more start.
        const queue = waiting.get(endpointId);
        const next = queue?.shift();
        if (next) next();
        else {
          const left = (running.get(endpointId) ?? 1) - 1;
          if (left === 0) running.delete(endpointId);
          else running.set(endpointId, left);
        }
        if (queue && queue.length > 0 && (running.get(endpointId) ?? 0) < limitOf(endpointId)) {
          running.set(endpointId, (running.get(endpointId) ?? 0) + 1);
          queue.shift()?.();
        }
        if (queue?.length === 0) waiting.delete(endpointId);
      }
    },
    {
      connection: deps.connection,
      prefix: bullPrefix(deps.redisPrefix),
      concurrency: deps.concurrency,
      // An attempt lasts at most the timeout (15 s by default) plus two statements, within its lease.
      lockDuration: Math.max(30_000, deps.leaseMs),
      maxStalledCount: 2,
    },
  );
  worker.on('error', (err) => deps.logger.error({ err }, 'webhook worker error'));
  worker.on('failed', (job, err) => {
    if (job) deps.logger.warn({ jobId: job.id, err: err.message }, 'webhook job failed; the delivery sweep takes the delivery again');
  });
  return { worker, close: () => worker.close() };
}
