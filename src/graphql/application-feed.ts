import { type ApplicationChange, replayChanges, type StreamReplay, streamCursorNow } from '../events/change-feed.js';
import type { ChangeSubscriber } from '../events/change-subscriber.js';
import type { Logger } from '../lib/logger.js';
import type { RedisClient } from '../lib/redis.js';
import type { TenantContext } from '../services/context.js';
import { DomainError } from '../services/errors.js';
import { ERROR_CODES } from '../services/errors.js';
import type { ChangedApplication, ChangedSinceQuery, ChangePosition, LiveApplicationQueries } from '../services/live-application/index.js';
import { graphqlError } from './errors.js';
import { listenWithGaps, ReplayingSubscription } from './replaying-subscription.js';

/**
 * Where changes come from: live (every instance's publishes, via one Redis psubscribe), kept (the
 * tenant's stream) and, for what the stream lost, stored (the applications in Postgres).
 */
export interface ChangeSource {
  /**
   * `onGap`: live changes from `sinceMs` on were missed (the subscription connection was lost);
   * they are in the stream. `onLost`: that connection was just lost (before anything can be heard again).
   */
  listen(tenantId: string, listener: (change: ApplicationChange) => void, onGap?: (sinceMs: number) => void, onLost?: (atMs: number) => void): () => void;
  /**
   * Changes after `after` (exclusive), oldest first, at most `count`, and whether the stream has
   * them all. `holdingSince` (performance.now() ms): the caller has heard and held every live
   * change since then, so a read of the same page issued since may answer it too.
   */
  replay(tenantId: string, after: string, count: number, holdingSince?: number): Promise<StreamReplay>;
  /**
   * The current state of the applications changed since an instant, oldest change first, in the
   * caller's tenant, and `asOf`: a stream cursor taken before the read, so every change up to it
   * is in what the read returned (or a newer state of its application) and every later one has a
   * greater cursor.
   */
  changedSince(ctx: TenantContext, query: ChangedSinceQuery): Promise<StoreRead>;
}

export interface StoreRead {
  changes: ChangedApplication[];
  asOf: string;
}

/**
 * The Redis-backed source. Reads are shared: subscribers of one tenant asking for the same page
 * while it is being read (every subscriber of an instance replays a gap at once when its
 * subscription connection comes back) get one read between them. A stream read is shared with
 * a subscriber only if it was issued after that subscriber began holding live changes: what was
 * added after the read is then among what it holds. A Postgres read can be shared with any:
 * `asOf` belongs to the read, not to whoever asked first, and a subscriber joining late replays
 * the stream from `asOf` on.
 */
