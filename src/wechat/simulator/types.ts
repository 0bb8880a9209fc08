import type { LiveEndpoint, LiveQuotaGroup, WechatEndpoint } from '../endpoints.js';

/** What applyliveinfo answers for one app id (after the token, permission and quota checks). */
export type SimScenario =
  | { kind: 'accept' }
  /** errcode 2: no payment in the last 90 days. */
  | { kind: 'not_paid' }
  /** errcode -1 for the next `times` calls (counted against quota, as WeChat does), then accept. */
  | { kind: 'busy'; times: number | 'forever' }
  /** Wait `delayMs` (real time), then answer as `inner` does. */
  | { kind: 'slow'; delayMs: number; inner: SimScenario }
  /** HTTP 500 with an HTML body, as a failing gateway in front of WeChat would. */
  | { kind: 'http500' }
  /** errcode 61007: permission set 52 not granted to the component. */
  | { kind: 'no_permission' }
  /**
   * Any errcode (e.g. 40001, 45011, 61003, an unknown one) for the next `times` calls (default
   * forever), then accept. Not counted against quota: it stands for a rejection before the API runs.
   */
  | { kind: 'errcode'; errcode: number; errmsg?: string; times?: number | 'forever' };

export interface ComponentRegistration {
  componentAppId: string;
  componentAppSecret: string;
  /** The message token and EncodingAESKey configured on the Open Platform. */
  token: string;
  encodingAesKey: string;
  /** Authorization event URL (component_verify_ticket, authorized...). */
  authUrl?: string | null;
  /** Message and event URL; `$APPID$` is replaced by the authorizer's app id. */
  messageUrlTemplate?: string | null;
  /** The current component_verify_ticket; a random one when omitted. */
  ticket?: string;
}

export interface AuthorizerRegistration {
  componentAppId: string;
  appId: string;
  /** Default: a random one. */
  refreshToken?: string;
  /** Granted permission sets; default [52] (live). */
  funcInfo?: number[];
  /** Answer a new refresh token on every api_authorizer_token (as WeChat sometimes does). */
  rotateRefreshToken?: boolean;
  nickName?: string;
}

/** The endpoints a scenario can target: applyliveinfo and the live management endpoints. */
export type ScenarioEndpoint = 'applyliveinfo' | LiveEndpoint;

export interface AppBehaviourInput {
  /** An authorizer app id, or '*' for every app id without its own behaviour. */
  appId: string;
  scenario?: SimScenario;
  /**
   * Which endpoints the scenario answers for (default ['applyliveinfo']). Live endpoints take
   * every kind but `not_paid`; the listed live endpoints share one `times` count.
   */
  endpoints?: ScenarioEndpoint[];
  /** After an accepted apply, push wxa_live_apply_event after this many ms; null = never. */
  openAfterMs?: number | null;
}

export interface SimSettings {
  /** applyliveinfo calls per app id per quota day (WeChat: 100). */
  applyLiveDailyLimit: number;
  /** Lifetime of issued tokens (WeChat: 7200). */
  tokenTtlSeconds: number;
  /** Extra latency per endpoint, in real ms. */
  delaysMs: Partial<Record<WechatEndpoint, number>>;
  /** Daily calls per app id per live quota group (default LIVE_QUOTA_GROUPS, WeChat's). */
  liveQuotas: Record<LiveQuotaGroup, number>;
  /** Simulator-clock ms a goods audit takes before it passes (or fails for names with "reject"); default 60000. */
  goodsAuditDelayMs: number;
}

/** What `startSimulator` and `new SimState` take: the live settings default to WeChat's. */
export type SimSettingsInput = Omit<SimSettings, 'liveQuotas' | 'goodsAuditDelayMs'> & {
  liveQuotas?: Partial<Record<LiveQuotaGroup, number>>;
  goodsAuditDelayMs?: number;
};

/** What `POST /__sim/settings` takes; `liveQuotas` is merged group by group. */
export type SimSettingsUpdate = Partial<Omit<SimSettings, 'liveQuotas'>> & { liveQuotas?: Partial<Record<LiveQuotaGroup, number>> };

/** A live room as the admin API shows it (`GET /__sim/live/rooms?appId=`). */
export interface SimLiveRoomSnapshot {
  roomId: number;
  name: string;
  /** The status WeChat answers now: the admin override, else from the clock (102, 101, 103). */
  liveStatus: number;
  /** The admin override (104..107 or any code), null when the clock decides. */
  forcedStatus: number | null;
  startTime: number;
  endTime: number;
  anchorWechat: string;
  goodsIds: number[];
  assistants: string[];
  closeReplay: number;
}

/** A good as the admin API shows it (`GET /__sim/live/goods?appId=`). */
export interface SimLiveGoodsSnapshot {
  goodsId: number;
  auditId: number;
  name: string;
  auditStatus: number;
  priceType: number;
  price: number;
  price2: number;
}

/**
 * WeChat-wide: whether the platform grants new live permissions. While paused, applyliveinfo
 * answers errcode 268489001 with `errmsg` to every merchant (see README.md for where in the
 * order of checks).
 */
export interface LiveGrants {
  paused: boolean;
  errmsg: string;
}

export type PushKind = 'component_verify_ticket' | 'authorized' | 'wxa_live_apply_event' | 'text';

export interface PushRecord {
  kind: PushKind;
  url: string;
  /** The component app id for auth pushes, the authorizer app id for events. */
  appId: string;
  /** HTTP status of the receiver's answer; null when the request failed. */
  status: number | null;
  body: string | null;
  error: string | null;
  atMs: number;
}

export interface CountersSnapshot {
  /**
   * Per endpoint: total calls and calls per app id (authorizer app id, else component app id; '-'
   * when unknown); `abandonedByAppId` counts calls whose caller hung up before the answer (applyliveinfo).
   */
  calls: Partial<Record<WechatEndpoint, { total: number; byAppId: Record<string, number>; abandonedByAppId: Record<string, number> }>>;
  pushes: { sent: number; failed: number; byStatus: Record<string, number>; recent: PushRecord[] };
}

export interface ClockInput {
  nowMs?: number;
  advanceMs?: number;
}

export interface ClockSnapshot {
  nowMs: number;
  quotaDay: string;
}
