import { randomBytes } from 'node:crypto';
import type { LiveEndpoint } from '../endpoints.js';
import {
  badParam,
  type Checked,
  countedLength,
  flagField,
  integerField,
  integerOf,
  type LiveCall,
  type LiveHandler,
  page,
  queryInteger,
  requiredString,
  valid,
} from './live-params.js';
import { type LiveRoom, type LiveRoomFields, type LiveState, mediaUrl, openidOf, REPLAY_TTL_MS } from './live-state.js';
import { fail, ok, type SimReply } from './replies.js';

/** Where WeChat sends anchors to verify their real name (its 300036 answer carries it). */
export const REAL_NAME_QRCODE_URL = 'https://res.wx.qq.com/op_res/BbVNeczA1XudfjVqCVoKgfuWe7e3aUhokktRVOqf_F0IqS6kYR--atCpVNUUC3zr';

const MAX_ROOM_GOODS = 500;
export const MAX_ASSISTANTS = 5;
const MIN_LEAD_SECONDS = 600;
/** "Not later than 6 months ahead": the simulator counts 180 days. */
const MAX_LEAD_SECONDS = 180 * 86_400;
const MIN_LENGTH_SECONDS = 1800;
const MAX_LENGTH_SECONDS = 86_400;

const roomNotFound = () => fail(300022, 'room not found');
const roomStatusForbids = () => fail(300023, 'room status forbids this operation');

function field<T>(checked: Checked<T>, into: (value: T) => void): SimReply | null {
  if (!checked.ok) return checked.reply;
  into(checked.value);
  return null;
}

/**
 * The room fields of create and edit, checked as WeChat checks them: parameters (200002), then
 * media ids (40007), then the anchor's WeChat id (300030, 300036 with the verification code URL).
 * Edit keeps the room's sub-anchor, creator and screen type when they are not sent.
 */
function roomFields(call: LiveCall, base: LiveRoom | null): Checked<LiveRoomFields> {
  const { body, live } = call;
  const out: Partial<LiveRoomFields> = {};
  const steps: (() => SimReply | null)[] = [
    () => field(requiredString(body, 'name'), (v) => (out.name = v)),
    () => (inRange(countedLength(out.name ?? ''), 6, 34) ? null : badParam('name', '3 to 17 Chinese characters (6 to 34 counted)').reply),
    () => field(requiredString(body, 'coverImg'), (v) => (out.coverImg = v)),
    () => field(requiredString(body, 'shareImg'), (v) => (out.shareImg = v)),
    () => field(requiredString(body, 'feedsImg'), (v) => (out.feedsImg = v)),
    () => field(integerField(body, 'startTime'), (v) => (out.startTime = v)),
    () => field(integerField(body, 'endTime'), (v) => (out.endTime = v)),
    () => {
      const now = live.nowSeconds();
      const start = out.startTime ?? 0;
      const length = (out.endTime ?? 0) - start;
      const fits = start >= now + MIN_LEAD_SECONDS && start <= now + MAX_LEAD_SECONDS && inRange(length, MIN_LENGTH_SECONDS, MAX_LENGTH_SECONDS);
      return fits ? null : fail(200002, 'parameter startTime or endTime is invalid');
    },
    () => field(requiredString(body, 'anchorName'), (v) => (out.anchorName = v)),
    () => (inRange(countedLength(out.anchorName ?? ''), 4, 30) ? null : badParam('anchorName', '2 to 15 Chinese characters (4 to 30 counted)').reply),
    () => field(requiredString(body, 'anchorWechat'), (v) => (out.anchorWechat = v)),
    () => field(optionalString(body, 'subAnchorWechat', base?.subAnchorWechat ?? ''), (v) => (out.subAnchorWechat = v)),
    () => field(optionalString(body, 'createrWechat', base?.createrWechat ?? ''), (v) => (out.createrWechat = v)),
    () => field(flagField(body, 'type'), (v) => (out.type = v)),
    () => field(flagField(body, 'screenType', base?.screenType ?? 0), (v) => (out.screenType = v)),
    () => field(flagField(body, 'isFeedsPublic', base?.isFeedsPublic ?? 1), (v) => (out.isFeedsPublic = v)),
    () => field(flagField(body, 'closeLike'), (v) => (out.closeLike = v)),
    () => field(flagField(body, 'closeGoods'), (v) => (out.closeGoods = v)),
    () => field(flagField(body, 'closeComment'), (v) => (out.closeComment = v)),
    () => field(flagField(body, 'closeReplay', base?.closeReplay ?? 0), (v) => (out.closeReplay = v)),
    () => field(flagField(body, 'closeShare', base?.closeShare ?? 0), (v) => (out.closeShare = v)),
    () => field(flagField(body, 'closeKf', base?.closeKf ?? 0), (v) => (out.closeKf = v)),
    () => {
      const images = [out.coverImg, out.shareImg, out.feedsImg] as string[];
      return images.every((id) => live.mediaUsable(call.appId, id)) ? null : fail(40007, 'invalid media_id');
    },
    () => anchorRefusal(out.anchorWechat ?? ''),
  ];
  for (const step of steps) {
    const reply = step();
    if (reply) return { ok: false, reply };
  }
  return valid(out as LiveRoomFields);
}