export function redisChangeSource(
  subscriber: ChangeSubscriber,
  redis: RedisClient,
  prefix: string,
  applications: Pick<LiveApplicationQueries, 'changedSince'>,
  logger?: Logger,
): ChangeSource {
  const reading = new Map<string, Promise<StoreRead>>();
  const replaying = new Map<string, { issuedAt: number; read: Promise<StreamReplay> }>();
  const read = async (ctx: TenantContext, query: ChangedSinceQuery): Promise<StoreRead> => {
    const asOf = await streamCursorNow(redis, prefix, ctx.tenantId);
    return { changes: await applications.changedSince(ctx, query), asOf };
  };
  return {
    listen: (tenantId, listener, onGap, onLost) => listenWithGaps(subscriber, tenantId, listener, onGap, onLost),
    replay: (tenantId, after, count, holdingSince) => {
      const key = `${tenantId} ${after} ${count}`;
      const shared = replaying.get(key);
      if (shared && holdingSince !== undefined && shared.issuedAt >= holdingSince) return shared.read;
      const issuedAt = performance.now();
      const read = replayChanges(redis, prefix, tenantId, after, count).finally(() => {
        if (replaying.get(key)?.read === read) replaying.delete(key);
      });
      replaying.set(key, { issuedAt, read });
      return read;
    },
    changedSince: (ctx, query) => {
      const key = JSON.stringify([ctx.tenantId, query.since, query.after?.updatedAt, query.after?.id, query.appId, query.id, query.limit]);
      let shared = reading.get(key);
      if (!shared) {
        // Once per read, not per subscriber: a Redis restart has every subscriber of the tenant here at once.
        if (!query.after) {
          logger?.warn(
            { tenantId: ctx.tenantId, since: query.since },
            'the change stream no longer holds every change subscribers missed (Redis lost or trimmed it); replaying the applications changed since from Postgres',
          );
        }
        shared = read(ctx, query).finally(() => reading.delete(key));
        reading.set(key, shared);
      }
      return shared;
    },
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

/**
 * A replay from Postgres starts this long before the cursor's instant: updated_at is the app's
 * clock at commit and a cursor Redis's at publish, which the outbox relay can make a few seconds
 * later (a publish that failed waits for its sweep: 5 s grace, every 2 s), and clocks differ.
 */
const STORE_SLACK_MS = 60_000;
/** ...rounded down to this, so subscribers with nearby cursors ask for the same read and share it. */
const STORE_SINCE_STEP_MS = 10_000;

/** Replaying from Postgres: the applications changed since `since`, page by page, then the stream from `asOf`. */
interface StorePhase {
  since: string;
  /** The next page starts after this row. */
  position?: ChangePosition;
  /** The cursor the stream could not replay from: each item read here carries it (resuming from it reads them again). */
  resume: string;
  /** The first page's `asOf`: every change up to it is in what Postgres returns; the stream replays the rest. */
  asOf?: string;
}

type ReplayStart = string | StorePhase;

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
 * The replay and gap protocol is ReplayingSubscription's. When the stream cannot vouch for a
 * replay (Redis lost it, or trimmed past the cursor), the replay reads the current state of the
 * applications changed since from Postgres (StorePhase), then the stream from that read's `asOf`.
 */
class FeedSubscription extends ReplayingSubscription<ApplicationChange, ReplayStart> {
  private readonly pending = new Map<string, ApplicationChange>();
  /** Live changes that arrived while replaying; undefined once live. */
  private held: Map<string, ApplicationChange> | undefined;
  /** The newest cursor queued or delivered. */
  private lastCursor: string | undefined;
  /** When `held` began (performance.now() ms): every live change since is in it. */
  private holdingSince: number | undefined;
  /**
   * After a replay from Postgres: the state of each application it delivered, until the
   * stream is past `until`. A change of one of them that the stream still brings and that is not
   * newer is dropped (no step back to a state the subscriber has already seen superseded).
   */
  private fromStore: { until: string | undefined; delivered: Map<string, { updatedAt: string; status: string }> } | undefined;

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
      this.holdingSince = performance.now();
    }
    this.listen((onChange, onGap, onLost) => source.listen(ctx.tenantId, onChange, onGap, onLost));
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
    this.holdingSince = performance.now();
  }

  protected clear(): void {
    this.pending.clear();
    this.held = undefined;
  }

  protected async replayPage(from: ReplayStart): Promise<void> {
    if (typeof from === 'string') await this.replayStream(from);
    else await this.replayStore(from);
  }

  private async replayStream(from: string): Promise<void> {
    const { complete, changes: page } = await this.source.replay(this.ctx.tenantId, from, this.replayPageSize, this.holdingSince);
    if (this.state !== 'open') return;
    if (!complete) {
      // Redis lost the stream or trimmed past `from`: Postgres has the current state of what changed (the source logs it).
      const sinceMs = Math.max(0, Math.floor((cursorMs(from) - STORE_SLACK_MS) / STORE_SINCE_STEP_MS) * STORE_SINCE_STEP_MS);
      this.replayFrom = { since: new Date(sinceMs).toISOString(), resume: from };
      this.fromStore = { until: undefined, delivered: new Map() };
      return;
    }
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
    if (!this.caughtUp(this.lastCursor ?? from)) return;
    const held = this.held ?? new Map<string, ApplicationChange>();
    this.replayFrom = undefined;
    this.held = undefined;
    for (const change of held.values()) this.onLive(change);
  }

  private async replayStore(from: StorePhase): Promise<void> {
    const { changes: page, asOf: readAsOf } = await this.source.changedSince(this.ctx, {
      since: from.since,
      after: from.position,
      appId: this.filter.appId,
      id: this.filter.id,
      limit: this.replayPageSize,
    });
    if (this.state !== 'open') return;
    const asOf = from.asOf ?? readAsOf;
    if (this.fromStore) this.fromStore.until ??= asOf;
    const delivered = this.fromStore?.delivered;
    for (const { application } of page) {
      const change = { cursor: from.resume, application };
      if (!this.matches(change)) continue;
      delivered?.set(application.id, { updatedAt: application.updatedAt, status: application.status });
      this.lastCursor = change.cursor;
      if (!this.handToReader(change)) coalesce(this.pending, change);
    }
    if (this.pending.size > this.maxPending) this.overflow();
    const last = page.at(-1);
    if (page.length === this.replayPageSize && last) {
      this.replayFrom = { ...from, position: last.position, asOf };
      return;
    }
    // Postgres has answered for every change up to asOf: the stream replays from there.
    this.replayFrom = asOf;
    this.lastCursor = asOf;
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
    if (this.fromStore && this.supersededInStore(change)) return;
    if (this.handToReader(change)) return;
    coalesce(this.pending, change);
    if (this.pending.size > this.maxPending) this.overflow();
  }

  /** The subscriber already has this application's state from Postgres, as new as this change or newer. */
  private supersededInStore(change: ApplicationChange): boolean {
    const store = this.fromStore;
    if (!store) return false;
    if (store.until !== undefined && cursorMs(change.cursor) > cursorMs(store.until) + STORE_SLACK_MS) {
      this.fromStore = undefined; // the stream is well past what Postgres answered for
      return false;
    }
    const seen = store.delivered.get(change.application.id);
    if (seen === undefined) return false;
    const { updatedAt, status } = change.application;
    if (updatedAt > seen.updatedAt) {
      store.delivered.delete(change.application.id);
      return false;
    }
    // An older state, or the same one again. The same instant with another status (a clock that
    // did not move between two changes) goes through: it may be the newer one.
    return updatedAt < seen.updatedAt || status === seen.status;
  }

  private matches(change: ApplicationChange): boolean {
    const a = change.application;
    // The tenant check is defensive: the source is already keyed by tenant.
    return a.tenantId === this.ctx.tenantId && (!this.filter.appId || a.appId === this.filter.appId) && (!this.filter.id || a.id === this.filter.id);
  }
}

/** The millisecond part of a stream id. */
function cursorMs(cursor: string): number {
  return Number(cursor.slice(0, cursor.indexOf('-')));
}

function coalesce(map: Map<string, ApplicationChange>, change: ApplicationChange): void {
  map.delete(change.application.id);
  map.set(change.application.id, change);
}
