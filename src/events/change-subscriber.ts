import type { Logger } from '../lib/logger.js';
import type { RedisClient } from '../lib/redis.js';
import { type ApplicationChange, changeFeedKeys, parseChangeMessage } from './change-feed.js';
import { type GapListener, type LossListener, SubscriptionGaps } from './subscription-gaps.js';
import { TenantListeners } from './tenant-listeners.js';

export type ChangeListener = (change: ApplicationChange) => void;
export type { GapListener, LossListener };

/**
 * One Redis subscription per gateway instance, fanned out in process to listeners by tenant:
 * 10,000 GraphQL subscribers cost one Redis connection, not 10,000.
 */
export class ChangeSubscriber {
  private readonly listeners: TenantListeners<ApplicationChange>;
  private readonly gaps: SubscriptionGaps;
  private readonly prefixLength: number;
  private started: Promise<unknown> | undefined;

  constructor(
    private readonly subscriber: RedisClient,
    private readonly prefix: string,
    private readonly logger: Logger,
  ) {
    this.prefixLength = `${prefix}:changes:`.length;
    this.listeners = new TenantListeners(logger, 'change listener');
    this.gaps = new SubscriptionGaps(subscriber, logger, 'change');
  }

  start(): Promise<unknown> {
    this.started ??= (async () => {
      this.subscriber.on('pmessage', (_pattern: string, channel: string, message: string) => this.dispatch(channel, message));
      // Subscribing while ioredis still runs its ready check (INFO) fails with "Connection in
      // subscriber mode": wait until the connection is ready.
      if (this.subscriber.status !== 'ready') await new Promise<void>((resolve) => this.subscriber.once('ready', () => resolve()));
      await this.subscriber.psubscribe(changeFeedKeys(this.prefix).channelPattern);
      // A lost connection drops every message published until ioredis has subscribed again:
      // listeners are told, and replay the gap from the tenant's stream.
      this.gaps.watch();
    })();
    return this.started;
  }

  /** Also tells `onGap` when changes may have been missed, and `onLost` when that began (see GapListener, LossListener). */
  onGap(tenantId: string, listener: GapListener, onLost?: LossListener): () => void {
    return this.gaps.add(tenantId, listener, onLost);
  }

  /** Returns the function that removes the listener. */
  listen(tenantId: string, listener: ChangeListener): () => void {
    return this.listeners.add(tenantId, listener);
  }

  get listenerCount(): number {
    return this.listeners.count;
  }

  private dispatch(channel: string, message: string): void {
    const tenantId = channel.slice(this.prefixLength);
    if (!this.listeners.has(tenantId)) return;
    let change: ApplicationChange;
    try {
      change = parseChangeMessage(message);
    } catch (err) {
      this.logger.error({ err, channel }, 'unparseable change message');
      return;
    }
    this.listeners.emit(tenantId, change);
  }
}
