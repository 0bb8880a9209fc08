import type { Logger } from '../lib/logger.js';
import type { RedisClient } from '../lib/redis.js';
import { TenantListeners } from './tenant-listeners.js';

/**
 * Called when the subscription is back after its connection was lost: what was published from
 * `sinceMs` (when it was lost) until now reached no listener, and must be read from where it is kept.
 */
export type GapListener = (sinceMs: number) => void;

/**
 * Called when the connection is lost (at `atMs`), before anything published meanwhile can be
 * heard again: a listener that holds what it hears from now on until its GapListener has
 * replayed the gap cannot let a message heard after the reconnect move it past what was missed.
 */
export type LossListener = (atMs: number) => void;

/**
 * Watches an instance's subscription connection for the gaps a lost connection leaves: ioredis
 * subscribes again on reconnect (before 'ready'), and every message published meanwhile is
 * dropped. The feeds (applications, live rooms) each keep one, and replay the gap from their store.
 */
export class SubscriptionGaps {
  private readonly listeners: TenantListeners<number>;
  private readonly lossListeners: TenantListeners<number>;
  /** When the connection was lost; undefined while it is up. */
  private lostAt: number | undefined;
  private watching = false;

  constructor(
    private readonly connection: RedisClient,
    private readonly logger: Logger,
    /** Names the feed in log lines ("change subscription restored"). */
    private readonly what: string,
  ) {
    this.listeners = new TenantListeners(logger, `${what} gap listener`);
    this.lossListeners = new TenantListeners(logger, `${what} loss listener`);
  }

  /** Starts watching; call once the feed's pattern is subscribed. */
  watch(): void {
    if (this.watching) return;
    this.watching = true;
    this.connection.on('close', () => {
      if (this.lostAt !== undefined) return; // a reconnect attempt failing: the same loss
      this.lostAt = Date.now();
      this.lossListeners.emitAll(this.lostAt);
    });
    this.connection.on('ready', () => void this.resubscribed());
  }

  /** Returns the function that removes the listeners. */
  add(tenantId: string, listener: GapListener, onLost?: LossListener): () => void {
    const removeGap = this.listeners.add(tenantId, listener);
    const removeLoss = onLost ? this.lossListeners.add(tenantId, onLost) : undefined;
    return () => {
      removeGap();
      removeLoss?.();
    };
  }

  private async resubscribed(): Promise<void> {
    const since = this.lostAt;
    if (since === undefined) return;
    try {
      // The PSUBSCRIBE ioredis re-sent is answered before this PING: the subscription is live again.
      await this.connection.ping();
    } catch {
      return; // lost again: the next 'ready' reports the whole gap
    }
    this.lostAt = undefined;
    this.logger.warn({ lostForMs: Date.now() - since }, `${this.what} subscription restored; subscribers replay what they missed`);
    this.listeners.emitAll(since);
  }
}
