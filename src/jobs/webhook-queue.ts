import { Queue } from 'bullmq';
import type { Clock } from '../lib/clock.js';
import type { RedisClient } from '../lib/redis.js';
import type { WebhookDeliveryQueue } from '../services/webhooks/deliveries.service.js';
import type { DueDelivery } from '../services/webhooks/event-fan-out.js';
import { bullPrefix } from './quota-keys.js';

export const WEBHOOK_QUEUE_NAME = 'webhook-delivery';

/** A due delivery gets at most one sweep job per window (the sweep runs every 5 s). */
export const SWEEP_JOB_WINDOW_MS = 60_000;

/** Small JSON: the delivery row in Postgres is the truth (attempts, due time, status). */
export interface WebhookJobData {
  tenantId: string;
  deliveryId: string;
  endpointId: string;
}

/**
 * Outbound deliveries, a queue of their own so a backlog of webhooks never delays applyliveinfo
 * calls (and the reverse). One job per attempt: its id is the delivery and its due time, so an
 * attempt enqueued twice (after commit, and by the sweep) runs once, and the next attempt is a new job.
 */
export class WebhookQueue implements WebhookDeliveryQueue {
  readonly queue: Queue<WebhookJobData, string, 'deliver'>;

  constructor(private readonly options: { redis: RedisClient; redisPrefix: string; clock: Clock }) {
    this.queue = new Queue<WebhookJobData, string, 'deliver'>(WEBHOOK_QUEUE_NAME, { connection: options.redis, prefix: bullPrefix(options.redisPrefix) });
  }

  /**
   * `source: 'sweep'` is the repair path: its job ids differ from the normal path's, so a due
   * delivery whose job still waits (delayed in real time while the injected clock says due, or
   * stuck behind a backlog) gets a second job; the claim lets only one of them send. They also
   * change every SWEEP_JOB_WINDOW_MS: a sweep job that ended without moving the delivery on (it
   * failed before its claim, Postgres unreachable; BullMQ keeps a failed job a day, and an add
   * with its id is ignored) must not keep the delivery PENDING for good. The soak found one so.
   */
  async enqueue(deliveries: readonly DueDelivery[], source: 'normal' | 'sweep' = 'normal'): Promise<void> {
    if (deliveries.length === 0) return;
    const now = this.options.clock.now();
    const suffix = source === 'sweep' ? `-s${Math.floor(now / SWEEP_JOB_WINDOW_MS)}` : '';
    await this.queue.addBulk(
      deliveries.map((d) => ({
        name: 'deliver' as const,
        data: { tenantId: d.tenantId, deliveryId: d.deliveryId, endpointId: d.endpointId },
        opts: {
          jobId: `${d.deliveryId}-${d.dueAt}${suffix}`,
          // dueAt is on the injected clock; BullMQ keeps a relative delay in real time.
          delay: Math.max(0, d.dueAt - now),
          // Retries are the delivery's schedule, kept in Postgres, not BullMQ's.
          attempts: 1,
          removeOnComplete: { age: 3600, count: 10_000 },
          removeOnFail: { age: 86_400 },
        },
      })),
    );
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}
