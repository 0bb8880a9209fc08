import type { WechatEndpoint } from './endpoints.js';

/**
 * What a caller should do about a failed WeChat call — the one decision, made here:
 * - RETRYABLE: transient; retry with backoff (bounded: a retried applyliveinfo spends quota).
 * - QUOTA: the daily quota is spent; wait for the next quota day (00:00 UTC+8), do not fail.
 * - CREDENTIAL: a tenant-wide credential that heals by itself (WeChat pushes a fresh
 *   component_verify_ticket every 10 minutes): wait, do not fail.
 * - PAUSED: WeChat refuses this capability to everyone for now (268489001, no new live grants):
 *   end this piece of work, stop calling for a while, then probe.
 * - PERMANENT: retrying cannot help (missing permission set, not paid, a token still refused
 *   after the token manager's refresh-and-retry, unknown errcode).
 */
export type WechatErrorClass = 'RETRYABLE' | 'QUOTA' | 'CREDENTIAL' | 'PAUSED' | 'PERMANENT';

/**
 * The stable code the outcome is recorded under (the names are the closed vocabulary's, in
 * src/services/errors.ts). A RETRYABLE error is recorded as RETRIES_EXHAUSTED once retries run out.
 */
export type WechatReason =
  | 'RETRIES_EXHAUSTED'
  | 'DAILY_QUOTA_REACHED'
  | 'COMPONENT_TICKET_MISSING'
  | 'LIVE_GRANTS_PAUSED'
  | 'NOT_PAID_90_DAYS'
  | 'PERMISSION_NOT_GRANTED'
  | 'REAUTHORIZE_REQUIRED'
  | 'WECHAT_ERROR';

export interface ErrcodeRule {
  errorClass: WechatErrorClass;
  reason: WechatReason;
}

/** The errcodes that mean "this access token is not (or no longer) valid": refresh once, retry once. */
export const TOKEN_ERRCODES: readonly number[] = [40001, 40014, 42001];

export function isTokenErrcode(errcode: number | null): boolean {
  return errcode !== null && TOKEN_ERRCODES.includes(errcode);
}

const rule = (errorClass: WechatErrorClass, reason: WechatReason): ErrcodeRule => ({ errorClass, reason });

/**
 * The errcode table. Errcode 0 is success and never classified; applyliveinfo's errcode 2 is
 * returned as a business result by the client and classified here like any other.
 */
export const ERRCODE_RULES: ReadonlyMap<number, ErrcodeRule> = new Map<number, ErrcodeRule>([
  [-1, rule('RETRYABLE', 'RETRIES_EXHAUSTED')], // system busy
  [45011, rule('RETRYABLE', 'RETRIES_EXHAUSTED')], // call frequency too high: back off seconds
  [45009, rule('QUOTA', 'DAILY_QUOTA_REACHED')], // daily quota of this API reached
  // Token errcodes reach a caller only when the token manager's refresh-and-retry was refused too.
  [40001, rule('PERMANENT', 'REAUTHORIZE_REQUIRED')], // access token invalid
  [40014, rule('PERMANENT', 'REAUTHORIZE_REQUIRED')], // access token not the latest
  [42001, rule('PERMANENT', 'REAUTHORIZE_REQUIRED')], // access token expired
  [61023, rule('PERMANENT', 'REAUTHORIZE_REQUIRED')], // authorizer refresh token invalid: the merchant must authorize again
  // A stale or expired component_verify_ticket is a tenant-wide condition that heals with the next
  // push (every 10 minutes). PERMANENT would fail every merchant's application for it, and a
  // seconds-scale RETRYABLE backoff cannot outlast it.
  [61005, rule('CREDENTIAL', 'COMPONENT_TICKET_MISSING')], // component_verify_ticket expired
  [61006, rule('CREDENTIAL', 'COMPONENT_TICKET_MISSING')], // component_verify_ticket invalid
  [2, rule('PERMANENT', 'NOT_PAID_90_DAYS')], // applyliveinfo: no payment in the last 90 days
  [61003, rule('PERMANENT', 'PERMISSION_NOT_GRANTED')], // component not authorized by this appid
  [61007, rule('PERMANENT', 'PERMISSION_NOT_GRANTED')], // API not authorized to the component: permission set 52 missing
  // applyliveinfo (2026): the platform accepts no new live grants for now; accounts that have live
  // keep it. WeChat-wide, so every further call answers the same and spends quota.
  [268489001, rule('PAUSED', 'LIVE_GRANTS_PAUSED')],
]);

const UNKNOWN_ERRCODE = rule('PERMANENT', 'WECHAT_ERROR');

/**
 * The stable code a refusal of the live management API (rooms, goods, roles, media) is returned
 * under; the names are the closed vocabulary's (src/services/errors.ts). WeChat's errcode and
 * errmsg travel beside it verbatim.
 */
