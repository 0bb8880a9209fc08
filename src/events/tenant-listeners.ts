import type { Logger } from '../lib/logger.js';

/**
 * In-process listeners keyed by tenant, as the feeds' one Redis subscription per instance fans
 * out to them. A listener that throws is logged; the others are still called.
 */
export class TenantListeners<T> {
  private readonly byTenant = new Map<string, Set<(value: T) => void>>();

  constructor(
    private readonly logger: Logger,
    /** Names the listeners in log lines ("change listener threw"). */
    private readonly what: string,
  ) {}

  /** Returns the function that removes the listener. */
  add(tenantId: string, listener: (value: T) => void): () => void {
    let set = this.byTenant.get(tenantId);
    if (!set) {
      set = new Set();
      this.byTenant.set(tenantId, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.byTenant.delete(tenantId);
    };
  }

  has(tenantId: string): boolean {
    return this.byTenant.has(tenantId);
  }

  get count(): number {
    let n = 0;
    for (const s of this.byTenant.values()) n += s.size;
    return n;
  }

  emit(tenantId: string, value: T): void {
    const set = this.byTenant.get(tenantId);
    if (set) this.call(set, value);
  }

  emitAll(value: T): void {
    for (const set of this.byTenant.values()) this.call(set, value);
  }

  private call(set: Set<(value: T) => void>, value: T): void {
    for (const listener of set) {
      try {
        listener(value);
      } catch (err) {
        this.logger.error({ err }, `${this.what} threw`);
      }
    }
  }
}
