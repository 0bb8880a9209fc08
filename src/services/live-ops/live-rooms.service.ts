import { and, desc, eq, isNull, lt, or, type SQL } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { liveGoods, liveRooms } from '../../db/tables.js';
import { inTenant } from '../../db/tenant-scope.js';
import type { Clock } from '../../lib/clock.js';
import { type LiveClient, type RoomFields, type RoomSwitch, SWITCH_ENDPOINTS, type WechatReplay, type WechatRoom } from '../../wechat/live/live-client.js';
import type { TenantContext } from '../context.js';
import { clampPageSize, type Page } from '../cursor.js';
import { DomainError, type UserError, userError } from '../errors.js';
import type { CallResult, LiveCallMeta, LiveCalls } from './live-calls.js';
import type { LiveChangeSink } from './live-changes.js';
import { type LiveRoomView, mirrorRooms, removeRoom, roomView } from './live-mirror.js';
import { roomErrors } from './live-rules.js';

/** Replays per get_replay page (WeChat allows up to 100). */
const REPLAY_PAGE_SIZE = 100;

/** A room as a console describes it: WeChat's fields, times as dates, switches as booleans. */
export interface LiveRoomInput {
  appId: string;
  name: string;
  coverMediaId: string;
  shareMediaId: string;
  feedsMediaId?: string | null;
  startTime: Date;
  endTime: Date;
  anchorName: string;
  anchorWechat: string;
  subAnchorWechat?: string | null;
  createrWechat?: string | null;
  /** PHONE (0) or PUSH (1, OBS and the like). */
  type?: 'PHONE' | 'PUSH' | null;
  /** PORTRAIT (0) or LANDSCAPE (1). */
  screenType?: 'PORTRAIT' | 'LANDSCAPE' | null;
  closeLike?: boolean | null;
  closeGoods?: boolean | null;
  closeComment?: boolean | null;
  closeReplay?: boolean | null;
  closeShare?: boolean | null;
  closeKf?: boolean | null;
  isFeedsPublic?: boolean | null;
}

export interface RoomResult {
  room: LiveRoomView | null;
  userErrors: UserError[];
}

export interface LiveRoomsDeps {
  db: Db;
  clock: Clock;
  calls: LiveCalls;
  changes: LiveChangeSink;
  /** A forced read of the merchant through WeChat into the mirror (the sync loop's, LiveSyncService.refresh); null when it succeeded. */
  refresh: (ctx: TenantContext, appId: string) => Promise<UserError | null>;
}

export interface RoomListOptions {
  first?: number | null;
  after?: string | null;
  refresh?: boolean | null;
}

const bit = (on: boolean | null | undefined): 0 | 1 => (on ? 1 : 0);

/** What createroom and editroom are sent. */
export function roomFieldsOf(input: LiveRoomInput): RoomFields {
  const fields: RoomFields = {
    name: input.name,
    coverImg: input.coverMediaId,
    shareImg: input.shareMediaId,
    feedsImg: input.feedsMediaId ?? input.shareMediaId,
    startTime: input.startTime.getTime() / 1000,
    endTime: input.endTime.getTime() / 1000,
    anchorName: input.anchorName,
    anchorWechat: input.anchorWechat,
    isFeedsPublic: input.isFeedsPublic === false ? 0 : 1,
    type: input.type === 'PUSH' ? 1 : 0,
    screenType: input.screenType === 'LANDSCAPE' ? 1 : 0,
    closeLike: bit(input.closeLike),
    closeGoods: bit(input.closeGoods),
    closeComment: bit(input.closeComment),
    closeReplay: bit(input.closeReplay),
    closeShare: bit(input.closeShare),
    closeKf: bit(input.closeKf),
  };
  if (input.subAnchorWechat) fields.subAnchorWechat = input.subAnchorWechat;
  if (input.createrWechat) fields.createrWechat = input.createrWechat;
  return fields;
}