export type LiveRefusal =
  | 'INVALID_INPUT'
  | 'ROOM_NOT_FOUND'
  | 'ROOM_STATUS_FORBIDS'
  | 'ANCHOR_NOT_VERIFIED'
  | 'ANCHOR_WECHAT_INVALID'
  | 'LIVE_CONTENT_REJECTED'
  | 'LIVE_MEDIA_INVALID'
  | 'LIVE_GOODS_NOT_FOUND'
  | 'LIVE_GOODS_NOT_APPROVED'
  | 'LIVE_GOODS_AUDIT_STATE'
  | 'ROOM_GOODS_FULL'
  | 'LIVE_ROLE_LIMIT_REACHED'
  | 'LIVE_ROLE_EXISTS'
  | 'ANCHOR_HAS_ROOMS'
  | 'KF_NOT_CONFIGURED'
  | 'API_QUOTA_REACHED';

/** Live management errcodes (WeChat's live server API pages), by what the console should do. */
export const LIVE_ERRCODES: ReadonlyMap<number, LiveRefusal> = new Map<number, LiveRefusal>([
  [200002, 'INVALID_INPUT'], // a parameter is missing or invalid (errmsg names it)
  [300002, 'INVALID_INPUT'], // name length
  [300003, 'INVALID_INPUT'], // price
  [300034, 'INVALID_INPUT'], // anchor nickname length
  [300022, 'ROOM_NOT_FOUND'],
  [300023, 'ROOM_STATUS_FORBIDS'], // the room's status does not allow it (live, ended...)
  [300001, 'ROOM_STATUS_FORBIDS'], // creating or editing is forbidden for now
  [300036, 'ANCHOR_NOT_VERIFIED'], // comes with qrcode_url: the anchor scans it to verify their real name
  [400002, 'ANCHOR_NOT_VERIFIED'], // role: the WeChat id is not real-name verified (codeurl)
  [300030, 'ANCHOR_WECHAT_INVALID'],
  [300035, 'ANCHOR_WECHAT_INVALID'], // the WeChat id does not exist
  [400001, 'ANCHOR_WECHAT_INVALID'], // role: the WeChat id is not valid
  [300004, 'LIVE_CONTENT_REJECTED'], // goods name
  [300005, 'LIVE_CONTENT_REJECTED'], // goods image
  [300028, 'LIVE_CONTENT_REJECTED'], // room name
  [300029, 'LIVE_CONTENT_REJECTED'], // anchor nickname
  [300031, 'LIVE_CONTENT_REJECTED'], // cover image
  [300032, 'LIVE_CONTENT_REJECTED'], // share image
  [300037, 'LIVE_CONTENT_REJECTED'], // feeds image
  [40004, 'LIVE_MEDIA_INVALID'], // media type
  [40007, 'LIVE_MEDIA_INVALID'], // media id unknown or expired (3 days)
  [40009, 'LIVE_MEDIA_INVALID'], // image size
  [300006, 'LIVE_MEDIA_INVALID'], // image upload failed
  [300018, 'LIVE_MEDIA_INVALID'], // goods image too large
  [300024, 'LIVE_GOODS_NOT_FOUND'],
  [300025, 'LIVE_GOODS_NOT_APPROVED'],
  [300009, 'LIVE_GOODS_AUDIT_STATE'], // audit could not be withdrawn
  [300010, 'LIVE_GOODS_AUDIT_STATE'], // audit status wrong for this
  [300011, 'LIVE_GOODS_AUDIT_STATE'], // an approved good may only change its price
  [300014, 'LIVE_GOODS_AUDIT_STATE'], // auditing goods cannot be deleted
  [300017, 'LIVE_GOODS_AUDIT_STATE'], // not submitted for audit
  [300026, 'ROOM_GOODS_FULL'],
  [300033, 'ROOM_GOODS_FULL'],
  [400003, 'LIVE_ROLE_LIMIT_REACHED'], // 10 admins, 500 anchors, 500 operators
  [400004, 'LIVE_ROLE_EXISTS'],
  [400005, 'ANCHOR_HAS_ROOMS'], // the anchor still has rooms not started
  [300038, 'KF_NOT_CONFIGURED'], // customer service not configured in the Mini Program admin
  [300012, 'API_QUOTA_REACHED'], // no audit quota left today (500)
  [45009, 'API_QUOTA_REACHED'],
]);

/** The rule of a non-zero errcode; errcodes not in the table are PERMANENT (never retried blindly). */
export function ruleOfErrcode(errcode: number): ErrcodeRule {
  return ERRCODE_RULES.get(errcode) ?? UNKNOWN_ERRCODE;
}

/** The class of a non-zero errcode (see ruleOfErrcode). */
export function classifyErrcode(errcode: number): WechatErrorClass {
  return ruleOfErrcode(errcode).errorClass;
}

