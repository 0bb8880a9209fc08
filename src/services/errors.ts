/**
 * The closed vocabulary of error codes a client can meet. Expected outcomes travel as values
 * (`UserError` in payloads); `DomainError` carries one of these codes when a whole operation fails.
 */
export const ERROR_CODES = {
  UNAUTHENTICATED: 'Send a valid API key as "Authorization: Bearer <key>".',
  FORBIDDEN: 'This API key lacks a scope the operation needs; an operator makes a key with it: wxlive apikey create --tenant ID --scope SCOPE.',
  NOT_FOUND: 'No such object for this tenant.',
  INVALID_APP_ID: 'An app id is "wx" followed by 16 hexadecimal characters.',
  INVALID_INPUT: 'Check the input and try again.',
  AUTHORIZER_NOT_FOUND: 'Import the merchant (importAuthorizers) or have it authorize the provider first.',
  AUTHORIZER_REVOKED: 'The merchant revoked its authorization; it must authorize the provider again.',
  PERMISSION_NOT_GRANTED: 'The merchant must grant permission set 52 (live broadcast) to the provider.',
  ALREADY_OPEN: 'Live broadcasting is already open for this Mini Program; nothing to apply for.',
  NOT_PAID_90_DAYS: 'WeChat rejected it: no payment in the last 90 days (data is T+1). Try again after a payment.',
  REAUTHORIZE_REQUIRED: "WeChat no longer accepts this merchant's refresh token; the merchant must authorize again.",
  WECHAT_ERROR: 'WeChat refused the call; see errcode and errmsg.',
  RETRIES_EXHAUSTED: 'WeChat stayed unavailable through every retry; apply again later.',
  LIVE_GRANTS_PAUSED:
    'WeChat accepts no new live-broadcast grants for now (errcode 268489001); merchants that have live keep it. The gateway holds further applications and probes WeChat once per pause window; consider Channels (视频号) live meanwhile.',
  DAILY_QUOTA_REACHED: "WeChat's daily applyliveinfo quota for this merchant is spent; the application waits for 00:00 UTC+8 by itself.",
  SUBMISSION_EXPIRED: 'The merchant admin did not accept within 24 hours; apply again if the merchant still wants live.',
  CANCELLED_BY_TENANT: 'Cancelled through the API; apply again to start over.',
  NOT_CANCELLABLE: 'Only QUEUED applications can be cancelled.',
  BATCH_TOO_LARGE: 'Send at most 1,000 app ids per batch.',
  IDEMPOTENCY_CONFLICT: 'This idempotency key was used for another app id.',
  COMPONENT_TICKET_MISSING: 'WeChat has not pushed a component_verify_ticket yet; check the authorization event URL and wait up to 10 minutes.',
  TENANT_NOT_FOUND: 'No such tenant.',
  SUBSCRIBER_TOO_SLOW: 'This subscription fell too far behind and was closed; subscribe again with after: <last cursor received>.',
  WEBHOOK_URL_NOT_ALLOWED:
    'Give an https URL whose host resolves to public addresses only; for local development an operator sets WEBHOOK_ALLOW_HTTP or WEBHOOK_ALLOW_PRIVATE_ADDRESSES.',
  WEBHOOK_ENDPOINT_DISABLED: 'The endpoint is disabled (see its disabledReason); enable it with updateWebhookEndpoint(input: { id, enabled: true }) first.',
  LIVE_NOT_OPEN: 'Live broadcasting is not open for this Mini Program yet; apply for it (applyLive) and wait for OPENED.',
  ROOM_NOT_FOUND: 'WeChat has no such room for this Mini Program (errcode 300022); list the rooms with liveRooms(refresh: true).',
  ROOM_STATUS_FORBIDS: "The room's status does not allow this (errcode 300023): a room can be edited only before it starts, and not deleted while live.",
  ANCHOR_NOT_VERIFIED:
    'The anchor has not verified their real name in the "小程序直播" Mini Program (errcode 300036/400002); have them scan qrcodeUrl, then try again.',
  ANCHOR_WECHAT_INVALID: 'WeChat does not know this WeChat id (errcode 300030/300035/400001); use the WeChat id (微信号) itself, not a nickname.',
  LIVE_CONTENT_REJECTED: "WeChat's content check refused a name or an image; change it and try again (errmsg names it).",
  LIVE_MEDIA_INVALID:
    'The image was refused or its media id is unknown or older than 3 days; upload it again (uploadLiveImage): at most 2 MiB, JPEG, PNG, GIF or BMP.',
  LIVE_GOODS_NOT_FOUND: 'WeChat has no such good for this Mini Program (errcode 300024).',
  LIVE_GOODS_NOT_APPROVED: 'Only goods that passed audit can be added to a room (errcode 300025); wait for APPROVED (liveGoods).',
  LIVE_GOODS_AUDIT_STATE:
    "The good's audit status does not allow this: an auditing good cannot be deleted or edited, an approved one may change only its price, and only a good not submitted or rejected can be submitted.",
  ROOM_GOODS_FULL: 'The room holds the most goods WeChat allows (500); remove some in the console of the Mini Program first.',
  LIVE_ROLE_LIMIT_REACHED: 'WeChat allows 10 admins, 500 anchors and 500 operators per Mini Program (errcode 400003); delete one first.',
  LIVE_ROLE_EXISTS: 'This WeChat id has this role already (errcode 400004).',
  ANCHOR_HAS_ROOMS: 'This anchor has rooms that have not started (errcode 400005); delete or edit those rooms first.',
  KF_NOT_CONFIGURED: 'Customer service is not configured for this Mini Program (errcode 300038); set closeKf or configure it in the Mini Program admin.',
  API_QUOTA_REACHED: "Today's WeChat quota of this API for this merchant is spent; it resets at 00:00 UTC+8 (see liveApiQuota).",
  WECHAT_UNAVAILABLE:
    'WeChat did not answer in time or failed (network, timeout, HTTP 5xx); try again. A create that timed out may still have happened: check the list with refresh: true first.',
  INTERNAL_SERVER_ERROR: 'Something went wrong on our side; the request id is in the logs.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface UserError {
  code: ErrorCode;
  message: string;
  field?: string[];
  /** WeChat's errcode and errmsg, verbatim, when the failure is WeChat's answer. */
  errcode?: number;
  errmsg?: string;
  /** 300036 / 400002: the code the anchor scans to verify their real name. */
  qrcodeUrl?: string;
}

export function userError(code: ErrorCode, detail?: string, field?: string[]): UserError {
  const message = detail ? `${detail} ${ERROR_CODES[code]}` : ERROR_CODES[code];
  return field ? { code, message, field } : { code, message };
}

export class DomainError extends Error {
  override readonly name = 'DomainError';
  constructor(
    readonly code: ErrorCode,
    detail?: string,
  ) {
    super(detail ? `${detail} ${ERROR_CODES[code]}` : ERROR_CODES[code]);
  }

  /** A user error thrown where the operation has no userErrors (a query): same code, same message. */
  static of(error: UserError): DomainError {
    const thrown = new DomainError(error.code);
    thrown.message = error.message;
    return thrown;
  }
}

export function assertNever(x: never): never {
  throw new Error(`unexpected value: ${String(x)}`);
}
