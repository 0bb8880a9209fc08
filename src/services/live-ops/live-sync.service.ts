import { and, eq, isNull, sql } from 'drizzle-orm';
import { type Db, rowsOf } from '../../db/client.js';
import { liveGoods, liveSyncState } from '../../db/tables.js';
import { asSystem, inTenant } from '../../db/tenant-scope.js';
import type { Clock } from '../../lib/clock.js';
import type { Logger } from '../../lib/logger.js';
import { nextQuotaDayStart } from '../../lib/quota-day.js';
import { LIVE_INFO_PAGE_SIZE } from '../../wechat/endpoints.js';
import { isWechatError } from '../../wechat/errors.js';
import type { WechatGoods, WechatRoom } from '../../wechat/live/live-client.js';
import { systemContext, type TenantContext } from '../context.js';
import type { UserError } from '../errors.js';
import type { DueDelivery } from '../webhooks/event-fan-out.js';
import type { LiveCalls } from './live-calls.js';
import type { LiveChangeSink } from './live-changes.js';
import { type LiveEventView, type LiveRoomView, mirrorGoods, mirrorRooms } from './live-mirror.js';

/**
 * How often a merchant's rooms are read: every pacing decision of the sync loop, in one place.
 * Rooms move on WeChat's side without a push, so the loop reads often only where a change is
 * near (a room live, or starting or ending soon) and rarely elsewhere.
 */
export interface LiveSyncPace {
  /** A room is live (or paused), or starts or ends within `nearMs`: read again this soon. */
  soonMs: number;
  nearMs: number;
  /** Nothing near: read again after this. */
  rareMs: number;
  /** A good is in audit: read its state again after this. */
  auditingMs: number;
  /** A read failed (WeChat down, token refused): try again after this. */
  retryMs: number;
  /** A claim lasts this long; a worker that died with it loses it then. */
  leaseMs: number;
  /** Goods asked by id per getgoodswarehouse call (WeChat's cap). */
  goodsPerCall: number;
}

export const LIVE_SYNC_PACE: LiveSyncPace = {
  soonMs: 30_000,
  nearMs: 15 * 60_000,
  rareMs: 10 * 60_000,
  auditingMs: 60_000,
  retryMs: 60_000,
  leaseMs: 120_000,
  goodsPerCall: 20,
};

/** Bounds a room list WeChat keeps answering pages of (a total that grows while paging). */
const MAX_PAGES = 200;

/** WeChat's answer to getliveinfo for a page with no room (also a merchant with none). */
const EMPTY_ROOM_LIST = 9410000;

export interface LiveSyncDeps {
  db: Db;
  calls: LiveCalls;
  /** Subscribers and the webhook queue, after commit. */
  changes: LiveChangeSink;
  clock: Clock;
  logger: Logger;
  pace?: Partial<LiveSyncPace>;
}

/** A merchant claimed by one worker until `leaseUntil` (the lease is also the fencing token). */
export interface LiveSyncClaim {
  tenantId: string;
  appId: string;
  leaseUntil: Date;
}

export interface LiveSyncOutcome {
  tenantId: string;
  appId: string;
  /** WeChat calls spent (getliveinfo pages and goods reads). */
  calls: number;
  /** Rooms WeChat listed. */
  rooms: number;
  /** Every room was read (all pages), so rooms missing from the list were marked removed. */
  complete: boolean;
  events: LiveEventView[];
  /** The mirror's rooms after the sync. */
  mirror: LiveRoomView[];
  nextSyncAt: Date;
  /** Why the read stopped early: API_QUOTA_REACHED (the loop waits for the next quota day) or WeChat's refusal. */
  error: UserError | null;
  /** Another sync read WeChat later than this one and wrote first: nothing was written. */
  stale: boolean;
}

type Read = { rooms: WechatRoom[]; complete: boolean; goods: WechatGoods[]; calls: number; error: UserError | null; quotaSpent: boolean };

