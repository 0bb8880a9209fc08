import type { Logger } from '../lib/logger.js';
import type { RedisClient } from '../lib/redis.js';
import { type ApplicationChange, changeFeedKeys, parseChangeMessage } from './change-feed.js';

export type ChangeListener = (change: ApplicationChange) => void;

/**
 * Called when the subscription is back after its connection was lost: changes published from
 * `sinceMs` (when it was lost) until now reached no listener, and are in the tenant's stream.
 */
export type GapListener = (sinceMs: number) => void;

/**
 * One Redis subscription per gateway instance, fanned out in process to listeners by tenant:
 * 10,000 GraphQL subscribers cost one Redis connection, not 10,000.
 */
export class ChangeSubscriber {
  private readonly listeners = new Map<string, Set<ChangeListener>>();
  private readonly gapListeners = new Map<string, Set<GapListener>>();
  private readonly prefixLength: number;
  private started: Promise<unknown> | undefined;
  /** When the subscription connection was lost; undefined while it is up. */
  private lostAt: number | undefined;

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
      // A lost connection drops every message published until ioredis has subscribed again
      // (it does so on reconnect, before 'ready'): listeners are told, and replay the gap.
      this.subscriber.on('close', () => {
        this.lostAt ??= Date.now();
      });
      this.subscriber.on('ready', () => void this.resubscribed());
    })();
    return this.started;
  }

  /** Also tells `onGap` when changes may have been missed (see GapListener). */
  onGap(tenantId: string, listener: GapListener): () => void {
    return addTo(this.gapListeners, tenantId, listener);
  }

  private async resubscribed(): Promise<void> {
    const since = this.lostAt;
    if (since === undefined) return;
    try {
      // The PSUBSCRIBE ioredis re-sent is answered before this PING: the subscription is live again.
      await this.subscriber.ping();
    } catch {
      return; // lost again: the next 'ready' reports the whole gap
    }
    this.lostAt = undefined;
    this.logger.warn({ lostForMs: Date.now() - since }, 'change subscription restored; subscribers replay what they missed');
    for (const set of this.gapListeners.values()) {
      for (const listener of set) {
        try {
          listener(since);
        } catch (err) {
          this.logger.error({ err }, 'gap listener threw');
        }
      }
    }
  }

  /** Returns the function that removes the listener. */
  listen(tenantId: string, listener: ChangeListener): () => void {
    return addTo(this.listeners, tenantId, listener);
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

function addTo<T>(map: Map<string, Set<T>>, key: string, value: T): () => void {
  let set = map.get(key);
  if (!set) {
    set = new Set();
    map.set(key, set);
  }
  set.add(value);
  return () => {
    set.delete(value);
    if (set.size === 0) map.delete(key);
  };
}
