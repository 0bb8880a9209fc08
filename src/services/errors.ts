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
  INTERNAL_SERVER_ERROR: 'Something went wrong on our side; the request id is in the logs.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface UserError {
  code: ErrorCode;
  message: string;
  field?: string[];
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
}

export function assertNever(x: never): never {
  throw new Error(`unexpected value: ${String(x)}`);
}
