import type { Logger } from '../lib/logger.js';
import type { RedisClient } from '../lib/redis.js';
import { type ApplicationChange, changeFeedKeys, parseChangeMessage } from './change-feed.js';

export type ChangeListener = (change: ApplicationChange) => void;

/**
 * One Redis subscription per gateway instance, fanned out in process to listeners by tenant:
 * 10,000 GraphQL subscribers cost one Redis connection, not 10,000.
 */
export class ChangeSubscriber {
  private readonly listeners = new Map<string, Set<ChangeListener>>();
  private readonly prefixLength: number;
  private started: Promise<unknown> | undefined;

  constructor(
    private readonly subscriber: RedisClient,
    private readonly prefix: string,
    private readonly logger: Logger,
  ) {
    this.prefixLength = `${prefix}:changes:`.length;
  }

  start(): Promise<unknown> {
    this.started ??= (async () => {
      this.subscriber.on('pmessage', (_pattern: string, channel: string, message: string) => this.dispatch(channel, message));
      // Subscribing while ioredis still runs its ready check (INFO) fails with "Connection in
      // subscriber mode": wait until the connection is ready.
      if (this.subscriber.status !== 'ready') await new Promise<void>((resolve) => this.subscriber.once('ready', () => resolve()));
      await this.subscriber.psubscribe(changeFeedKeys(this.prefix).channelPattern);
    })();
    return this.started;
  }

  /** Returns the function that removes the listener. */
  listen(tenantId: string, listener: ChangeListener): () => void {
    let set = this.listeners.get(tenantId);
    if (!set) {
      set = new Set();
      this.listeners.set(tenantId, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(tenantId);
    };
  }

  get listenerCount(): number {
    let n = 0;
    for (const s of this.listeners.values()) n += s.size;
    return n;
  }

  private dispatch(channel: string, message: string): void {
    const set = this.listeners.get(channel.slice(this.prefixLength));
    if (!set) return;
    let change: ApplicationChange;
    try {
      change = parseChangeMessage(message);
    } catch (err) {
      this.logger.error({ err, channel }, 'unparseable change message');
      return;
    }
    for (const listener of set) {
      try {
        listener(change);
      } catch (err) {
        this.logger.error({ err }, 'change listener threw');
      }
    }
  }
}
