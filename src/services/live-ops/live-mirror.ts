import { and, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { type LiveGoodsAuditStatus, type LiveRoomStatus, liveEvents, liveGoods, liveRooms } from '../../db/tables.js';
import type { Clock } from '../../lib/clock.js';
import { GOODS_AUDIT_STATUS_CODES, LIVE_STATUS_CODES } from '../../wechat/endpoints.js';
import type { WechatGoods, WechatRoom, WechatRoomGoods } from '../../wechat/live/live-client.js';
import { type DueDelivery, recordEventDeliveries } from '../webhooks/event-fan-out.js';

/** A good as a room lists it (WeChat's fields in our names). */
export type LiveRoomGoodsView = WechatRoomGoods;

/** The one mapping of a live_rooms row as the API shows it. */
export interface LiveRoomView {
  appId: string;
  roomId: number;
  name: string;
  status: LiveRoomStatus;
  liveStatusCode: number;
  startTime: Date;
  endTime: Date;
  anchorName: string;
  coverImg: string;
  shareImg: string;
  feedsImg: string;
  settings: Record<string, number>;
  goods: LiveRoomGoodsView[];
  /** The room left WeChat's list (deleted). */
  removed: boolean;
  syncedAt: Date;
  updatedAt: Date;
}

export interface LiveGoodsView {
  appId: string;
  goodsId: number;
  auditId: number | null;
  name: string;
  coverImgUrl: string;
  url: string;
  priceType: number;
  price: number;
  price2: number | null;
  auditStatus: LiveGoodsAuditStatus;
  removed: boolean;
  syncedAt: Date;
  updatedAt: Date;
}

export type LiveEventType = 'live_room.updated' | 'live_goods.updated';

/** A change the mirror saw, as subscribers and webhooks get it; `cursor` orders them per tenant. */
export interface LiveEventView {
  cursor: string;
  tenantId: string;
  appId: string;
  type: LiveEventType;
  subjectId: number;
  data: Record<string, unknown>;
  createdAt: Date;
}

/** What the services need to push a committed change to subscribers on every instance (src/events). */
export interface LiveEventPublisher {
  publish(tenantId: string, events: readonly LiveEventView[]): Promise<void>;
}

/** What must happen after commit: subscribers and the webhook queue. */
export interface MirrorChanges {
  events: LiveEventView[];
  deliveries: DueDelivery[];
}

export function statusOfCode(code: number): LiveRoomStatus {
  return (LIVE_STATUS_CODES as Record<number, LiveRoomStatus>)[code] ?? 'ERROR';
}

export function auditStatusOfCode(code: number): LiveGoodsAuditStatus {
  return (GOODS_AUDIT_STATUS_CODES as Record<number, LiveGoodsAuditStatus>)[code] ?? 'NOT_SUBMITTED';
}

type RoomRow = typeof liveRooms.$inferSelect;
type GoodsRow = typeof liveGoods.$inferSelect;

export function roomView(r: RoomRow): LiveRoomView {
  return {
    appId: r.appId,
    roomId: r.roomId,
    name: r.name,
    status: r.status,
    liveStatusCode: r.liveStatus,
    startTime: r.startTime,
    endTime: r.endTime,
    anchorName: r.anchorName,
    coverImg: r.coverImg,
    shareImg: r.shareImg,
    feedsImg: r.feedsImg,
    settings: r.settings,
    goods: r.goods as unknown as LiveRoomGoodsView[],
    removed: r.goneAt !== null,
    syncedAt: r.syncedAt,
    updatedAt: r.updatedAt,
  };
}

export function goodsView(g: GoodsRow): LiveGoodsView {
  return {
    appId: g.appId,
    goodsId: g.goodsId,
    auditId: g.auditId,
    name: g.name,
    coverImgUrl: g.coverImgUrl,
    url: g.url,
    priceType: g.priceType,
    price: Number(g.price),
    price2: g.price2 === null ? null : Number(g.price2),
    auditStatus: g.auditStatus,
    removed: g.goneAt !== null,
    syncedAt: g.syncedAt,
    updatedAt: g.updatedAt,
  };
}

/** An event's data: the subject as the API shows it (ISO timestamps) and the status it left. */
function eventData(subject: LiveRoomView | LiveGoodsView, previousStatus: string | null): Record<string, unknown> {
  return JSON.parse(JSON.stringify({ ...subject, previousStatus })) as Record<string, unknown>;
}

function roomRowOf(tenantId: string, appId: string, r: WechatRoom, now: Date): typeof liveRooms.$inferInsert {
  return {
    tenantId,
    appId,
    roomId: r.roomId,
    name: r.name,
    status: statusOfCode(r.liveStatus),
    liveStatus: r.liveStatus,
    startTime: new Date(r.startTime * 1000),
    endTime: new Date(r.endTime * 1000),
    anchorName: r.anchorName,
    coverImg: r.coverImg,
    shareImg: r.shareImg,
    feedsImg: r.feedsImg,
    settings: {
      liveType: r.liveType,
      closeLike: r.closeLike,
      closeGoods: r.closeGoods,
      closeComment: r.closeComment,
      closeReplay: r.closeReplay,
      closeKf: r.closeKf,
      isFeedsPublic: r.isFeedsPublic,
    },
    goods: r.goods as unknown as Record<string, unknown>[],
    goneAt: null,
    syncedAt: now,
    updatedAt: now,
  };
}

const sameRoom = (a: RoomRow, b: typeof liveRooms.$inferInsert) =>
  a.goneAt === null &&
  a.liveStatus === b.liveStatus &&
  a.name === b.name &&
  a.startTime.getTime() === (b.startTime as Date).getTime() &&
  a.endTime.getTime() === (b.endTime as Date).getTime() &&
  a.anchorName === b.anchorName &&
  a.coverImg === b.coverImg &&
  JSON.stringify(a.settings) === JSON.stringify(b.settings) &&
  JSON.stringify(a.goods) === JSON.stringify(b.goods);

/**
 * Writes what WeChat listed into the mirror, in the caller's tenant transaction. `complete`: the
 * list is every room the merchant has, so a mirrored room missing from it was deleted. A room whose
 * status changed (or that appeared or went) becomes a `live_room.updated` event and its deliveries.
 */
export async function mirrorRooms(
  db: Db,
  clock: Clock,
  at: { tenantId: string; appId: string },
  rooms: readonly WechatRoom[],
  complete: boolean,
): Promise<MirrorChanges & { rooms: LiveRoomView[] }> {
  const now = new Date(clock.now());
  const existing = await db
    .select()
    .from(liveRooms)
    .where(and(eq(liveRooms.tenantId, at.tenantId), eq(liveRooms.appId, at.appId)));
  const byId = new Map(existing.map((r) => [r.roomId, r]));
  const changed: { row: RoomRow; previous: string | null; statusChanged: boolean }[] = [];
  const seen = new Set<number>();
  for (const room of rooms) {
    seen.add(room.roomId);
    const next = roomRowOf(at.tenantId, at.appId, room, now);
    const before = byId.get(room.roomId);
    if (before && sameRoom(before, next)) continue;
    const [row] = await db
      .insert(liveRooms)
      .values(next)
      .onConflictDoUpdate({
        target: [liveRooms.tenantId, liveRooms.appId, liveRooms.roomId],
        set: { ...next, tenantId: undefined, appId: undefined, roomId: undefined },
      })
      .returning();
    if (!row) continue;
    const statusChanged = !before || before.liveStatus !== row.liveStatus || before.goneAt !== null;
    changed.push({ row, previous: before ? (before.goneAt === null ? before.status : 'REMOVED') : null, statusChanged });
  }
  if (complete) {
    const gone = existing.filter((r) => !seen.has(r.roomId) && r.goneAt === null).map((r) => r.roomId);
    if (gone.length > 0) {
      const rows = await db
        .update(liveRooms)
        .set({ goneAt: now, updatedAt: now })
        .where(and(eq(liveRooms.tenantId, at.tenantId), eq(liveRooms.appId, at.appId), inArray(liveRooms.roomId, gone), isNull(liveRooms.goneAt)))
        .returning();
      for (const row of rows) changed.push({ row, previous: row.status, statusChanged: true });
    }
  }
  // Touch synced_at of unchanged rooms in one statement, so `syncedAt` says how fresh the mirror is.
  if (rooms.length > 0) {
    await db
      .update(liveRooms)
      .set({ syncedAt: now })
      .where(and(eq(liveRooms.tenantId, at.tenantId), eq(liveRooms.appId, at.appId), isNull(liveRooms.goneAt)));
  }
  const { events, deliveries } = await recordChanges(
    db,
    clock,
    now,
    changed.filter((c) => c.statusChanged).map((c) => roomEvent(at, c.row, c.previous)),
  );
  const after = await db
    .select()
    .from(liveRooms)
    .where(and(eq(liveRooms.tenantId, at.tenantId), eq(liveRooms.appId, at.appId)));
  return { events, deliveries, rooms: after.map(roomView) };
}

/** Writes goods WeChat answered (add, update, a warehouse read) and makes events of audit status changes. */
export async function mirrorGoods(
  db: Db,
  clock: Clock,
  at: { tenantId: string; appId: string },
  goods: readonly (WechatGoods & { auditId?: number | null })[],
): Promise<MirrorChanges & { goods: LiveGoodsView[] }> {
  if (goods.length === 0) return { events: [], deliveries: [], goods: [] };
  const now = new Date(clock.now());
  const ids = goods.map((g) => g.goodsId);
  const existing = await db
    .select()
    .from(liveGoods)
    .where(and(eq(liveGoods.tenantId, at.tenantId), eq(liveGoods.appId, at.appId), inArray(liveGoods.goodsId, ids)));
  const byId = new Map(existing.map((g) => [g.goodsId, g]));
  const rows: GoodsRow[] = [];
  const changed: { row: GoodsRow; previous: string | null }[] = [];
  for (const g of goods) {
    const before = byId.get(g.goodsId);
    const values = {
      tenantId: at.tenantId,
      appId: at.appId,
      goodsId: g.goodsId,
      auditId: g.auditId ?? before?.auditId ?? null,
      name: g.name,
      coverImgUrl: g.coverImgUrl,
      url: g.url,
      priceType: g.priceType,
      price: String(g.price),
      price2: g.priceType === 1 ? null : String(g.price2),
      auditStatus: auditStatusOfCode(g.auditStatus),
      goneAt: null,
      syncedAt: now,
      updatedAt: now,
    };
    const [row] = await db
      .insert(liveGoods)
      .values(values)
      .onConflictDoUpdate({
        target: [liveGoods.tenantId, liveGoods.appId, liveGoods.goodsId],
        set: { ...values, tenantId: undefined, appId: undefined, goodsId: undefined },
      })
      .returning();
    if (!row) continue;
    rows.push(row);
    if (!before || before.auditStatus !== row.auditStatus || before.goneAt !== null) changed.push({ row, previous: before?.auditStatus ?? null });
  }
  const recorded = await recordChanges(
    db,
    clock,
    now,
    changed.map((c) => goodsEvent(at, c.row, c.previous)),
  );
  return { ...recorded, goods: rows.map(goodsView) };
}

/** A good deleted at WeChat: kept, marked removed, and announced. */
export async function removeGoods(db: Db, clock: Clock, at: { tenantId: string; appId: string }, goodsId: number): Promise<MirrorChanges> {
  const now = new Date(clock.now());
  const rows = await db
    .update(liveGoods)
    .set({ goneAt: now, updatedAt: now })
    .where(and(eq(liveGoods.tenantId, at.tenantId), eq(liveGoods.appId, at.appId), eq(liveGoods.goodsId, goodsId), isNull(liveGoods.goneAt)))
    .returning();
  return recordChanges(
    db,
    clock,
    now,
    rows.map((row) => goodsEvent(at, row, row.auditStatus)),
  );
}

/** The advisory lock namespace of live_events writers (the second key is the tenant's hash). */
const LIVE_EVENTS_LOCK = 15_001;

async function recordEvents(db: Db, now: Date, events: NewEvent[]): Promise<LiveEventView[]> {
  if (events.length === 0) return [];
  // One writer of a tenant's events at a time until commit: ids then grow in commit order, so a
  // subscriber resuming after id N (src/events/live-event-feed.ts) never misses a smaller id committed later.
  for (const tenantId of [...new Set(events.map((e) => e.tenantId))].sort()) {
    await db.execute(sql`select pg_advisory_xact_lock(${LIVE_EVENTS_LOCK}, hashtext(${tenantId}))`);
  }
  const rows = await db
    .insert(liveEvents)
    .values(events.map((e) => ({ ...e, createdAt: now })))
    .returning();
  return rows.map((r) => ({ ...r, cursor: String(r.id), type: r.type as LiveEventType }));
}

type NewEvent = { tenantId: string; appId: string; type: LiveEventType; subjectId: number; data: Record<string, unknown> };

const roomEvent = (at: { tenantId: string; appId: string }, row: RoomRow, previous: string | null): NewEvent => ({
  ...at,
  type: 'live_room.updated',
  subjectId: row.roomId,
  data: eventData(roomView(row), previous),
});

const goodsEvent = (at: { tenantId: string; appId: string }, row: GoodsRow, previous: string | null): NewEvent => ({
  ...at,
  type: 'live_goods.updated',
  subjectId: row.goodsId,
  data: eventData(goodsView(row), previous),
});

/** The changes' live_events rows and their webhook deliveries, in the caller's transaction. */
async function recordChanges(db: Db, clock: Clock, now: Date, changes: NewEvent[]): Promise<MirrorChanges> {
  const events = await recordEvents(db, now, changes);
  return { events, deliveries: await deliveriesOf(db, clock, events) };
}

function deliveriesOf(db: Db, clock: Clock, events: readonly LiveEventView[]): Promise<DueDelivery[]> {
  return recordEventDeliveries(
    db,
    clock,
    events.map((e) => ({ tenantId: e.tenantId, type: e.type, source: `live_event:${e.cursor}`, data: { ...e.data, cursor: e.cursor } })),
  );
}

/** A room deleted through the gateway: kept, marked removed, and announced. */
export async function removeRoom(db: Db, clock: Clock, at: { tenantId: string; appId: string }, roomId: number): Promise<MirrorChanges> {
  const now = new Date(clock.now());
  const rows = await db
    .update(liveRooms)
    .set({ goneAt: now, updatedAt: now })
    .where(and(eq(liveRooms.tenantId, at.tenantId), eq(liveRooms.appId, at.appId), eq(liveRooms.roomId, roomId), isNull(liveRooms.goneAt)))
    .returning();
  return recordChanges(
    db,
    clock,
    now,
    rows.map((row) => roomEvent(at, row, row.status)),
  );
}
