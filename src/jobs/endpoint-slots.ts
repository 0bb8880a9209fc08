import type { DeliveryOutcome } from './webhook-delivery.job.js';

export interface EndpointSlotsOptions {
  /** Attempts to one endpoint at once to start with (and at least). */
  perEndpoint: number;
  /** The most an endpoint that keeps answering fast is given. */
  maxPerEndpoint: number;
  /** An attempt delivered within this long earns its endpoint one more slot. */
  fastMs: number;
}

export const DEFAULT_ENDPOINT_SLOTS: EndpointSlotsOptions = { perEndpoint: 4, maxPerEndpoint: 32, fastMs: 1_000 };

/**
 * How many attempts to one endpoint may run at once, in one process: `perEndpoint` to start with,
 * one more for each attempt delivered within `fastMs` (up to `maxPerEndpoint`), half as many
 * (never below `perEndpoint`) after an attempt that did not deliver. A fast receiver's backlog
 * flows at its speed; a hung or failing endpoint of one tenant never holds more than
 * `perEndpoint` of the process's slots, whatever it had earned before. Only endpoints above the
 * start are remembered.
 */
export class EndpointSlots {
  private readonly limits = new Map<string, number>();
  readonly options: EndpointSlotsOptions;

  constructor(options: Partial<EndpointSlotsOptions> = {}) {
    this.options = { ...DEFAULT_ENDPOINT_SLOTS, ...options };
  }

  limit(endpointId: string): number {
    return this.limits.get(endpointId) ?? this.options.perEndpoint;
  }

  /** An attempt that ran `ms` ended with `outcome` (skipped: nothing was sent, nothing changes). */
  settle(endpointId: string, outcome: DeliveryOutcome, ms: number): void {
    if (outcome === 'skipped') return;
    const { perEndpoint, maxPerEndpoint, fastMs } = this.options;
    const limit = this.limit(endpointId);
    let next = limit;
    if (outcome !== 'delivered') next = Math.max(perEndpoint, Math.floor(limit / 2));
    else if (ms <= fastMs) next = Math.min(maxPerEndpoint, limit + 1);
    if (next <= perEndpoint) this.limits.delete(endpointId);
    else this.limits.set(endpointId, next);
  }

  /** After a failure around the attempt (Postgres, the queue): as if it had not delivered. */
  fail(endpointId: string): void {
    this.settle(endpointId, 'failed', 0);
  }
}