function inRange(value: number, min: number, max: number): boolean {
  return value >= min && value <= max;
}

function optionalString(body: Record<string, unknown>, name: string, fallback: string): Checked<string> {
  const value = body[name];
  if (value === undefined || value === null) return valid(fallback);
  return typeof value === 'string' ? valid(value) : badParam(name, 'not a string');
}

/** WeChat ids the simulator refuses by prefix: `invalid…` (300030) and `unverified…` (300036). */
function anchorRefusal(anchorWechat: string): SimReply | null {
  if (anchorWechat.startsWith('invalid')) return fail(300030, 'anchor wechat invalid');
  if (anchorWechat.startsWith('unverified')) {
    return fail(300036, 'room anchor not real-name verified', { qrcode_url: REAL_NAME_QRCODE_URL });
  }
  return null;
}

function roomOf(call: LiveCall, id: unknown): LiveRoom | undefined {
  const roomId = integerOf(id);
  return roomId === null ? undefined : call.app.rooms.get(roomId);
}

function roomInfo(call: LiveCall, room: LiveRoom) {
  return {
    name: room.name,
    roomid: room.roomId,
    cover_img: mediaUrl(room.coverImg),
    share_img: mediaUrl(room.shareImg),
    feeds_img: mediaUrl(room.feedsImg),
    live_status: call.live.roomStatus(room),
    start_time: room.startTime,
    end_time: room.endTime,
    anchor_name: room.anchorName,
    goods: room.goodsIds.flatMap((id) => {
      const goods = call.app.goods.get(id);
      if (!goods) return [];
      // getliveinfo answers prices in fen, while the goods endpoints take and answer yuan.
      return [
        {
          cover_img: mediaUrl(goods.coverImgUrl),
          url: goods.url,
          name: goods.name,
          price: Math.round(goods.price * 100),
          price2: Math.round(goods.price2 * 100),
          price_type: goods.priceType,
          goods_id: goods.goodsId,
          third_party_appid: '',
        },
      ];
    }),
    live_type: room.type,
    close_like: room.closeLike,
    close_goods: room.closeGoods,
    close_comment: room.closeComment,
    close_kf: room.closeKf,
    close_replay: room.closeReplay,
    is_feeds_public: room.isFeedsPublic,
    creater_openid: room.createrWechat === '' ? '' : openidOf(call.appId, room.createrWechat),
  };
}

function liveInfo(call: LiveCall): SimReply {
  const { body, app, live } = call;
  const window = page(integerField(body, 'start', 0), integerField(body, 'limit', 10), ['start', 'limit'], 100);
  if (!window.ok) return window.reply;
  const { start, limit } = window.value;

  if (body.action === 'get_replay') {
    const room = roomOf(call, body.room_id);
    if (!room) return roomNotFound();
    const replays = replaysOf(live, room);
    return ok({ live_replay: replays.slice(start, start + limit), total: replays.length });
  }
  if (body.action !== undefined) return badParam('action', 'expected get_replay or none').reply;

  const rooms = [...app.rooms.values()].sort((a, b) => a.roomId - b.roomId);
  // WeChat answers 9410000 for a page with no room, also past the last one.
  if (start >= rooms.length) return fail(9410000, 'empty room list', { room_info: [], live_replay: [] });
  return ok({ room_info: rooms.slice(start, start + limit).map((room) => roomInfo(call, room)), total: rooms.length });
}

