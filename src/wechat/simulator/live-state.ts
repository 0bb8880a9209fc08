import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../../lib/clock.js';
import { quotaDay } from '../../lib/quota-day.js';
import type { LiveQuotaGroup } from '../endpoints.js';
import type { SimLiveGoodsSnapshot, SimLiveRoomSnapshot, SimSettings } from './types.js';

/** WeChat keeps temporary media 3 days. */
export const MEDIA_TTL_MS = 3 * 86_400_000;

/** A replay stays downloadable this long after the room ends (the simulator's choice). */
export const REPLAY_TTL_MS = 90 * 86_400_000;

export interface LiveMedia {
  appId: string;
  createdAtMs: number;
  expiresAtMs: number;
  bytes: number;
}

/** The fields room create and edit set, as WeChat names them in the request. */
export interface LiveRoomFields {
  name: string;
  coverImg: string;
  shareImg: string;
  feedsImg: string;
  startTime: number;
  endTime: number;
  anchorName: string;
  anchorWechat: string;
  subAnchorWechat: string;
  createrWechat: string;
  isFeedsPublic: number;
  type: number;
  screenType: number;
  closeLike: number;
  closeGoods: number;
  closeComment: number;
  closeReplay: number;
  closeShare: number;
  closeKf: number;
}

export interface LiveRoom extends LiveRoomFields {
  roomId: number;
  /** In the order they were added; only goods still in the warehouse are shown. */
  goodsIds: number[];
  assistants: Map<string, { nickname: string; addedAt: number }>;
  /** Set by the admin API (104 banned, 105 paused, 106 error, 107 expired...); null: the clock decides. */
  forcedStatus: number | null;
  pushKey: string;
}

export interface LiveGoodsFields {
  coverImgUrl: string;
  name: string;
  priceType: number;
  price: number;
  price2: number;
  url: string;
  thirdPartyAppid: string;
}

export interface LiveGoods extends LiveGoodsFields {
  goodsId: number;
  auditId: number;
  /** GOODS_AUDIT_STATUS_CODES; AUDITING settles on read once the audit delay has passed. */
  auditStatus: number;
  auditStartedAtMs: number;
}

export interface LiveMember {
  username: string;
  nickname: string;
  roles: Set<number>;
  updateTimestamp: number;
}

/** One authorizer's live world. Ids increase per app id from 1, as room ids do at WeChat. */
export class LiveApp {
  rooms = new Map<number, LiveRoom>();
  goods = new Map<number, LiveGoods>();
  members = new Map<string, LiveMember>();
  private nextRoomId = 1;
  private nextGoodsId = 1;
  private nextAuditId = 1;

  roomId(): number {
    return this.nextRoomId++;
  }

  goodsId(): number {
    return this.nextGoodsId++;
  }

  auditId(): number {
    return this.nextAuditId++;
  }
}

/** Rooms, goods, roles and media of each authorizer, and the live quota days. */
export class LiveState {
  private apps = new Map<string, LiveApp>();
  private media = new Map<string, LiveMedia>();
  private quota = new Map<string, { day: string; count: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly settings: () => SimSettings,
  ) {}

  app(appId: string): LiveApp {
    let app = this.apps.get(appId);
    if (!app) {
      app = new LiveApp();
      this.apps.set(appId, app);
    }
    return app;
  }

  nowMs(): number {
    return this.clock.now();
  }

  nowSeconds(): number {
    return Math.floor(this.clock.now() / 1000);
  }

  /** The live_status WeChat answers now: the admin's override, else by start and end time. */
  roomStatus(room: LiveRoom): number {
    if (room.forcedStatus !== null) return room.forcedStatus;
    const now = this.nowSeconds();
    if (now < room.startTime) return 102;
    if (now < room.endTime) return 101;
    return 103;
  }

  /** An AUDITING good passes (or fails, for a name with "reject") once the audit delay has passed. */
  settle(goods: LiveGoods): LiveGoods {
    if (goods.auditStatus === 1 && this.clock.now() >= goods.auditStartedAtMs + this.settings().goodsAuditDelayMs) {
      goods.auditStatus = goods.name.toLowerCase().includes('reject') ? 3 : 2;
    }
    return goods;
  }

  addMedia(appId: string, bytes: number): { mediaId: string; createdAt: number } {
    // 64 characters, like WeChat's media ids.
    const mediaId = randomBytes(48).toString('base64url');
    const now = this.clock.now();
    this.media.set(mediaId, { appId, createdAtMs: now, expiresAtMs: now + MEDIA_TTL_MS, bytes });
    return { mediaId, createdAt: Math.floor(now / 1000) };
  }

  /** Whether `mediaId` was uploaded by `appId` and has not expired. */
  mediaUsable(appId: string, mediaId: string): boolean {
    const media = this.media.get(mediaId);
    return media !== undefined && media.appId === appId && this.clock.now() < media.expiresAtMs;
  }

  /** Count one call against the app's group in the current quota day; returns the day's count. */
  countQuota(appId: string, group: LiveQuotaGroup): number {
    const key = `${appId} ${group}`;
    const day = quotaDay(this.clock.now());
    const entry = this.quota.get(key);
    if (!entry || entry.day !== day) {
      this.quota.set(key, { day, count: 1 });
      return 1;
    }
    return ++entry.count;
  }

  quotaUsed(appId: string, group: LiveQuotaGroup): number {
    const entry = this.quota.get(`${appId} ${group}`);
    return entry && entry.day === quotaDay(this.clock.now()) ? entry.count : 0;
  }

  roomSnapshots(appId: string): SimLiveRoomSnapshot[] {
    const app = this.app(appId);
    return [...app.rooms.values()].map((room) => ({
      roomId: room.roomId,
      name: room.name,
      liveStatus: this.roomStatus(room),
      forcedStatus: room.forcedStatus,
      startTime: room.startTime,
      endTime: room.endTime,
      anchorWechat: room.anchorWechat,
      goodsIds: room.goodsIds.filter((id) => app.goods.has(id)),
      assistants: [...room.assistants.keys()],
      closeReplay: room.closeReplay,
    }));
  }

  goodsSnapshots(appId: string): SimLiveGoodsSnapshot[] {
    return [...this.app(appId).goods.values()].map((goods) => {
      const settled = this.settle(goods);
      return {
        goodsId: settled.goodsId,
        auditId: settled.auditId,
        name: settled.name,
        auditStatus: settled.auditStatus,
        priceType: settled.priceType,
        price: settled.price,
        price2: settled.price2,
      };
    });
  }

  clear(): void {
    this.apps.clear();
    this.media.clear();
    this.quota.clear();
  }
}

/** A stable openid for a WeChat id within one Mini Program, as WeChat's are per app. */
export function openidOf(appId: string, username: string): string {
  return `o${createHash('sha256').update(`${appId}\n${username}`).digest('base64url').slice(0, 27)}`;
}

/** Where WeChat would serve an uploaded image; the simulator answers URLs of this shape. */
export function mediaUrl(mediaId: string): string {
  return `https://mmbiz.qpic.cn/sim/${mediaId}/0`;
}
