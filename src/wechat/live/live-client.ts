import { z } from 'zod';
import type { WechatHttp } from '../client/http.js';
import type { LiveEndpoint } from '../endpoints.js';
import { readReply } from '../client/wechat-client.js';

/**
 * One typed function per live management endpoint (rooms, goods, roles, media), in WeChat's own
 * field names on the wire and ours in the results. The token is the caller's (see live-api.ts).
 * Errcode 0 returns; any other errcode throws WechatError with WeChat's whole reply kept.
 */

/** What a room is created or edited with, in WeChat's field names and units (unix seconds, 0/1 switches). */
export interface RoomFields {
  name: string;
  coverImg: string;
  shareImg: string;
  feedsImg: string;
  startTime: number;
  endTime: number;
  anchorName: string;
  anchorWechat: string;
  subAnchorWechat?: string;
  createrWechat?: string;
  isFeedsPublic: 0 | 1;
  /** 0 phone, 1 push (OBS and the like). */
  type: 0 | 1;
  /** 0 portrait, 1 landscape. */
  screenType: 0 | 1;
  closeLike: 0 | 1;
  closeGoods: 0 | 1;
  closeComment: 0 | 1;
  closeReplay: 0 | 1;
  closeShare: 0 | 1;
  closeKf: 0 | 1;
}

export interface WechatRoom {
  roomId: number;
  name: string;
  liveStatus: number;
  startTime: number;
  endTime: number;
  anchorName: string;
  coverImg: string;
  shareImg: string;
  feedsImg: string;
  liveType: number;
  closeLike: number;
  closeGoods: number;
  closeComment: number;
  closeReplay: number;
  closeKf: number;
  isFeedsPublic: number;
  goods: WechatRoomGoods[];
}

export interface WechatRoomGoods {
  goodsId: number;
  name: string;
  coverImg: string;
  url: string;
  priceType: number;
  price: number;
  price2: number;
}

export interface WechatReplay {
  mediaUrl: string;
  createTime: string;
  expireTime: string;
}

export interface GoodsFields {
  /** A temporary media id. */
  coverImgUrl: string;
  name: string;
  /** 1 fixed price, 2 price range (price to price2), 3 discounted (price was, price2 now). */
  priceType: 1 | 2 | 3;
  /** Yuan, two decimals. */
  price: number;
  price2?: number;
  /** The Mini Program page of the good. */
  url: string;
  /** The Mini Program the page belongs to, when not the merchant's own. */
  thirdPartyAppid?: string;
}

export interface WechatGoods {
  goodsId: number;
  name: string;
  coverImgUrl: string;
  url: string;
  priceType: number;
  price: number;
  price2: number;
  auditStatus: number;
}

export interface WechatRoleMember {
  username: string;
  nickname: string;
  openid: string;
  headingimg: string;
  roles: number[];
  updatedAt: number;
}

const num = z.coerce.number();
const str = z.string().default('');

const roomGoods = z.object({
  goods_id: num,
  name: str,
  cover_img: str,
  url: str,
  price_type: num.default(1),
  price: num.default(0),
  price2: num.default(0),
});

const schemas = {
  created: z.object({ roomId: num }),
  pushUrl: z.object({ pushAddr: z.string() }),
  sharedCode: z.object({ cdnUrl: str, pagePath: str, posterUrl: str }),
  liveInfo: z.object({
    total: num.default(0),
    room_info: z
      .array(
        z.object({
          roomid: num,
          name: str,
          live_status: num,
          start_time: num,
          end_time: num,
          anchor_name: str,
          cover_img: str,
          share_img: str,
          feeds_img: str,
          live_type: num.default(0),
          close_like: num.default(0),
          close_goods: num.default(0),
          close_comment: num.default(0),
          close_replay: num.default(0),
          close_kf: num.default(0),
          is_feeds_public: num.default(0),
          goods: z.array(roomGoods).default([]),
        }),
      )
      .default([]),
  }),
  replays: z.object({
    total: num.default(0),
    live_replay: z.array(z.object({ media_url: str, create_time: z.coerce.string(), expire_time: z.coerce.string() })).default([]),
  }),
  goodsAdded: z.object({ goodsId: num, auditId: num }),
  audited: z.object({ auditId: num }),
  approved: z.object({
    total: num.default(0),
    goods: z
      .array(
        z.object({
          goodsId: num,
          name: str,
          coverImgUrl: str,
          url: str,
          priceType: num.default(1),
          price: num.default(0),
          price2: num.default(0),
          audit_status: num.optional(),
        }),
      )
      .default([]),
  }),
  warehouse: z.object({
    total: num.default(0),
    goods: z
      .array(
        z.object({
          goods_id: num,
          name: str,
          cover_img_url: str,
          url: str,
          price_type: num.default(1),
          price: num.default(0),
          price2: num.default(0),
          audit_status: num,
        }),
      )
      .default([]),
  }),
  roles: z.object({
    total: num.default(0),
    list: z
      .array(
        z.object({
          username: str,
          nickname: str,
          openid: str,
          headingimg: str,
          roleList: z.array(num).default([]),
          updateTimestamp: num.default(0),
        }),
      )
      .default([]),
  }),
  assistants: z.object({
    count: num.default(0),
    maxCount: num.default(0),
    list: z.array(z.object({ alias: str, nickname: str, openid: str, headimg: str, timestamp: num.default(0) })).default([]),
  }),
  media: z.object({ media_id: z.string().min(1), created_at: num }),
};

