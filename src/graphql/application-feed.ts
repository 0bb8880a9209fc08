import { type ApplicationChange, replayChanges } from '../events/change-feed.js';
import type { ChangeSubscriber } from '../events/change-subscriber.js';
import type { Logger } from '../lib/logger.js';
import type { RedisClient } from '../lib/redis.js';
import type { TenantContext } from '../services/context.js';
import { DomainError } from '../services/errors.js';
import { ERROR_CODES } from '../services/errors.js';
import { graphqlError } from './errors.js';

/** Where changes come from: live (every instance's publishes, via one Redis psubscribe) and kept (the tenant's stream). */
export interface ChangeSource {
  /** `onGap`: live changes from `sinceMs` on were missed (the subscription connection was lost); they are in the stream. */
  listen(tenantId: string, listener: (change: ApplicationChange) => void, onGap?: (sinceMs: number) => void): () => void;
  /** Changes after `after` (exclusive), oldest first, at most `count`. */
  replay(tenantId: string, after: string, count: number): Promise<ApplicationChange[]>;
}

export function redisChangeSource(subscriber: ChangeSubscriber, redis: RedisClient, prefix: string): ChangeSource {
  return {
    listen: (tenantId, listener, onGap) => {
      const unlisten = subscriber.listen(tenantId, listener);
      const unGap = onGap ? subscriber.onGap(tenantId, onGap) : undefined;
      return () => {
        unlisten();
        unGap?.();
      };
    },
    replay: (tenantId, after, count) => replayChanges(redis, prefix, tenantId, after, count),
  };
}

export interface FeedFilter {
  appId?: string | null | undefined;
  id?: string | null | undefined;
  after?: string | null | undefined;
}

export interface FeedOptions {
  /** Distinct applications a subscriber may have waiting before it is closed as too slow. */
  maxPending?: number;
  replayPageSize?: number;
  logger?: Logger;
}

const CURSOR = /^\d{1,20}-\d{1,20}$/;

/** Stream ids carry Redis's clock: a gap is replayed from this long before our clock says it began. */
const GAP_SLACK_MS = 2_000;

/** Orders Redis stream ids ("<ms>-<seq>"). */
export function compareCursors(a: string, b: string): number {
  const [am = '0', as = '0'] = a.split('-');
  const [bm = '0', bs = '0'] = b.split('-');
  return Number(am) - Number(bm) || Number(as) - Number(bs);
}

/** Subscriptions to one tenant's application changes, filtered, resumable, and bounded per subscriber. */
export class ApplicationFeed {
  private readonly maxPending: number;
  private readonly replayPageSize: number;

  constructor(
    private readonly source: ChangeSource,
    private readonly options: FeedOptions = {},
  ) {
    this.maxPending = options.maxPending ?? 1000;
    this.replayPageSize = options.replayPageSize ?? 500;
  }

  subscribe(ctx: TenantContext, filter: FeedFilter): AsyncIterableIterator<ApplicationChange> {
    if (filter.after && !CURSOR.test(filter.after)) throw new DomainError('INVALID_INPUT', 'The "after" cursor is not one this API issued.');
    return new FeedSubscription(this.source, ctx, filter, this.maxPending, this.replayPageSize, this.options.logger);
  }
}

type Waiter = (result: IteratorResult<ApplicationChange>) => void;

/**
 * One subscriber's stream. It listens before it replays, holds live changes while replaying, then
 * lets through only live changes newer than the last one replayed: no gap, no duplicate. Waiting
 * changes coalesce per application (the latest state wins, moved to the back so cursors only
 * grow); a subscriber with more than `maxPending` applications waiting is dropped and its next
 * read fails with SUBSCRIBER_TOO_SLOW. Listeners only enqueue, so no subscriber slows another.
 */
class FeedSubscription implements AsyncIterableIterator<ApplicationChange> {
  private readonly pending = new Map<string, ApplicationChange>();
  /** Live changes that arrived while replaying; undefined once live. */
  private held: Map<string, ApplicationChange> | undefined;
  /** Where the next replay page starts; undefined once replay is done. */
  private replayFrom: string | undefined;
  /** The newest cursor queued or delivered. */
  private lastCursor: string | undefined;
  private waiter: Waiter | undefined;
  /** The replay page being read: next() and a gap's catch-up never read two at once. */
  private replaying: Promise<void> | undefined;
  private state: 'open' | 'overflowed' | 'closed' = 'open';
  private readonly unlisten: () => void;