/** One replay, recorded at the end time, for an ended room that keeps replays. */
function replaysOf(live: LiveState, room: LiveRoom) {
  if (live.roomStatus(room) !== 103 || room.closeReplay !== 0) return [];
  const createdMs = room.endTime * 1000;
  return [
    {
      expire_time: new Date(createdMs + REPLAY_TTL_MS).toISOString().replace('.000Z', 'Z'),
      create_time: new Date(createdMs).toISOString().replace('.000Z', 'Z'),
      media_url: `https://replay.wxlive.example/${room.roomId}/${room.pushKey}.m3u8`,
    },
  ];
}

export function roomHandlers(): Pick<Record<LiveEndpoint, LiveHandler>, RoomEndpoint> {
  return {
    room_create(call) {
      const fields = roomFields(call, null);
      if (!fields.ok) return fields.reply;
      const roomId = call.app.roomId();
      call.app.rooms.set(roomId, {
        ...fields.value,
        roomId,
        goodsIds: [],
        assistants: new Map(),
        forcedStatus: null,
        pushKey: randomBytes(12).toString('hex'),
      });
      return ok({ roomId });
    },

    room_delete(call) {
      const room = roomOf(call, call.body.id);
      if (!room) return roomNotFound();
      if (call.live.roomStatus(room) === 101) return roomStatusForbids();
      call.app.rooms.delete(room.roomId);
      return ok({});
    },

    room_edit(call) {
      const room = roomOf(call, call.body.id);
      if (!room) return roomNotFound();
      if (call.live.roomStatus(room) !== 102) return roomStatusForbids();
      const fields = roomFields(call, room);
      if (!fields.ok) return fields.reply;
      Object.assign(room, fields.value);
      return ok({});
    },

    room_push_url(call) {
      const room = roomOf(call, call.query.get('roomId'));
      if (!room) return roomNotFound();
      return ok({ pushAddr: `rtmp://wxlivepush.example/live/${room.roomId}_${room.pushKey}` });
    },

    room_shared_code(call) {
      const room = roomOf(call, call.query.get('roomId'));
      if (!room) return roomNotFound();
      const params = call.query.get('params') ?? '';
      const custom = params === '' ? '' : `&custom_params=${encodeURIComponent(params)}`;
      return ok({
        cdnUrl: `https://wxlive.example/share/${room.roomId}/code.png`,
        pagePath: `plugin-private://wx2b03c6e691cd7370/pages/live-player-plugin?room_id=${room.roomId}${custom}`,
        posterUrl: `https://wxlive.example/share/${room.roomId}/poster.png`,
      });
    },

    room_add_goods(call) {
      const { body, app, live } = call;
      const room = roomOf(call, body.roomId);
      if (!room) return roomNotFound();
      const ids = Array.isArray(body.ids) ? body.ids.map(integerOf) : null;
      if (!ids || ids.length === 0 || ids.some((id) => id === null)) return badParam('ids', 'a non-empty list of goods ids').reply;
      const status = live.roomStatus(room);
      if (status === 103 || status === 107) return roomStatusForbids();
      for (const id of ids as number[]) {
        const goods = app.goods.get(id);
        if (!goods) return fail(300024, 'goods not found');
        if (live.settle(goods).auditStatus !== 2) return fail(300025, 'goods not approved');
      }
      const current = new Set(room.goodsIds.filter((id) => app.goods.has(id)));
      const next = [...current, ...(ids as number[]).filter((id) => !current.has(id))];
      if (new Set(next).size > MAX_ROOM_GOODS) return fail(300026, 'room goods limit reached');
      room.goodsIds = [...new Set(next)];
      return ok({});
    },

    room_add_assistant(call) {
      const room = roomOf(call, call.body.roomId);
      if (!room) return roomNotFound();
      const users = call.body.users;
      const parsed = Array.isArray(users)
        ? users.map((user: unknown) => {
            const entry = (typeof user === 'object' && user !== null ? user : {}) as Record<string, unknown>;
            return { username: typeof entry.username === 'string' ? entry.username : '', nickname: typeof entry.nickname === 'string' ? entry.nickname : '' };
          })
        : [];
      if (parsed.length === 0 || parsed.some((u) => u.username === '')) return badParam('users', 'a non-empty list of {username, nickname}').reply;
      const names = new Set([...room.assistants.keys(), ...parsed.map((u) => u.username)]);
      if (names.size > MAX_ASSISTANTS) return badParam('users', `a room has at most ${MAX_ASSISTANTS} assistants`).reply;
      for (const user of parsed) room.assistants.set(user.username, { nickname: user.nickname, addedAt: call.live.nowSeconds() });
      return ok({});
    },

    room_remove_assistant(call) {
      const room = roomOf(call, call.body.roomId);
      if (!room) return roomNotFound();
      const username = typeof call.body.username === 'string' ? call.body.username : '';
      if (!room.assistants.delete(username)) return badParam('username', 'not an assistant of this room').reply;
      return ok({});
    },

    room_assistant_list(call) {
      const roomId = queryInteger(call.query, 'roomId');
      if (!roomId.ok) return roomId.reply;
      const room = call.app.rooms.get(roomId.value);
      if (!room) return roomNotFound();
      const list = [...room.assistants].map(([username, { nickname, addedAt }]) => ({
        timestamp: addedAt,
        headimg: `https://wx.qlogo.cn/sim/${openidOf(call.appId, username)}/132`,
        nickname,
        alias: username,
        openid: openidOf(call.appId, username),
      }));
      return ok({ list, count: list.length, maxCount: MAX_ASSISTANTS });
    },

    room_update_comment: roomSwitch('banComment', (room, v) => (room.closeComment = v)),
    room_update_feed_public: roomSwitch('isFeedsPublic', (room, v) => (room.isFeedsPublic = v)),
    room_update_replay: roomSwitch('closeReplay', (room, v) => (room.closeReplay = v)),
    room_update_kf: roomSwitch('closeKf', (room, v) => (room.closeKf = v)),

    room_add_sub_anchor: (call) => setSubAnchor(call, false),
    room_modify_sub_anchor: (call) => setSubAnchor(call, true),

    room_delete_sub_anchor(call) {
      const room = roomOf(call, call.body.roomId);
      if (!room) return roomNotFound();
      if (!room.subAnchorWechat) return badParam('roomId', 'the room has no sub-anchor').reply;
      room.subAnchorWechat = '';
      return ok({});
    },

    room_get_sub_anchor(call) {
      const roomId = queryInteger(call.query, 'roomId');
      if (!roomId.ok) return roomId.reply;
      const room = call.app.rooms.get(roomId.value);
      if (!room) return roomNotFound();
      if (!room.subAnchorWechat) return badParam('roomId', 'the room has no sub-anchor').reply;
      return ok({ username: room.subAnchorWechat });
    },

    live_info: liveInfo,
  };
}

