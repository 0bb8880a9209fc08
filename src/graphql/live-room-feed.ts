import type { LiveEventSubscriber } from '../events/live-event-feed.js';
import type { Logger } from '../lib/logger.js';
import type { TenantContext } from '../services/context.js';
import { ERROR_CODES } from '../services/errors.js';
import type { LiveEventFilter, LiveEventsService } from '../services/live-ops/live-events.service.js';
import type { LiveEventView } from '../services/live-ops/live-mirror.js';
import { graphqlError } from './errors.js';
import { listenWithGaps, ReplayingSubscription } from './replaying-subscription.js';

/** Where live events come from: live (every instance's publishes, one psubscribe) and kept (live_events in Postgres). */
export interface LiveEventSource {
  /** `onGap`: live events from `sinceMs` on were missed (the subscription connection was lost); they are in Postgres. `onLost`: it was just lost. */
  listen(tenantId: string, listener: (event: LiveEventView) => void, onGap?: (sinceMs: number) => void, onLost?: (atMs: number) => void): () => void;
  /** Events after `after` (exclusive), oldest first, at most `count`. */
  replay(ctx: TenantContext, after: string, count: number): Promise<LiveEventView[]>;
  /** The cursor of the last event created before `at`. */
  cursorBefore(ctx: TenantContext, at: Date): Promise<string>;
  check(filter: LiveEventFilter): void;
}

export function liveEventSource(subscriber: LiveEventSubscriber, events: LiveEventsService): LiveEventSource {
  return {
    listen: (tenantId, listener, onGap, onLost) => listenWithGaps(subscriber, tenantId, listener, onGap, onLost),
    replay: (ctx, after, count) => events.after(ctx, after, count),
    cursorBefore: (ctx, at) => events.cursorBefore(ctx, at),
    check: (filter) => events.check(filter),
  };
}

/** A source with no events (harnesses that wire no live events). */
export const NO_LIVE_EVENTS: LiveEventSource = {
  listen: () => () => undefined,
  replay: async () => [],
  cursorBefore: async () => '0',
  check: () => undefined,
};

/** Clocks of the instances and of Postgres differ a little: a gap is replayed from this long before it began. */
const GAP_SLACK_MS = 5_000;

export interface LiveRoomFeedOptions {
  /** Events a subscriber may have waiting before it is closed as too slow. */
  maxPending?: number;
  replayPageSize?: number;
  logger?: Logger;
}

/**
 * `liveRoomUpdated`: one tenant's room and goods events, filtered by merchant, resumable after a
 * cursor. Built as the applications' feed (application-feed.ts): listen, then replay, holding live
 * events meanwhile. Unlike it, nothing coalesces (a subscriber sees NOT_STARTED, LIVE and ENDED,
 * not just ENDED), so a subscriber more than `maxPending` events behind is closed.
 */
export class LiveRoomFeed {
  private readonly maxPending: number;
  private readonly replayPageSize: number;

  constructor(
    private readonly source: LiveEventSource,
    private readonly options: LiveRoomFeedOptions = {},
  ) {
    this.maxPending = options.maxPending ?? 1000;
    this.replayPageSize = options.replayPageSize ?? 500;
  }

  subscribe(ctx: TenantContext, filter: LiveEventFilter): AsyncIterableIterator<LiveEventView> {
    this.source.check(filter);
    return new LiveRoomSubscription(this.source, ctx, filter, this.maxPending, this.replayPageSize, this.options.logger);
  }
}

/** Ids delivered live, remembered to drop a repeat (publishes of two processes can cross). */
const RECENT_IDS = 1000;

/** One subscriber's live events; the replay and gap protocol is ReplayingSubscription's. */
class LiveRoomSubscription extends ReplayingSubscription<LiveEventView, string | { sinceMs: number }> {
  private readonly pending: LiveEventView[] = [];
  /** Live events that arrived while replaying; undefined once live. */
  private held: LiveEventView[] | undefined;
  /** The greatest cursor delivered or replayed past; undefined before the first. */
  private lastCursor: string | undefined;
  /** The last id replayed: live events up to it were in the replay (ids grow in commit order per tenant). */
  private replayedUpTo = 0;
  private readonly recent = new Set<string>();

  constructor(
    private readonly source: LiveEventSource,
    ctx: TenantContext,
    private readonly filter: LiveEventFilter,
    maxPending: number,
    private readonly replayPageSize: number,
    logger: Logger | undefined,
  ) {
    super(ctx, maxPending, logger, 'live room ');
    if (filter.after) {
      this.replayFrom = filter.after;
      this.lastCursor = filter.after;
      this.replayedUpTo = Number(filter.after);
      this.held = [];
    }
    this.listen((onEvent, onGap, onLost) => source.listen(ctx.tenantId, onEvent, onGap, onLost));
  }

  protected takePending(): LiveEventView | undefined {
    return this.pending.shift();
  }

  protected tooSlow(): Error {
    return graphqlError('SUBSCRIBER_TOO_SLOW', `More than ${this.maxPending} live events waited for this subscriber. ${ERROR_CODES.SUBSCRIBER_TOO_SLOW}`);
  }

  /** From the last event delivered, or (no cursor yet) from a little before the gap began, looked up in Postgres. */
  protected gapStart(sinceMs: number): string | { sinceMs: number } {
    return this.lastCursor ?? { sinceMs };
  }

  protected hold(): void {
    this.held = [];
  }

  protected clear(): void {
    this.pending.length = 0;
    this.held = undefined;
  }

  protected async replayPage(start: string | { sinceMs: number }): Promise<void> {
    const from = typeof start === 'string' ? start : await this.source.cursorBefore(this.ctx, new Date(start.sinceMs - GAP_SLACK_MS));
    if (typeof start !== 'string') this.replayedUpTo = Math.max(this.replayedUpTo, Number(from));
    const page = await this.source.replay(this.ctx, from, this.replayPageSize);
    if (this.state !== 'open') return;
    for (const event of page) {
      // Already delivered live before the gap: not again.
      if (this.matches(event) && !this.recent.has(event.cursor)) this.enqueue(event);
      this.replayedUpTo = Math.max(this.replayedUpTo, Number(event.cursor));
      this.lastCursor = String(this.replayedUpTo);
    }
    const last = page.at(-1);
    if (page.length === this.replayPageSize && last) {
      this.replayFrom = last.cursor;
      return;
    }
    if (!this.caughtUp(this.lastCursor ?? from)) return;
    const held = this.held ?? [];
    this.replayFrom = undefined;
    this.held = undefined;
    for (const event of held) this.onLive(event);
  }

  protected onLive(event: LiveEventView): void {
    if (this.state !== 'open' || !this.matches(event)) return;
    if (this.held) {
      this.held.push(event);
      if (this.held.length > this.maxPending) this.overflow();
      return;
    }
    if (Number(event.cursor) <= this.replayedUpTo || this.recent.has(event.cursor)) return;
    this.enqueue(event);
  }

  private enqueue(event: LiveEventView): void {
    this.recent.add(event.cursor);
    if (this.lastCursor === undefined || Number(event.cursor) > Number(this.lastCursor)) this.lastCursor = event.cursor;
    if (this.recent.size > RECENT_IDS) this.recent.delete(this.recent.values().next().value as string);
    if (this.handToReader(event)) return;
    this.pending.push(event);
    if (this.pending.length > this.maxPending) this.overflow();
  }

  private matches(event: LiveEventView): boolean {
    // The tenant check is defensive: the source is already keyed by tenant.
    return event.tenantId === this.ctx.tenantId && (!this.filter.appId || event.appId === this.filter.appId);
  }
}