/** The room as WeChat will list it, for the mirror until the next read (images are media ids until then). */
function listedRoom(roomId: number, fields: RoomFields, liveStatus: number, goods: WechatRoom['goods']): WechatRoom {
  return {
    roomId,
    name: fields.name,
    liveStatus,
    startTime: fields.startTime,
    endTime: fields.endTime,
    anchorName: fields.anchorName,
    coverImg: fields.coverImg,
    shareImg: fields.shareImg,
    feedsImg: fields.feedsImg,
    liveType: fields.type,
    closeLike: fields.closeLike,
    closeGoods: fields.closeGoods,
    closeComment: fields.closeComment,
    closeReplay: fields.closeReplay,
    closeKf: fields.closeKf,
    isFeedsPublic: fields.isFeedsPublic,
    goods,
  };
}

/** Keyset cursor of the room list: start time, then room id, both descending. */
function roomCursor(room: { startTime: Date; roomId: number }): string {
  return Buffer.from(`${room.startTime.getTime()}|${room.roomId}`).toString('base64url');
}

function decodeRoomCursor(cursor: string): { startMs: number; roomId: number } | undefined {
  const [start, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const startMs = Number(start);
  const roomId = Number(id);
  return Number.isSafeInteger(startMs) && Number.isSafeInteger(roomId) && roomId > 0 ? { startMs, roomId } : undefined;
}

/**
 * A merchant's live rooms: reads from the mirror (no WeChat quota), writes through WeChat with the
 * rules WeChat documents checked first, and the mirror updated with what WeChat accepted.
 */
export class LiveRoomsService {
  constructor(private readonly deps: LiveRoomsDeps) {}

  static cursorOf = roomCursor;

  /** Newest start first; `refresh` reads the whole list through WeChat first (live_info quota). */
  async list(ctx: TenantContext, appId: string, options: RoomListOptions = {}): Promise<Page<LiveRoomView>> {
    await this.readable(ctx, appId, options.refresh);
    const first = clampPageSize(options.first);
    const where: SQL[] = [eq(liveRooms.tenantId, ctx.tenantId), eq(liveRooms.appId, appId), isNull(liveRooms.goneAt)];
    if (options.after) {
      const k = decodeRoomCursor(options.after);
      if (!k) throw new DomainError('INVALID_INPUT', 'after is not a cursor of liveRooms.');
      const at = new Date(k.startMs);
      const older = or(lt(liveRooms.startTime, at), and(eq(liveRooms.startTime, at), lt(liveRooms.roomId, k.roomId)));
      if (older) where.push(older);
    }
    const rows = await inTenant(this.deps.db, ctx.tenantId, (db) =>
      db
        .select()
        .from(liveRooms)
        .where(and(...where))
        .orderBy(desc(liveRooms.startTime), desc(liveRooms.roomId))
        .limit(first + 1),
    );
    return { items: rows.slice(0, first).map(roomView), hasNextPage: rows.length > first };
  }

  /** One room from the mirror (also a removed one); null when the gateway never saw it. */
  async get(ctx: TenantContext, appId: string, roomId: number, refresh?: boolean | null): Promise<LiveRoomView | null> {
    await this.readable(ctx, appId, refresh);
    const [row] = await inTenant(this.deps.db, ctx.tenantId, (db) =>
      db
        .select()
        .from(liveRooms)
        .where(and(eq(liveRooms.tenantId, ctx.tenantId), eq(liveRooms.appId, appId), eq(liveRooms.roomId, roomId))),
    );
    return row ? roomView(row) : null;
  }

  async create(ctx: TenantContext, input: LiveRoomInput): Promise<RoomResult> {
    const refused = await this.refusal(ctx, input);
    if (refused.length > 0) return { room: null, userErrors: refused };
    const fields = roomFieldsOf(input);
    const created = await this.deps.calls.call(ctx, input.appId, { endpoint: 'room_create', operation: 'createLiveRoom', request: { ...fields } }, (c, token) =>
      c.createRoom(token, fields),
    );
    if (!created.ok) return { room: null, userErrors: [created.error] };
    const room = await this.mirrorOne(ctx, input.appId, listedRoom(created.value.roomId, fields, 102, []));
    return { room, userErrors: [] };
  }

  /** editroom: WeChat takes every field again; only a room that has not started may change. */
  async edit(ctx: TenantContext, roomId: number, input: LiveRoomInput): Promise<RoomResult> {
    const refused = await this.refusal(ctx, input);
    if (refused.length > 0) return { room: null, userErrors: refused };
    const before = await this.get(ctx, input.appId, roomId);
    if (before && !before.removed && before.status !== 'NOT_STARTED') {
      return {
        room: before,
        userErrors: [userError('ROOM_STATUS_FORBIDS', `Room ${roomId} is ${before.status}: only a room that has not started can be edited.`, ['roomId'])],
      };
    }
    const fields = roomFieldsOf(input);
    const edited = await this.deps.calls.call(
      ctx,
      input.appId,
      { endpoint: 'room_edit', operation: 'editLiveRoom', request: { id: roomId, ...fields } },
      (c, token) => c.editRoom(token, roomId, fields),
    );
    if (!edited.ok) return { room: before, userErrors: [edited.error] };
    const room = await this.mirrorOne(ctx, input.appId, listedRoom(roomId, fields, before?.liveStatusCode ?? 102, before?.goods ?? []));
    return { room, userErrors: [] };
  }

  async delete(ctx: TenantContext, appId: string, roomId: number): Promise<{ deletedRoomId: number | null; userErrors: UserError[] }> {
    const refused = await this.deps.calls.checkMerchant(ctx, appId);
    if (refused) return { deletedRoomId: null, userErrors: [refused] };
    const before = await this.get(ctx, appId, roomId);
    if (before?.status === 'LIVE') {
      return { deletedRoomId: null, userErrors: [userError('ROOM_STATUS_FORBIDS', `Room ${roomId} is live: end it first.`, ['roomId'])] };
    }
    const deleted = await this.deps.calls.call(ctx, appId, { endpoint: 'room_delete', operation: 'deleteLiveRoom', request: { id: roomId } }, (c, token) =>
      c.deleteRoom(token, roomId),
    );
    if (!deleted.ok) return { deletedRoomId: null, userErrors: [deleted.error] };
    const changes = await inTenant(this.deps.db, ctx.tenantId, (db) => removeRoom(db, this.deps.clock, { tenantId: ctx.tenantId, appId }, roomId));
    await this.deps.changes.announce(ctx.tenantId, changes);
    return { deletedRoomId: roomId, userErrors: [] };
  }

  /** Approved goods into a room (at most 500 a room); the mirror's room lists them at once. */
  async addGoods(ctx: TenantContext, appId: string, roomId: number, goodsIds: readonly number[]): Promise<RoomResult> {
    const refused = await this.deps.calls.checkMerchant(ctx, appId);
    if (refused) return { room: null, userErrors: [refused] };
    if (goodsIds.length === 0 || goodsIds.length > 200) {
      return { room: null, userErrors: [userError('INVALID_INPUT', 'goodsIds: give 1 to 200 goods per call.', ['goodsIds'])] };
    }
    const known = await inTenant(this.deps.db, ctx.tenantId, (db) =>
      db
        .select()
        .from(liveGoods)
        .where(and(eq(liveGoods.tenantId, ctx.tenantId), eq(liveGoods.appId, appId))),
    );
    const byId = new Map(known.map((g) => [g.goodsId, g]));
    const notApproved = goodsIds.filter((id) => {
      const g = byId.get(id);
      return g !== undefined && (g.goneAt !== null || g.auditStatus !== 'APPROVED');
    });
    if (notApproved.length > 0) {
      return {
        room: null,
        userErrors: [userError('LIVE_GOODS_NOT_APPROVED', `Goods ${notApproved.join(', ')} are not approved (or were deleted).`, ['goodsIds'])],
      };
    }
    const added = await this.deps.calls.call(
      ctx,
      appId,
      { endpoint: 'room_add_goods', operation: 'addGoodsToLiveRoom', request: { roomId, ids: goodsIds } },
      (c, token) => c.addGoodsToRoom(token, roomId, goodsIds),
    );
    if (!added.ok) return { room: null, userErrors: [added.error] };
    const before = await this.get(ctx, appId, roomId);
    if (!before) return { room: null, userErrors: [] };
    const goods = [...before.goods];
    for (const id of goodsIds) {
      const g = byId.get(id);
      if (!g || goods.some((x) => x.goodsId === id)) continue;
      goods.push({
        goodsId: id,
        name: g.name,
        coverImg: g.coverImgUrl,
        url: g.url,
        priceType: g.priceType,
        price: Number(g.price),
        price2: g.price2 === null ? 0 : Number(g.price2),
      });
    }
    const room = await this.mirrorOne(ctx, appId, {
      ...listedRoomOfView(before),
      goods,
    });
    return { room, userErrors: [] };
  }

  pushUrl(ctx: TenantContext, appId: string, roomId: number): Promise<CallResult<string>> {
    return this.readCall(ctx, appId, { endpoint: 'room_push_url', operation: 'liveRoomPushUrl', request: { roomId } }, (c, token) => c.pushUrl(token, roomId));
  }

  sharedCode(
    ctx: TenantContext,
    appId: string,
    roomId: number,
    params?: string | null,
  ): Promise<CallResult<{ cdnUrl: string; pagePath: string; posterUrl: string }>> {
    return this.readCall(ctx, appId, { endpoint: 'room_shared_code', operation: 'liveRoomShareCode', request: { roomId, params } }, (c, token) =>
      c.sharedCode(token, roomId, params ?? undefined),
    );
  }

  /** A room's assistants (at most WeChat's maxCount), read through WeChat (room quota). */
  assistants(
    ctx: TenantContext,
    appId: string,
    roomId: number,
  ): Promise<CallResult<{ maxCount: number; list: { username: string; nickname: string; openid: string }[] }>> {
    return this.readCall(ctx, appId, { endpoint: 'room_assistant_list', operation: 'liveRoomAssistants', request: { roomId } }, (c, token) =>
      c.assistants(token, roomId),
    );
  }

  /** Adds assistants (WeChat ids and the nicknames shown in the room); WeChat allows a handful per room. */
  async addAssistants(ctx: TenantContext, appId: string, roomId: number, users: readonly { username: string; nickname: string }[]): Promise<UserError[]> {
    if (users.length === 0 || users.some((u) => !u.username.trim() || !u.nickname.trim())) {
      return [userError('INVALID_INPUT', 'users: give at least one, each with a WeChat id (username) and a nickname.', ['input', 'users'])];
    }
    const added = await this.readCall(
      ctx,
      appId,
      { endpoint: 'room_add_assistant', operation: 'addLiveRoomAssistants', request: { roomId, users: users.map((u) => u.username) } },
      (c, token) => c.addAssistant(token, roomId, users),
    );
    return added.ok ? [] : [added.error];
  }

  async removeAssistant(ctx: TenantContext, appId: string, roomId: number, username: string): Promise<UserError[]> {
    const removed = await this.readCall(
      ctx,
      appId,
      { endpoint: 'room_remove_assistant', operation: 'removeLiveRoomAssistant', request: { roomId, username } },
      (c, token) => c.removeAssistant(token, roomId, username),
    );
    return removed.ok ? [] : [removed.error];
  }

  /**
   * The switches WeChat lets a created room change (one call each, room quota): global comment
   * ban, feeds visibility, replay, customer service. The first refusal stops the rest; the mirror
   * takes what WeChat accepted.
   */
  async setSwitches(ctx: TenantContext, appId: string, roomId: number, switches: Partial<Record<RoomSwitch, boolean | null>>): Promise<RoomResult> {
    const refused = await this.deps.calls.checkMerchant(ctx, appId, ['input', 'appId']);
    if (refused) return { room: null, userErrors: [refused] };
    const given = (Object.entries(switches) as [RoomSwitch, boolean | null | undefined][]).filter((e): e is [RoomSwitch, boolean] => typeof e[1] === 'boolean');
    if (given.length === 0)
      return { room: null, userErrors: [userError('INVALID_INPUT', 'Give at least one of banComment, isFeedsPublic, closeReplay, closeKf.', ['input'])] };
    const before = await this.get(ctx, appId, roomId);
    if (before?.status === 'ENDED' || before?.status === 'EXPIRED') {
      return { room: before, userErrors: [userError('ROOM_STATUS_FORBIDS', `Room ${roomId} is ${before.status}.`, ['input', 'roomId'])] };
    }
    const accepted: Partial<Record<RoomSwitch, 0 | 1>> = {};
    const errors: UserError[] = [];
    for (const [name, on] of given) {
      const value = on ? 1 : 0;
      const done = await this.deps.calls.call(
        ctx,
        appId,
        { endpoint: SWITCH_ENDPOINTS[name], operation: 'updateLiveRoomSwitches', request: { roomId, [name]: value } },
        (c, token) => c.setRoomSwitch(token, roomId, name, value),
      );
      if (!done.ok) {
        errors.push({ ...done.error, field: ['input', name] });
        break;
      }
      accepted[name] = value;
    }
    if (!before) return { room: null, userErrors: errors };
    const listed = listedRoomOfView(before);
    if (accepted.isFeedsPublic !== undefined) listed.isFeedsPublic = accepted.isFeedsPublic;
    if (accepted.closeReplay !== undefined) listed.closeReplay = accepted.closeReplay;
    if (accepted.closeKf !== undefined) listed.closeKf = accepted.closeKf;
    if (accepted.banComment !== undefined) listed.closeComment = accepted.banComment;
    const room = Object.keys(accepted).length > 0 ? await this.mirrorOne(ctx, appId, listed) : before;
    return { room, userErrors: errors };
  }

  subAnchor(ctx: TenantContext, appId: string, roomId: number): Promise<CallResult<string>> {
    return this.readCall(ctx, appId, { endpoint: 'room_get_sub_anchor', operation: 'liveRoomSubAnchor', request: { roomId } }, (c, token) =>
      c.subAnchor(token, roomId),
    );
  }

  /** Sets the room's sub-anchor: modifysubanchor when it has one (asked first), addsubanchor otherwise. */
  async setSubAnchor(ctx: TenantContext, appId: string, roomId: number, username: string): Promise<UserError[]> {
    if (!username.trim()) return [userError('INVALID_INPUT', 'username is the WeChat id (微信号) of the sub-anchor.', ['username'])];
    const current = await this.subAnchor(ctx, appId, roomId);
    if (!current.ok && current.error.code !== 'WECHAT_ERROR' && current.error.code !== 'INVALID_INPUT') return [current.error];
    const replace = current.ok && current.value !== '';
    const set = await this.deps.calls.call(
      ctx,
      appId,
      { endpoint: replace ? 'room_modify_sub_anchor' : 'room_add_sub_anchor', operation: 'setLiveRoomSubAnchor', request: { roomId, username } },
      (c, token) => c.setSubAnchor(token, roomId, username, replace),
    );
    return set.ok ? [] : [set.error];
  }

  async deleteSubAnchor(ctx: TenantContext, appId: string, roomId: number): Promise<UserError[]> {
    const deleted = await this.readCall(
      ctx,
      appId,
      { endpoint: 'room_delete_sub_anchor', operation: 'deleteLiveRoomSubAnchor', request: { roomId } },
      (c, token) => c.deleteSubAnchor(token, roomId),
    );
    return deleted.ok ? [] : [deleted.error];
  }

  /** Every replay of a room, through WeChat (one live_info call per 100). */
  async replays(ctx: TenantContext, appId: string, roomId: number): Promise<CallResult<{ total: number; items: WechatReplay[] }>> {
    const items: WechatReplay[] = [];
    for (let start = 0; ; start += REPLAY_PAGE_SIZE) {
      const page = await this.readCall(
        ctx,
        appId,
        { endpoint: 'live_info', operation: 'LiveRoom.replays', request: { action: 'get_replay', room_id: roomId, start, limit: REPLAY_PAGE_SIZE } },
        (c, token) => c.replays(token, roomId, start, REPLAY_PAGE_SIZE),
      );
      if (!page.ok) return page;
      items.push(...page.value.replays);
      if (page.value.replays.length === 0 || items.length >= page.value.total) return { ok: true, value: { total: page.value.total, items } };
    }
  }

  /** The merchant check, then WeChat's call; the merchant's refusal is the call's answer. */
  private async readCall<T>(
    ctx: TenantContext,
    appId: string,
    meta: LiveCallMeta,
    run: (client: LiveClient, token: string) => Promise<T>,
  ): Promise<CallResult<T>> {
    const refused = await this.deps.calls.checkMerchant(ctx, appId);
    if (refused) return { ok: false, error: refused };
    return this.deps.calls.call(ctx, appId, meta, run);
  }

  /** A read needs a merchant of this tenant's; `refresh` syncs through WeChat first. Failures throw (queries have no userErrors). */
  private async readable(ctx: TenantContext, appId: string, refresh?: boolean | null): Promise<void> {
    if (!refresh) return;
    const refused = await this.deps.calls.checkMerchant(ctx, appId);
    if (refused) throw DomainError.of(refused);
    const failed = await this.deps.refresh(ctx, appId);
    if (failed) throw DomainError.of(failed);
  }

  private async refusal(ctx: TenantContext, input: LiveRoomInput): Promise<UserError[]> {
    const merchant = await this.deps.calls.checkMerchant(ctx, input.appId, ['input', 'appId']);
    if (merchant) return [merchant];
    const errors = roomErrors(input, this.deps.clock.now());
    if (!input.anchorWechat.trim()) errors.push(userError('INVALID_INPUT', 'anchorWechat is the WeChat id of the anchor.', ['input', 'anchorWechat']));
    for (const field of ['coverMediaId', 'shareMediaId'] as const) {
      if (!input[field].trim())
        errors.push(userError('INVALID_INPUT', `${field}: upload the image first (uploadLiveImage) and pass its mediaId.`, ['input', field]));
    }
    return errors;
  }

  private async mirrorOne(ctx: TenantContext, appId: string, room: WechatRoom): Promise<LiveRoomView | null> {
    const changes = await inTenant(this.deps.db, ctx.tenantId, (db) => mirrorRooms(db, this.deps.clock, { tenantId: ctx.tenantId, appId }, [room], false));
    await this.deps.changes.announce(ctx.tenantId, changes);
    return changes.rooms.find((r) => r.roomId === room.roomId) ?? null;
  }
}

function listedRoomOfView(v: LiveRoomView): WechatRoom {
  const s = v.settings;
  return {
    roomId: v.roomId,
    name: v.name,
    liveStatus: v.liveStatusCode,
    startTime: v.startTime.getTime() / 1000,
    endTime: v.endTime.getTime() / 1000,
    anchorName: v.anchorName,
    coverImg: v.coverImg,
    shareImg: v.shareImg,
    feedsImg: v.feedsImg,
    liveType: s.liveType ?? 0,
    closeLike: s.closeLike ?? 0,
    closeGoods: s.closeGoods ?? 0,
    closeComment: s.closeComment ?? 0,
    closeReplay: s.closeReplay ?? 0,
    closeKf: s.closeKf ?? 0,
    isFeedsPublic: s.isFeedsPublic ?? 0,
    goods: v.goods,
  };
}
