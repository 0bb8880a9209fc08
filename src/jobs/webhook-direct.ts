import type { WebhookDeliveryQueue } from '../services/webhooks/deliveries.service.js';
import type { DueDelivery } from '../services/webhooks/event-fan-out.js';
import { EndpointSlots } from './endpoint-slots.js';
import { type DeliveryJobDeps, runDeliveryJob } from './webhook-delivery.job.js';

export interface DirectDeliveryOptions {
  /** Attempts sent from here at once, every endpoint together. */
  concurrency: number;
  /** Attempts to one endpoint at once to start with (and at least). */
  perEndpoint: number;
  /** The most an endpoint that keeps answering fast is given. */
  maxPerEndpoint: number;
  /** An attempt delivered within this long earns its endpoint one more slot. */
  fastMs: number;
  /** After an attempt that did not deliver, the endpoint's deliveries go through the queue for this long. */
  unhealthyMs: number;
  /** Deliveries of one endpoint waiting here for a slot; past this they go through the queue. */
  maxWaitingPerEndpoint: number;
}

export const DEFAULT_DIRECT_OPTIONS: DirectDeliveryOptions = {
  concurrency: 64,
  perEndpoint: 4,
  maxPerEndpoint: 32,
  fastMs: 1_000,
  unhealthyMs: 30_000,
  maxWaitingPerEndpoint: 1_000,
};

interface EndpointState {
  id: string;
  running: number;
  waiting: DueDelivery[];
  unhealthyUntil: number;
}

/**
 * The relay's fast path, where pushes are received and a worker also runs (ROLE=all): a stored
 * push's deliveries are attempted from here at once instead of through a queue poll. Each attempt
 * is the worker's (`runDeliveryJob`: the claim with its lease, the send through the SSRF-filtering
 * sender, the delivery log, the next attempt on the queue), so every guarantee stays: the rows were
 * committed with the push, and what this process does not finish (a crash, a shutdown) is due in
 * Postgres and taken by the delivery sweep; the claim lets only one sender have an attempt.
 *
 * Only healthy endpoints are served here: a delivery that is not due yet, whose endpoint's last
 * attempt from here did not deliver, or that finds its endpoint's slots and waiting line full goes
 * to the queue (the worker, with its per-endpoint limit). An endpoint starts with `perEndpoint`
 * slots and earns one more per fast delivery up to `maxPerEndpoint`, so a hung endpoint of one
 * tenant holds `perEndpoint` of the `concurrency` slots until its timeout, and then none.
 */
export class DirectDelivery implements WebhookDeliveryQueue {
  private running = 0;
  private closed = false;
  private readonly endpoints = new Map<string, EndpointState>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly options: DirectDeliveryOptions;
  private readonly slots: EndpointSlots;

  constructor(
    private readonly deps: DeliveryJobDeps & { fallback: WebhookDeliveryQueue },
    options: Partial<DirectDeliveryOptions> = {},
  ) {
    this.options = { ...DEFAULT_DIRECT_OPTIONS, ...options };
    const { perEndpoint, maxPerEndpoint, fastMs } = this.options;
    this.slots = new EndpointSlots({ perEndpoint, maxPerEndpoint, fastMs });
  }

  async enqueue(deliveries: readonly DueDelivery[]): Promise<void> {
    const now = this.deps.clock.now();
    const queued: DueDelivery[] = [];
    for (const d of deliveries) {
      const ep = this.endpoint(d.endpointId);
      if (this.closed || d.dueAt > now || ep.unhealthyUntil > now) queued.push(d);
      else if (ep.running < this.slots.limit(ep.id) && this.running < this.options.concurrency) this.start(d, ep);
      else if (ep.waiting.length < this.options.maxWaitingPerEndpoint) ep.waiting.push(d);
      else queued.push(d);
    }
    if (queued.length > 0) await this.deps.fallback.enqueue(queued);
  }

  /** Waits for the attempts running here; what still waits goes to the queue. */
  async close(): Promise<void> {
    this.closed = true;
    const left = [...this.endpoints.values()].flatMap((ep) => ep.waiting.splice(0));
    await this.toQueue(left);
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private endpoint(id: string): EndpointState {
    let ep = this.endpoints.get(id);
    if (!ep) {
      ep = { id, running: 0, waiting: [], unhealthyUntil: 0 };
      this.endpoints.set(id, ep);
    }
    return ep;
  }

  private start(d: DueDelivery, ep: EndpointState): void {
    this.running++;
    ep.running++;
    const started = performance.now();
    const work = runDeliveryJob(d, this.deps)
      .then(
        (outcome) => {
          this.slots.settle(ep.id, outcome, performance.now() - started);
          if (outcome !== 'delivered' && outcome !== 'skipped') this.unhealthy(ep);
        },
        (err: unknown) => {
          // Postgres or the queue failed around the attempt: the delivery is due in Postgres; the queue (or the sweep) takes it.
          this.deps.logger.warn({ err, deliveryId: d.deliveryId }, 'a direct webhook delivery failed; the queue takes it');
          this.slots.fail(ep.id);
          this.unhealthy(ep);
          return this.toQueue([d]);
        },
      )
      .finally(() => {
        this.running--;
        ep.running--;
        this.next(ep);
      });
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  /** A freed slot: the same endpoint's next delivery, else another endpoint's (each waits only for a slot of its own endpoint or a global one). */
  private next(freed: EndpointState): void {
    if (this.closed) return;
    if (freed.waiting.length > 0 && freed.running < this.slots.limit(freed.id)) {
      this.start(freed.waiting.shift() as DueDelivery, freed);
      return;
    }
    for (const ep of this.endpoints.values()) {
      if (this.running >= this.options.concurrency) return;
      while (ep.waiting.length > 0 && ep.running < this.slots.limit(ep.id) && this.running < this.options.concurrency)
        this.start(ep.waiting.shift() as DueDelivery, ep);
    }
  }

  /** Its slots were halved by the outcome (EndpointSlots); its deliveries go through the queue for a while. */
  private unhealthy(ep: EndpointState): void {
    ep.unhealthyUntil = this.deps.clock.now() + this.options.unhealthyMs;
    void this.toQueue(ep.waiting.splice(0));
  }

  private async toQueue(deliveries: DueDelivery[]): Promise<void> {
    if (deliveries.length === 0) return;
    // A lost enqueue only delays them to the delivery sweep: they are due in Postgres.
    await this.deps.fallback
      .enqueue(deliveries)
      .catch((err: unknown) => this.deps.logger.warn({ err }, 'enqueueing webhook deliveries failed; the delivery sweep sends them'));
  }
}