/**
 * Keeps the mirror of each open merchant's rooms and goods audit states (live_rooms, live_goods)
 * by polling WeChat, and turns what changed into live_events, published after commit and sent as
 * webhooks. Merchants are claimed with a lease in live_sync_state, so any number of workers share
 * them and each is read by one at a time; the mirror write itself runs under the merchant's row
 * lock and is skipped when a later read was written first (a forced refresh racing the loop).
 */
export class LiveSyncService {
  readonly pace: LiveSyncPace;

  constructor(private readonly deps: LiveSyncDeps) {
    this.pace = { ...LIVE_SYNC_PACE, ...deps.pace };
  }

  /** Gives every open merchant a sync state (due now) and drops those no longer open. Cross-tenant: the loop's own scan. */
  async enroll(): Promise<number> {
    const now = new Date(this.deps.clock.now()).toISOString();
    return asSystem(this.deps.db, async (db) => {
      await db.execute(sql`
        delete from live_sync_state s where not exists (
          select 1 from authorizers a
          where a.tenant_id = s.tenant_id and a.app_id = s.app_id and a.live_open and a.status = 'AUTHORIZED')`);
      const added = rowsOf<{ app_id: string }>(
        await db.execute(sql`
          insert into live_sync_state (tenant_id, app_id, next_sync_at)
          select a.tenant_id, a.app_id, ${now}::timestamptz from authorizers a
          where a.live_open and a.status = 'AUTHORIZED'
          on conflict (tenant_id, app_id) do nothing
          returning app_id`),
      );
      return added.length;
    });
  }

  /** Claims up to `limit` due merchants whose lease is free or expired; no two workers get the same one. */
  async claim(limit: number): Promise<LiveSyncClaim[]> {
    const nowMs = this.deps.clock.now();
    const now = new Date(nowMs).toISOString();
    const until = new Date(nowMs + this.pace.leaseMs).toISOString();
    const rows = await asSystem(this.deps.db, async (db) =>
      rowsOf<{ tenant_id: string; app_id: string }>(
        await db.execute(sql`
          update live_sync_state s set lease_until = ${until}::timestamptz
          from (
            select tenant_id, app_id from live_sync_state
            where next_sync_at <= ${now}::timestamptz and (lease_until is null or lease_until <= ${now}::timestamptz)
            order by next_sync_at
            limit ${limit}
            for update skip locked
          ) due
          where s.tenant_id = due.tenant_id and s.app_id = due.app_id
          returning s.tenant_id, s.app_id`),
      ),
    );
    return rows.map((r) => ({ tenantId: r.tenant_id, appId: r.app_id, leaseUntil: new Date(until) }));
  }

  /**
   * Makes a merchant due now (a room or good was just created or changed through the gateway), so
   * the loop reads it on its next round instead of at its rare pace. Never later than it was.
   */
  async markDue(ctx: TenantContext, appId: string): Promise<void> {
    const now = new Date(this.deps.clock.now());
    await inTenant(this.deps.db, ctx.tenantId, (db) =>
      db
        .update(liveSyncState)
        .set({ nextSyncAt: sql`least(${liveSyncState.nextSyncAt}, ${now.toISOString()}::timestamptz)` })
        .where(and(eq(liveSyncState.tenantId, ctx.tenantId), eq(liveSyncState.appId, appId))),
    );
  }

  /** The loop's sync of a claimed merchant; the lease is released with the new `next_sync_at`. */
  syncClaimed(claim: LiveSyncClaim): Promise<LiveSyncOutcome> {
    return this.sync(systemContext(claim.tenantId), claim.appId, 'room-sync', claim.leaseUntil);
  }

  /**
   * A forced read through WeChat for the caller's merchant (a `refresh` argument): the same sync
   * as the loop's, spending the same quota, answering the mirror as it is after it.
   */
  async refresh(ctx: TenantContext, appId: string): Promise<{ outcome: LiveSyncOutcome | null; error: UserError | null }> {
    const refused = await this.deps.calls.checkMerchant(ctx, appId);
    if (refused) return { outcome: null, error: refused };
    const outcome = await this.sync(ctx, appId, 'refresh', null);
    return { outcome, error: outcome.error };
  }