/** Stable codes of everything the WeChat layer can fail with. */
export type WechatErrorCode =
  /** WeChat answered a non-zero errcode; `errcode`/`errmsg` hold it verbatim. */
  | 'WECHAT_ERRCODE'
  /** Connection refused, reset, DNS failure... */
  | 'WECHAT_NETWORK'
  /** No answer within the per-call timeout. An applyliveinfo may still have been counted. */
  | 'WECHAT_TIMEOUT'
  | 'WECHAT_HTTP_5XX'
  /** Another non-200 status (WeChat itself answers 200 even for errors: a proxy is in the way). */
  | 'WECHAT_HTTP_STATUS'
  /** 200 with a body that is not the JSON this endpoint answers. */
  | 'WECHAT_BAD_RESPONSE'
  /** No component_verify_ticket stored yet for this tenant: wait for WeChat's next push. */
  | 'COMPONENT_TICKET_MISSING'
  /** No authorizer refresh token stored for this tenant and app id. */
  | 'AUTHORIZER_UNKNOWN'
  /** Another process holds the refresh lock and no token appeared in time. */
  | 'TOKEN_REFRESH_TIMEOUT';

const CODE_RULES: Record<Exclude<WechatErrorCode, 'WECHAT_ERRCODE' | 'WECHAT_HTTP_STATUS'>, ErrcodeRule> = {
  WECHAT_NETWORK: rule('RETRYABLE', 'RETRIES_EXHAUSTED'),
  WECHAT_TIMEOUT: rule('RETRYABLE', 'RETRIES_EXHAUSTED'),
  WECHAT_HTTP_5XX: rule('RETRYABLE', 'RETRIES_EXHAUSTED'),
  // Seen during incidents as truncated bodies or HTML error pages; bounded retries cover it.
  WECHAT_BAD_RESPONSE: rule('RETRYABLE', 'RETRIES_EXHAUSTED'),
  COMPONENT_TICKET_MISSING: rule('CREDENTIAL', 'COMPONENT_TICKET_MISSING'),
  AUTHORIZER_UNKNOWN: rule('PERMANENT', 'REAUTHORIZE_REQUIRED'),
  TOKEN_REFRESH_TIMEOUT: rule('RETRYABLE', 'RETRIES_EXHAUSTED'),
};

export interface WechatErrorInit {
  code: WechatErrorCode;
  endpoint: WechatEndpoint;
  errcode?: number | null;
  errmsg?: string;
  httpStatus?: number | null;
  latencyMs?: number | null;
  cause?: unknown;
  /** WeChat's whole reply to an errcode (some carry more than errcode and errmsg, e.g. 300036's qrcode_url). */
  reply?: Record<string, unknown>;
}

/** Every failure of the WeChat layer. `errorClass` tells a caller what to do; `code` is stable. */
export class WechatError extends Error {
  override readonly name = 'WechatError';
  readonly code: WechatErrorCode;
  readonly errorClass: WechatErrorClass;
  /** The stable code an outcome of this error is recorded under. */
  readonly reason: WechatReason;
  readonly endpoint: WechatEndpoint;
  readonly errcode: number | null;
  readonly errmsg: string;
  readonly httpStatus: number | null;
  /** Duration of the failed HTTP call, when one was made. */
  readonly latencyMs: number | null;
  /** WeChat's whole reply when it answered an errcode (null otherwise). */
  readonly reply: Record<string, unknown> | null;

  constructor(init: WechatErrorInit) {
    const errcode = init.errcode ?? null;
    const errmsg = init.errmsg ?? '';
    super(
      errcode === null ? `${init.code} on ${init.endpoint}: ${errmsg}` : `${init.endpoint} errcode ${errcode}: ${errmsg}`,
      init.cause === undefined ? undefined : { cause: init.cause },
    );
    this.code = init.code;
    this.endpoint = init.endpoint;
    this.errcode = errcode;
    this.errmsg = errmsg;
    this.httpStatus = init.httpStatus ?? null;
    this.latencyMs = init.latencyMs ?? null;
    this.reply = init.reply ?? null;
    const rule = ruleOf(init.code, errcode, this.httpStatus);
    this.errorClass = rule.errorClass;
    this.reason = rule.reason;
  }

  /** True for the token errcodes (40001, 40014, 42001) the token manager refreshes on. */
  get isTokenError(): boolean {
    return isTokenErrcode(this.errcode);
  }
}

function ruleOf(code: WechatErrorCode, errcode: number | null, httpStatus: number | null): ErrcodeRule {
  switch (code) {
    case 'WECHAT_ERRCODE':
      return errcode === null ? UNKNOWN_ERRCODE : ruleOfErrcode(errcode);
    case 'WECHAT_HTTP_STATUS':
      return httpStatus === 429 ? rule('RETRYABLE', 'RETRIES_EXHAUSTED') : UNKNOWN_ERRCODE;
    default:
      return CODE_RULES[code];
  }
}

export function isWechatError(error: unknown): error is WechatError {
  return error instanceof WechatError;
}