export interface LiveClient {
  uploadImage(token: string, file: { filename: string; contentType: string; bytes: Uint8Array }): Promise<{ mediaId: string; createdAt: number }>;
  createRoom(token: string, room: RoomFields): Promise<{ roomId: number }>;
  editRoom(token: string, roomId: number, room: RoomFields): Promise<void>;
  deleteRoom(token: string, roomId: number): Promise<void>;
  pushUrl(token: string, roomId: number): Promise<string>;
  sharedCode(token: string, roomId: number, params?: string): Promise<{ cdnUrl: string; pagePath: string; posterUrl: string }>;
  addGoodsToRoom(token: string, roomId: number, goodsIds: readonly number[]): Promise<void>;
  addAssistant(token: string, roomId: number, users: readonly { username: string; nickname: string }[]): Promise<void>;
  removeAssistant(token: string, roomId: number, username: string): Promise<void>;
  assistants(token: string, roomId: number): Promise<{ maxCount: number; list: { username: string; nickname: string; openid: string }[] }>;
  /** One page of the room list, oldest room first. */
  rooms(token: string, start: number, limit: number): Promise<{ total: number; rooms: WechatRoom[] }>;
  replays(token: string, roomId: number, start: number, limit: number): Promise<{ total: number; replays: WechatReplay[] }>;
  addGoods(token: string, goods: GoodsFields): Promise<{ goodsId: number; auditId: number }>;
  resetAudit(token: string, goodsId: number, auditId: number): Promise<void>;
  submitAudit(token: string, goodsId: number): Promise<{ auditId: number }>;
  deleteGoods(token: string, goodsId: number): Promise<void>;
  updateGoods(token: string, goodsId: number, change: Partial<GoodsFields>): Promise<void>;
  /** Goods of one audit status (0 not submitted, 1 auditing, 2 approved, 3 rejected), paged. */
  goodsByStatus(token: string, status: number, offset: number, limit: number): Promise<{ total: number; goods: WechatGoods[] }>;
  /** Goods by id (at most 20 per call), with their audit status. */
  goodsById(token: string, goodsIds: readonly number[]): Promise<WechatGoods[]>;
  addRole(token: string, username: string, role: number): Promise<void>;
  deleteRole(token: string, username: string, role: number): Promise<void>;
  /** role -1: every role. */
  roles(token: string, role: number, offset: number, limit: number, keyword?: string): Promise<{ total: number; members: WechatRoleMember[] }>;
}

