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
