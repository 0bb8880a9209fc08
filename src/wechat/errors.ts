import type { WechatEndpoint } from './endpoints.js';

/**
 * What a caller should do about a failed WeChat call:
 * - RETRYABLE: transient; retry with backoff (bounded: a retried applyliveinfo spends quota).
 * - QUOTA: the daily quota is spent; wait for the next quota day (00:00 UTC+8), do not fail.
 * - CREDENTIAL: a credential the gateway holds is not accepted, and the token manager's single
 *   refresh-and-retry has already happened. Token errcodes and ticket problems heal by themselves
 *   (WeChat pushes a fresh ticket every 10 minutes): delay, do not fail. 61023 needs the merchant
 *   to authorize again.
 * - PERMANENT: retrying cannot help (missing permission set, not paid, unknown errcode).
 */
export type WechatErrorClass = 'RETRYABLE' | 'QUOTA' | 'CREDENTIAL' | 'PERMANENT';

/** The errcodes that mean "this access token is not (or no longer) valid": refresh once, retry once. */
export const TOKEN_ERRCODES: readonly number[] = [40001, 40014, 42001];

export function isTokenErrcode(errcode: number | null): boolean {
  return errcode !== null && TOKEN_ERRCODES.includes(errcode);
}

/**
 * The errcode table. Errcode 0 is success and never classified; applyliveinfo's errcode 2 is
 * returned as a business result by the client, and is PERMANENT here so that anything else
 * answering 2 is not retried either.
 */
export const ERRCODE_CLASSES: ReadonlyMap<number, WechatErrorClass> = new Map<number, WechatErrorClass>([
  [-1, 'RETRYABLE'], // system busy
  [45011, 'RETRYABLE'], // call frequency too high: back off seconds
  [45009, 'QUOTA'], // daily quota of this API reached
  [40001, 'CREDENTIAL'], // access token invalid
  [40014, 'CREDENTIAL'], // access token not the latest
  [42001, 'CREDENTIAL'], // access token expired
  [61023, 'CREDENTIAL'], // authorizer refresh token invalid: the merchant must authorize again
  // A stale or expired component_verify_ticket is a tenant-wide condition that heals with the next
  // push (every 10 minutes). PERMANENT would fail every merchant's application for it, and a
  // seconds-scale RETRYABLE backoff cannot outlast it; it is a credential the gateway holds.
  [61005, 'CREDENTIAL'], // component_verify_ticket expired
  [61006, 'CREDENTIAL'], // component_verify_ticket invalid
  [2, 'PERMANENT'], // applyliveinfo: no payment in the last 90 days
  [61003, 'PERMANENT'], // component not authorized by this appid
  [61007, 'PERMANENT'], // API not authorized to the component: permission set 52 missing
]);

/** Classify a non-zero errcode; errcodes not in the table are PERMANENT (never retried blindly). */
export function classifyErrcode(errcode: number): WechatErrorClass {
  return ERRCODE_CLASSES.get(errcode) ?? 'PERMANENT';
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

const CODE_CLASSES: Record<Exclude<WechatErrorCode, 'WECHAT_ERRCODE' | 'WECHAT_HTTP_STATUS'>, WechatErrorClass> = {
  WECHAT_NETWORK: 'RETRYABLE',
  WECHAT_TIMEOUT: 'RETRYABLE',
  WECHAT_HTTP_5XX: 'RETRYABLE',
  // Seen during incidents as truncated bodies or HTML error pages; bounded retries cover it.
  WECHAT_BAD_RESPONSE: 'RETRYABLE',
  COMPONENT_TICKET_MISSING: 'CREDENTIAL',
  AUTHORIZER_UNKNOWN: 'PERMANENT',
  TOKEN_REFRESH_TIMEOUT: 'RETRYABLE',
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
    this.errorClass = classOf(init.code, errcode, this.httpStatus);
  }

  /** True for the token errcodes (40001, 40014, 42001) the token manager refreshes on. */
  get isTokenError(): boolean {
    return isTokenErrcode(this.errcode);
  }
}

function classOf(code: WechatErrorCode, errcode: number | null, httpStatus: number | null): WechatErrorClass {
  switch (code) {
    case 'WECHAT_ERRCODE':
      return errcode === null ? 'PERMANENT' : classifyErrcode(errcode);
    case 'WECHAT_HTTP_STATUS':
      return httpStatus === 429 ? 'RETRYABLE' : 'PERMANENT';
    default:
      return CODE_CLASSES[code];
  }
}

export function isWechatError(error: unknown): error is WechatError {
  return error instanceof WechatError;
}