  constructor(
    private readonly source: ChangeSource,
    private readonly ctx: TenantContext,
    private readonly filter: FeedFilter,
    private readonly maxPending: number,
    private readonly replayPageSize: number,
    private readonly logger: Logger | undefined,
  ) {
    if (filter.after) {
      this.replayFrom = filter.after;
      this.lastCursor = filter.after;
      this.held = new Map();
    }
    this.unlisten = source.listen(
      ctx.tenantId,
      (change) => this.onLive(change),
      (sinceMs) => this.onGap(sinceMs),
    );
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<ApplicationChange> {
    return this;
  }

  async next(): Promise<IteratorResult<ApplicationChange>> {
    for (;;) {
      if (this.state === 'overflowed') {
        this.state = 'closed';
        throw graphqlError(
          'SUBSCRIBER_TOO_SLOW',
          `More than ${this.maxPending} applications changed faster than this subscriber read them. ${ERROR_CODES.SUBSCRIBER_TOO_SLOW}`,
        );
      }
      if (this.state === 'closed') return { value: undefined, done: true };
      const first = this.pending.values().next();
      if (!first.done) {
        this.pending.delete(first.value.application.id);
        return { value: first.value, done: false };
      }
      if (this.replayFrom === undefined) return new Promise<IteratorResult<ApplicationChange>>((resolve) => (this.waiter = resolve));
      await this.replayOnce();
    }
  }

  private replayOnce(): Promise<void> {
    const from = this.replayFrom;
    if (from === undefined) return Promise.resolve();
    this.replaying ??= this.replayPage(from).finally(() => {
      this.replaying = undefined;
    });
    return this.replaying;
  }

  /**
   * Live changes were missed: replay the stream from the last one delivered (or from when the gap
   * began), holding live changes meanwhile, exactly as a subscription with `after` starts.
   */
  private onGap(sinceMs: number): void {
    if (this.state !== 'open' || this.replayFrom !== undefined) return; // a replay in progress covers it
    this.replayFrom = this.lastCursor ?? `${Math.max(0, sinceMs - GAP_SLACK_MS)}-0`;
    this.held = new Map();
    // A reader waiting for the next change gets the replayed ones as they are read.
    if (this.waiter) void this.catchUp();
  }

  private async catchUp(): Promise<void> {
    try {
      while (this.state === 'open' && this.replayFrom !== undefined) await this.replayOnce();
    } catch (err) {
      // The stream is out of reach too: try again shortly (a reader that is not waiting retries on its next read).
      this.logger?.warn({ err, tenantId: this.ctx.tenantId }, 'replaying a subscription gap failed; retrying');
      if (this.state === 'open') setTimeout(() => (this.waiter ? void this.catchUp() : undefined), 1_000).unref();
    }
  }

  return(): Promise<IteratorResult<ApplicationChange>> {
    this.close('closed');
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error?: unknown): Promise<IteratorResult<ApplicationChange>> {
    this.close('closed');
    return Promise.reject(error);
  }

  private async replayPage(from: string): Promise<void> {
    const page = await this.source.replay(this.ctx.tenantId, from, this.replayPageSize);
    if (this.state !== 'open') return;
    for (const change of page) {
      if (this.matches(change)) this.enqueue(change);
      this.lastCursor = change.cursor;
    }
    const last = page.at(-1);
    if (page.length === this.replayPageSize && last) {
      this.replayFrom = last.cursor;
      return;
    }
    // Caught up: what arrived meanwhile and was not replayed goes out, then changes flow live.
    const held = this.held ?? new Map<string, ApplicationChange>();
    this.replayFrom = undefined;
    this.held = undefined;
    for (const change of held.values()) this.onLive(change);
  }

  private onLive(change: ApplicationChange): void {
    if (this.state !== 'open' || !this.matches(change)) return;
    if (this.held) {
      coalesce(this.held, change);
      if (this.held.size > this.maxPending) this.overflow();
      return;
    }
    if (this.lastCursor !== undefined && compareCursors(change.cursor, this.lastCursor) <= 0) return;
    this.enqueue(change);
  }

  private enqueue(change: ApplicationChange): void {
    this.lastCursor = change.cursor;
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = undefined;
      waiter({ value: change, done: false });
      return;
    }
    coalesce(this.pending, change);
    if (this.pending.size > this.maxPending) this.overflow();
  }

  private matches(change: ApplicationChange): boolean {
    const a = change.application;
    // The tenant check is defensive: the source is already keyed by tenant.
    return a.tenantId === this.ctx.tenantId && (!this.filter.appId || a.appId === this.filter.appId) && (!this.filter.id || a.id === this.filter.id);
  }

  private overflow(): void {
    this.logger?.warn({ tenantId: this.ctx.tenantId, requestId: this.ctx.requestId, maxPending: this.maxPending }, 'closing a subscriber that fell behind');
    this.close('overflowed');
  }

  private close(state: 'overflowed' | 'closed'): void {
    if (this.state === 'closed') return;
    this.state = state;
    this.unlisten();
    this.pending.clear();
    this.held = undefined;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.({ value: undefined, done: true });
  }
}

function coalesce(map: Map<string, ApplicationChange>, change: ApplicationChange): void {
  map.delete(change.application.id);
  map.set(change.application.id, change);
}