/** updatecomment, updatefeedpublic, updatereplay, updatekf: `roomId` (the docs' table says `id`; both taken) and a 0/1 switch; never on an ended room. */
function roomSwitch(name: string, set: (room: LiveRoom, value: number) => void): LiveHandler {
  return (call) => {
    const room = roomOf(call, call.body.roomId ?? call.body.id);
    if (!room) return roomNotFound();
    const value = flagField(call.body, name);
    if (!value.ok) return value.reply;
    if (call.live.roomStatus(room) === 103) return roomStatusForbids();
    set(room, value.value);
    return ok({});
  };
}

/** addsubanchor (the room has none yet) and modifysubanchor (it has one): the WeChat id checked as an anchor's. */
function setSubAnchor(call: LiveCall, replace: boolean): SimReply {
  const room = roomOf(call, call.body.roomId);
  if (!room) return roomNotFound();
  const username = requiredString(call.body, 'username');
  if (!username.ok) return username.reply;
  if (replace !== Boolean(room.subAnchorWechat)) {
    return badParam('roomId', replace ? 'the room has no sub-anchor: addsubanchor' : 'the room has a sub-anchor: modifysubanchor').reply;
  }
  const refused = anchorRefusal(username.value);
  if (refused) return refused;
  room.subAnchorWechat = username.value;
  return ok({});
}

export type RoomEndpoint =
  | 'room_create'
  | 'room_delete'
  | 'room_edit'
  | 'room_push_url'
  | 'room_shared_code'
  | 'room_add_goods'
  | 'room_add_assistant'
  | 'room_remove_assistant'
  | 'room_assistant_list'
  | 'room_add_sub_anchor'
  | 'room_modify_sub_anchor'
  | 'room_delete_sub_anchor'
  | 'room_get_sub_anchor'
  | 'room_update_feed_public'
  | 'room_update_replay'
  | 'room_update_kf'
  | 'room_update_comment'
  | 'live_info';
