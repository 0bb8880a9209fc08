import type { Db } from '../db/client.js';
import type { OutboxFanOut } from '../events/outbox-relay.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { RedisClient } from '../lib/redis.js';
import type { SecretBox } from '../lib/secret-box.js';
import type { WebhookMetrics } from '../metrics/webhook-metrics.js';
import { WebhookDeliveriesService, type WebhookDeliveryQueue } from '../services/webhooks/deliveries.service.js';
import { DELIVERY_TIMEOUT_MS } from '../services/webhooks/delivery-schedule.js';
import { DeliveryStore } from '../services/webhooks/delivery.store.js';
import { applicationEventsFanOut } from '../services/webhooks/outbox-events.js';
import { startWebhookWorker } from './webhook-delivery.worker.js';
import { DirectDelivery, type DirectDeliveryOptions } from './webhook-direct.js';
import { WebhookQueue } from './webhook-queue.js';
import { createWebhookSender, type Send } from './webhook-sender.js';

export interface WebhookDeliveryDeps {
  db: Db;
  box: SecretBox;
  /** Commands connection (the queue); not closed here. */
  redis: RedisClient;
  redisPrefix: string;
  clock: Clock;
  logger: Logger;
  metrics?: WebhookMetrics;
}

export interface WebhookWorkerConfig {
  /** The worker's own connection (`maxRetriesPerRequest: null`); not closed here. */
  connection: RedisClient;
  allowPrivateAddresses: boolean;
  concurrency: number;
  perEndpoint?: number;
  /** How often due deliveries whose job was lost are enqueued again (default 5 s). */
  sweepIntervalMs?: number;
  timeoutMs?: number;
  random?: () => number;
}

/**
 * Outbound webhooks wired once: the queue and delivery log (every role: the API and the outbox
 * relay make deliveries), and in the worker role the worker and the sweep of due deliveries.
 */
export function createWebhookDelivery(deps: WebhookDeliveryDeps) {
  const queue = new WebhookQueue({ redis: deps.redis, redisPrefix: deps.redisPrefix, clock: deps.clock });
  queue.queue.on('error', (err) => deps.logger.debug({ err }, 'webhook queue redis error'));
  const store = new DeliveryStore(deps.db, deps.box);
  const deliveries = new WebhookDeliveriesService({ db: deps.db, clock: deps.clock, queue });
  let direct: DirectDelivery | undefined;
  // Deliveries made in this process go to its direct path once it has one (it runs a worker), else to the queue.
  const dispatch: WebhookDeliveryQueue = { enqueue: (due) => (direct ?? queue).enqueue(due) };
  const fanOut: OutboxFanOut = applicationEventsFanOut(deps.clock, dispatch);
  let stopWorker: (() => Promise<void>) | undefined;
  // One sender (and its keep-alive, SSRF-filtering agents) for the worker and the direct path of this process.
  let sender: { send: Send; close(): void; timeoutMs: number } | undefined;
  const senderFor = (config: { allowPrivateAddresses: boolean; timeoutMs?: number }) => {
    if (!sender) {
      const timeoutMs = config.timeoutMs ?? DELIVERY_TIMEOUT_MS;
      sender = { ...createWebhookSender({ allowPrivateAddresses: config.allowPrivateAddresses, timeoutMs }), timeoutMs };
    }
    return sender;
  };
  const onAttempt = (a: { outcome: string; kind: string; latencyMs: number }) => {
    deps.metrics?.deliveries.inc({ kind: a.kind, outcome: a.outcome });
    deps.metrics?.latency.observe({ kind: a.kind }, a.latencyMs / 1000);
  };

  /** Enqueues PENDING deliveries that are due (a lost enqueue, a lease that ran out); returns how many. */
  const sweep = async (): Promise<number> => {
    const due = await store.due(deps.clock.now(), 500);
    await queue.enqueue(due, 'sweep');
    return due.length;
  };

  return {
    queue,
    /** Where the deliveries made in this process go: the direct path once `startDirect` ran, else the queue. */
    dispatch,
    store,
    deliveries,
    fanOut,
    sweep,
    startWorker(config: WebhookWorkerConfig) {
      const { send, timeoutMs } = senderFor(config);
      const handle = startWebhookWorker({
        connection: config.connection,
        redisPrefix: deps.redisPrefix,
        concurrency: config.concurrency,
        perEndpoint: config.perEndpoint ?? 4,
        store,
        queue,
        send,
        clock: deps.clock,
        logger: deps.logger,
        // Held for twice the timeout (30 s by default): the send, then the two statements recording it.
        leaseMs: 2 * timeoutMs,
        ...(config.random === undefined ? {} : { random: config.random }),
        onAttempt,
      });
      const timer = setInterval(() => {
        sweep().catch((err: unknown) => deps.logger.warn({ err }, 'webhook delivery sweep failed; retrying on the next tick'));
      }, config.sweepIntervalMs ?? 5_000);
      timer.unref();
      stopWorker = async () => {
        clearInterval(timer);
        await handle.close();
      };
      return handle;
    },
    /**
     * The fast path (src/jobs/webhook-direct.ts), for a process that runs a worker: the deliveries
     * made here (the intake's relayed pushes, the outbox's events) are attempted from this process
     * at once; what it does not send goes to `queue`. One per process: a second call answers the first.
     */
    startDirect(config: { allowPrivateAddresses: boolean; timeoutMs?: number; random?: () => number } & Partial<DirectDeliveryOptions>) {
      if (direct) return direct;
      const { allowPrivateAddresses: _a, timeoutMs: _t, random, ...options } = config;
      const { send, timeoutMs } = senderFor(config);
      direct = new DirectDelivery(
        {
          store,
          queue,
          fallback: queue,
          send,
          clock: deps.clock,
          logger: deps.logger,
          leaseMs: 2 * timeoutMs,
          ...(random === undefined ? {} : { random }),
          onAttempt,
        },
        options,
      );
      return direct;
    },
    async close() {
      // Deliveries made after this go to the queue (the direct path is closed), or are due in Postgres for the sweep.
      await direct?.close();
      await stopWorker?.();
      sender?.close();
      await queue.close();
    },
  };
}

export type WebhookDelivery = ReturnType<typeof createWebhookDelivery>;
