import { type ApplicationChange, replayChanges } from '../events/change-feed.js';
import type { ChangeSubscriber } from '../events/change-subscriber.js';
import type { Logger } from '../lib/logger.js';
import type { RedisClient } from '../lib/redis.js';
import type { TenantContext } from '../services/context.js';
import { DomainError } from '../services/errors.js';
import { ERROR_CODES } from '../services/errors.js';
import { graphqlError } from './errors.js';
import { listenWithGaps, ReplayingSubscription } from './replaying-subscription.js';

/** Where changes come from: live (every instance's publishes, via one Redis psubscribe) and kept (the tenant's stream). */
export interface ChangeSource {
  /** `onGap`: live changes from `sinceMs` on were missed (the subscription connection was lost); they are in the stream. */
  listen(tenantId: string, listener: (change: ApplicationChange) => void, onGap?: (sinceMs: number) => void): () => void;
  /** Changes after `after` (exclusive), oldest first, at most `count`. */
  replay(tenantId: string, after: string, count: number): Promise<ApplicationChange[]>;
}

export function redisChangeSource(subscriber: ChangeSubscriber, redis: RedisClient, prefix: string): ChangeSource {
  return {
    listen: (tenantId, listener, onGap) => listenWithGaps(subscriber, tenantId, listener, onGap),
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

/**
 * One subscriber's stream. It listens before it replays, holds live changes while replaying, then
 * lets through only live changes newer than the last one replayed: no gap, no duplicate. Waiting
 * changes coalesce per application (the latest state wins, moved to the back so cursors only
 * grow); a subscriber with more than `maxPending` applications waiting is dropped and its next
 * read fails with SUBSCRIBER_TOO_SLOW. Listeners only enqueue, so no subscriber slows another.
 * The replay and gap protocol is ReplayingSubscription's.
 */
class FeedSubscription extends ReplayingSubscription<ApplicationChange, string> {
  private readonly pending = new Map<string, ApplicationChange>();
  /** Live changes that arrived while replaying; undefined once live. */
  private held: Map<string, ApplicationChange> | undefined;
  /** The newest cursor queued or delivered. */
  private lastCursor: string | undefined;

  constructor(
    private readonly source: ChangeSource,
    ctx: TenantContext,
    private readonly filter: FeedFilter,
    maxPending: number,
    private readonly replayPageSize: number,
    logger: Logger | undefined,
  ) {
    super(ctx, maxPending, logger, '');
    if (filter.after) {
      this.replayFrom = filter.after;
      this.lastCursor = filter.after;
      this.held = new Map();
    }
    this.listen((onChange, onGap) => source.listen(ctx.tenantId, onChange, onGap));
  }

  protected takePending(): ApplicationChange | undefined {
    const first = this.pending.values().next();
    if (first.done) return undefined;
    this.pending.delete(first.value.application.id);
    return first.value;
  }

  protected tooSlow(): Error {
    return graphqlError(
      'SUBSCRIBER_TOO_SLOW',
      `More than ${this.maxPending} applications changed faster than this subscriber read them. ${ERROR_CODES.SUBSCRIBER_TOO_SLOW}`,
    );
  }

  /** From the last change delivered, or from when the gap began (stream ids carry Redis's clock). */
  protected gapStart(sinceMs: number): string {
    return this.lastCursor ?? `${Math.max(0, sinceMs - GAP_SLACK_MS)}-0`;
  }

  protected hold(): void {
    this.held = new Map();
  }

  protected clear(): void {
    this.pending.clear();
    this.held = undefined;
  }

  protected async replayPage(from: string): Promise<void> {
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

  protected onLive(change: ApplicationChange): void {
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
    if (this.handToReader(change)) return;
    coalesce(this.pending, change);
    if (this.pending.size > this.maxPending) this.overflow();
  }

  private matches(change: ApplicationChange): boolean {
    const a = change.application;
    // The tenant check is defensive: the source is already keyed by tenant.
    return a.tenantId === this.ctx.tenantId && (!this.filter.appId || a.appId === this.filter.appId) && (!this.filter.id || a.id === this.filter.id);
  }
}

function coalesce(map: Map<string, ApplicationChange>, change: ApplicationChange): void {
  map.delete(change.application.id);
  map.set(change.application.id, change);
}