export function createLiveClient(http: WechatHttp): LiveClient {
  const t = (value: string) => ({ param: 'access_token', value }) as const;
  const post = (endpoint: LiveEndpoint, token: string, body: Record<string, unknown>) => http.post(endpoint, t(token), body);

  return {
    async uploadImage(token, file) {
      const reply = await http.upload('media_upload', t(token), { type: 'image' }, { field: 'media', ...file });
      const body = readReply(schemas.media, 'media_upload', reply);
      return { mediaId: body.media_id, createdAt: body.created_at };
    },

    async createRoom(token, room) {
      return readReply(schemas.created, 'room_create', await post('room_create', token, { ...room }));
    },

    async editRoom(token, roomId, room) {
      await post('room_edit', token, { id: roomId, ...room });
    },

    async deleteRoom(token, roomId) {
      await post('room_delete', token, { id: roomId });
    },

    async pushUrl(token, roomId) {
      return readReply(schemas.pushUrl, 'room_push_url', await http.get('room_push_url', t(token), { roomId })).pushAddr;
    },

    async sharedCode(token, roomId, params) {
      const query: Record<string, string | number> = params === undefined ? { roomId } : { roomId, params };
      return readReply(schemas.sharedCode, 'room_shared_code', await http.get('room_shared_code', t(token), query));
    },

    async addGoodsToRoom(token, roomId, goodsIds) {
      await post('room_add_goods', token, { roomId, ids: goodsIds });
    },

    async addAssistant(token, roomId, users) {
      await post('room_add_assistant', token, { roomId, users });
    },

    async removeAssistant(token, roomId, username) {
      await post('room_remove_assistant', token, { roomId, username });
    },

    async assistants(token, roomId) {
      const body = readReply(schemas.assistants, 'room_assistant_list', await http.get('room_assistant_list', t(token), { roomId }));
      return { maxCount: body.maxCount, list: body.list.map((a) => ({ username: a.alias, nickname: a.nickname, openid: a.openid })) };
    },

    async rooms(token, start, limit) {
      const body = readReply(schemas.liveInfo, 'live_info', await post('live_info', token, { start, limit }));
      return {
        total: body.total,
        rooms: body.room_info.map((r) => ({
          roomId: r.roomid,
          name: r.name,
          liveStatus: r.live_status,
          startTime: r.start_time,
          endTime: r.end_time,
          anchorName: r.anchor_name,
          coverImg: r.cover_img,
          shareImg: r.share_img,
          feedsImg: r.feeds_img,
          liveType: r.live_type,
          closeLike: r.close_like,
          closeGoods: r.close_goods,
          closeComment: r.close_comment,
          closeReplay: r.close_replay,
          closeKf: r.close_kf,
          isFeedsPublic: r.is_feeds_public,
          goods: r.goods.map((g) => ({
            goodsId: g.goods_id,
            name: g.name,
            coverImg: g.cover_img,
            url: g.url,
            priceType: g.price_type,
            // getliveinfo lists room goods in fen; everywhere else WeChat speaks yuan.
            price: g.price / 100,
            price2: g.price2 / 100,
          })),
        })),
      };
    },

    async replays(token, roomId, start, limit) {
      const body = readReply(schemas.replays, 'live_info', await post('live_info', token, { action: 'get_replay', room_id: roomId, start, limit }));
      return {
        total: body.total,
        replays: body.live_replay.map((r) => ({ mediaUrl: r.media_url, createTime: r.create_time, expireTime: r.expire_time })),
      };
    },

    async addGoods(token, goods) {
      return readReply(schemas.goodsAdded, 'goods_add', await post('goods_add', token, { goodsInfo: { ...goods } }));
    },

    async resetAudit(token, goodsId, auditId) {
      await post('goods_reset_audit', token, { goodsId, auditId });
    },

    async submitAudit(token, goodsId) {
      return readReply(schemas.audited, 'goods_audit', await post('goods_audit', token, { goodsId }));
    },

    async deleteGoods(token, goodsId) {
      await post('goods_delete', token, { goodsId });
    },

    async updateGoods(token, goodsId, change) {
      await post('goods_update', token, { goodsInfo: { goodsId, ...change } });
    },

    async goodsByStatus(token, status, offset, limit) {
      const body = readReply(schemas.approved, 'goods_approved', await http.get('goods_approved', t(token), { status, offset, limit }));
      return {
        total: body.total,
        goods: body.goods.map((g) => ({
          goodsId: g.goodsId,
          name: g.name,
          coverImgUrl: g.coverImgUrl,
          url: g.url,
          priceType: g.priceType,
          price: g.price,
          price2: g.price2,
          auditStatus: g.audit_status ?? status,
        })),
      };
    },

    async goodsById(token, goodsIds) {
      const body = readReply(schemas.warehouse, 'goods_warehouse', await post('goods_warehouse', token, { goods_ids: goodsIds }));
      return body.goods.map((g) => ({
        goodsId: g.goods_id,
        name: g.name,
        coverImgUrl: g.cover_img_url,
        url: g.url,
        priceType: g.price_type,
        price: g.price,
        price2: g.price2,
        auditStatus: g.audit_status,
      }));
    },

    async addRole(token, username, role) {
      await post('role_add', token, { username, role });
    },

    async deleteRole(token, username, role) {
      await post('role_delete', token, { username, role });
    },

    async roles(token, role, offset, limit, keyword) {
      const query: Record<string, string | number> = keyword === undefined ? { role, offset, limit } : { role, offset, limit, keyword };
      const body = readReply(schemas.roles, 'role_list', await http.get('role_list', t(token), query));
      return {
        total: body.total,
        members: body.list.map((m) => ({
          username: m.username,
          nickname: m.nickname,
          openid: m.openid,
          headingimg: m.headingimg,
          roles: m.roleList,
          updatedAt: m.updateTimestamp,
        })),
      };
    },
  };
}
