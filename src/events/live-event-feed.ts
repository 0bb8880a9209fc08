import type { Logger } from '../lib/logger.js';
import type { RedisClient } from '../lib/redis.js';
import type { LiveEventPublisher, LiveEventView } from '../services/live-ops/live-mirror.js';
import { type GapListener, type LossListener, SubscriptionGaps } from './subscription-gaps.js';
import { TenantListeners } from './tenant-listeners.js';

/**
 * The live rooms' change feed, beside the applications' (change-feed.ts) and built the same way:
 * committed changes go out on one Redis channel per tenant, every API instance hears all of them
 * through one psubscribe and fans them out in process. Unlike the applications' stream, what is
 * kept is Postgres's live_events table: an event's cursor is its id there, and a subscriber
 * resumes by reading the rows after it (ids grow in commit order per tenant: see recordEvents).
 */
export interface LiveEventFeedKeys {
  channel(tenantId: string): string;
  channelPattern: string;
}

export function liveEventFeedKeys(prefix: string): LiveEventFeedKeys {
  return {
    channel: (tenantId) => `${prefix}:live-events:${tenantId}`,
    channelPattern: `${prefix}:live-events:*`,
  };
}

/** Publishes committed live events (the sync loop and live mutations call it after commit). */
export class RedisLiveEventPublisher implements LiveEventPublisher {
  private readonly keys: LiveEventFeedKeys;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
  ) {
    this.keys = liveEventFeedKeys(prefix);
  }

  /** One PUBLISH per event, in order, in one round trip; plain PUBLISH, so a Redis Cluster delivers it on every node. */
  async publish(tenantId: string, events: readonly LiveEventView[]): Promise<void> {
    if (events.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const event of events) pipeline.publish(this.keys.channel(tenantId), JSON.stringify(event));
    const results = await pipeline.exec();
    const failed = results?.find(([err]) => err);
    if (failed?.[0]) throw failed[0];
  }
}

/** Parses a published event (timestamps come back as Dates). */
export function parseLiveEvent(message: string): LiveEventView {
  const raw = JSON.parse(message) as Omit<LiveEventView, 'createdAt'> & { createdAt: string };
  return { ...raw, createdAt: new Date(raw.createdAt) };
}

export type LiveEventListener = (event: LiveEventView) => void;

/**
 * One psubscribe per gateway instance for every tenant's live events, fanned out by tenant. It may
 * share its connection with the applications' ChangeSubscriber: each handles its own pattern only.
 */
export class LiveEventSubscriber {
  private readonly listeners: TenantListeners<LiveEventView>;
  private readonly gaps: SubscriptionGaps;
  private readonly keys: LiveEventFeedKeys;
  private readonly prefixLength: number;
  private started: Promise<unknown> | undefined;

  constructor(
    private readonly subscriber: RedisClient,
    prefix: string,
    private readonly logger: Logger,
  ) {
    this.keys = liveEventFeedKeys(prefix);
    this.prefixLength = this.keys.channelPattern.length - 1;
    this.listeners = new TenantListeners(logger, 'live event listener');
    this.gaps = new SubscriptionGaps(subscriber, logger, 'live event');
  }

  start(): Promise<unknown> {
    this.started ??= (async () => {
      this.subscriber.on('pmessage', (pattern: string, channel: string, message: string) => {
        if (pattern === this.keys.channelPattern) this.dispatch(channel, message);
      });
      if (this.subscriber.status !== 'ready') await new Promise<void>((resolve) => this.subscriber.once('ready', () => resolve()));
      await this.subscriber.psubscribe(this.keys.channelPattern);
      // Events published while the connection is lost reach nobody: listeners replay them from live_events.
      this.gaps.watch();
    })();
    return this.started;
  }

  /** Returns the function that removes the listener. */
  listen(tenantId: string, listener: LiveEventListener): () => void {
    return this.listeners.add(tenantId, listener);
  }

  /** Also tells `onGap` when events may have been missed (the connection was lost from `sinceMs`), and `onLost` when that began. */
  onGap(tenantId: string, listener: GapListener, onLost?: LossListener): () => void {
    return this.gaps.add(tenantId, listener, onLost);
  }

  get listenerCount(): number {
    return this.listeners.count;
  }

  private dispatch(channel: string, message: string): void {
    const tenantId = channel.slice(this.prefixLength);
    if (!this.listeners.has(tenantId)) return;
    let event: LiveEventView;
    try {
      event = parseLiveEvent(message);
    } catch (err) {
      this.logger.error({ err, channel }, 'unparseable live event message');
      return;
    }
    this.listeners.emit(tenantId, event);
  }
}