  private async sync(ctx: TenantContext, appId: string, operation: string, lease: Date | null): Promise<LiveSyncOutcome> {
    const { clock } = this.deps;
    const tenantId = ctx.tenantId;
    const readAt = clock.now();
    const read = await this.read(ctx, appId, operation);
    const written = await inTenant(this.deps.db, tenantId, async (db) => {
      await db
        .insert(liveSyncState)
        .values({ tenantId, appId, nextSyncAt: new Date(readAt) })
        .onConflictDoNothing();
      // The merchant's row lock orders writers; a read older than the last one written is dropped.
      const [state] = await db
        .select()
        .from(liveSyncState)
        .where(and(eq(liveSyncState.tenantId, tenantId), eq(liveSyncState.appId, appId)))
        .for('update');
      const stale = state?.lastSyncedAt != null && state.lastSyncedAt.getTime() > readAt;
      const at = { tenantId, appId };
      let events: LiveEventView[] = [];
      let deliveries: DueDelivery[] = [];
      let mirror: LiveRoomView[];
      if (!stale && (read.rooms.length > 0 || read.complete)) {
        const rooms = await mirrorRooms(db, clock, at, read.rooms, read.complete);
        events = rooms.events;
        deliveries = rooms.deliveries;
        mirror = rooms.rooms;
      } else {
        mirror = await mirrorRooms(db, clock, at, [], false).then((r) => r.rooms);
      }
      if (!stale && read.goods.length > 0) {
        const goods = await mirrorGoods(db, clock, at, read.goods);
        events = [...events, ...goods.events];
        deliveries = [...deliveries, ...goods.deliveries];
      }
      const auditing = await this.auditingGoods(db, tenantId, appId);
      const nextSyncAt = new Date(await this.nextSyncAt(ctx, appId, read, mirror, auditing.length, state?.lastError != null));
      await db
        .update(liveSyncState)
        .set({
          nextSyncAt: stale && state ? state.nextSyncAt : nextSyncAt,
          // Released only by its holder: a refresh leaves the loop's lease alone.
          leaseUntil:
            lease === null
              ? sql`${liveSyncState.leaseUntil}`
              : sql`case when ${liveSyncState.leaseUntil} = ${lease.toISOString()}::timestamptz then null else ${liveSyncState.leaseUntil} end`,
          ...(stale
            ? {}
            : { lastSyncedAt: new Date(readAt), lastError: read.error ? `${read.error.code}: ${read.error.message}` : null, lastCalls: read.calls }),
        })
        .where(and(eq(liveSyncState.tenantId, tenantId), eq(liveSyncState.appId, appId)));
      return { events, deliveries, mirror, stale, nextSyncAt: stale && state ? state.nextSyncAt : nextSyncAt };
    });
    await this.deps.changes.announce(tenantId, written);
    if (read.error && !read.quotaSpent) {
      this.deps.logger.warn({ tenantId, appId, code: read.error.code, errcode: read.error.errcode, nextSyncAt: written.nextSyncAt }, 'live sync read failed');
    }
    return {
      tenantId,
      appId,
      calls: read.calls,
      rooms: read.rooms.length,
      complete: read.complete,
      events: written.events,
      mirror: written.mirror,
      nextSyncAt: written.nextSyncAt,
      error: read.error,
      stale: written.stale,
    };
  }

  /** Every page of the room list (stopping by `total`), then the audit state of goods in audit. */
  private async read(ctx: TenantContext, appId: string, operation: string): Promise<Read> {
    const { calls } = this.deps;
    const read: Read = { rooms: [], complete: false, goods: [], calls: 0, error: null, quotaSpent: false };
    let start = 0;
    for (let page = 0; page < MAX_PAGES; page++) {
      const result = await calls.call(ctx, appId, { endpoint: 'live_info', operation, request: { start, limit: LIVE_INFO_PAGE_SIZE } }, (c, token) =>
        c.rooms(token, start, LIVE_INFO_PAGE_SIZE).catch((error: unknown) => {
          // An empty page: no room at all, or the list shrank under us. Either way the list is whole.
          if (isWechatError(error) && error.errcode === EMPTY_ROOM_LIST) return { total: start, rooms: [] };
          throw error;
        }),
      );
      if (!result.ok) {
        if (result.error.code !== 'API_QUOTA_REACHED') read.calls++;
        read.error = result.error;
        read.quotaSpent = result.error.code === 'API_QUOTA_REACHED';
        break;
      }
      read.calls++;
      read.rooms.push(...result.value.rooms);
      start += result.value.rooms.length;
      if (result.value.rooms.length === 0 || start >= result.value.total) {
        read.complete = true;
        break;
      }
    }
    if (read.quotaSpent) return read;
    const auditing = await inTenant(this.deps.db, ctx.tenantId, (db) => this.auditingGoods(db, ctx.tenantId, appId));
    for (let i = 0; i < auditing.length; i += this.pace.goodsPerCall) {
      const ids = auditing.slice(i, i + this.pace.goodsPerCall);
      const result = await calls.call(ctx, appId, { endpoint: 'goods_warehouse', operation, request: { goodsIds: ids } }, (c, token) =>
        c.goodsById(token, ids),
      );
      if (!result.ok) {
        if (result.error.code !== 'API_QUOTA_REACHED') read.calls++;
        read.error ??= result.error;
        break;
      }
      read.calls++;
      read.goods.push(...result.value);
    }
    return read;
  }

  private async auditingGoods(db: Db, tenantId: string, appId: string): Promise<number[]> {
    const rows = await db
      .select({ goodsId: liveGoods.goodsId })
      .from(liveGoods)
      .where(and(eq(liveGoods.tenantId, tenantId), eq(liveGoods.appId, appId), eq(liveGoods.auditStatus, 'AUDITING'), isNull(liveGoods.goneAt)))
      .orderBy(liveGoods.goodsId);
    return rows.map((r) => r.goodsId);
  }

  /**
   * Soon near a change, rarely otherwise, never faster than the rest of the day's getliveinfo
   * quota allows at this merchant's pages per sync; the next quota day once it is spent.
   */
  private async nextSyncAt(
    ctx: TenantContext,
    appId: string,
    read: Read,
    rooms: readonly LiveRoomView[],
    auditing: number,
    failedBefore: boolean,
  ): Promise<number> {
    const nowMs = this.deps.clock.now();
    if (read.quotaSpent) return nextQuotaDayStart(nowMs);
    // Once soon, then at the rare pace while it keeps failing (a merchant WeChat refuses for good is dropped at enrollment when revoked).
    if (read.error) return nowMs + (failedBefore ? this.pace.rareMs : this.pace.retryMs);
    let delay = Math.min(roomsDelay(rooms, nowMs, this.pace), auditing > 0 ? this.pace.auditingMs : Number.POSITIVE_INFINITY);
    const usage = (await this.deps.calls.quota(ctx, appId)).find((u) => u.group === 'live_info');
    if (usage) {
      const left = Date.parse(usage.resetsAt) - nowMs;
      const pages = Math.max(1, Math.ceil(rooms.filter((r) => !r.removed).length / LIVE_INFO_PAGE_SIZE));
      if (usage.spent || usage.remaining < pages) return Date.parse(usage.resetsAt);
      delay = Math.max(delay, Math.ceil((left * pages) / usage.remaining));
    }
    return nowMs + delay;
  }
}

/** The pace the rooms call for: soon when one is live or starts or ends within `nearMs`. */
export function roomsDelay(rooms: readonly LiveRoomView[], nowMs: number, pace: LiveSyncPace): number {
  for (const room of rooms) {
    if (room.removed) continue;
    if (room.status === 'LIVE' || room.status === 'PAUSED') return pace.soonMs;
    if (room.status === 'NOT_STARTED' && room.startTime.getTime() <= nowMs + pace.nearMs) return pace.soonMs;
  }
  return pace.rareMs;
}
