import type { MsgCryptErrorCode } from '../wechat/wire/msg-crypt.js';
import type { XmlErrorCode } from './xml/parse-xml.js';

/** What happened to one webhook request; one call of `onOutcome` per request. */
export type WebhookOutcome =
  /** Stored (and handed to processing): answered `success`. */
  | 'accepted'
  /** Already in the inbox (a WeChat retry): answered `success`, not processed again. */
  | 'duplicate'
  /** The (timestamp, nonce, signature) was seen and stored before: answered `success`, not processed. */
  | 'replayed'
  /** A GET URL check whose signature verified: answered with the echostr. */
  | 'verified'
  /** Refused (4xx): nothing stored, WeChat or the sender must fix something. */
  | 'rejected'
  /** We could not store it (5xx): nothing acknowledged, WeChat retries. */
  | 'unavailable';

/** Why a request was refused or not served; stable codes, also the plain-text reply body. */
export type RejectionReason =
  | 'UNKNOWN_TENANT'
  | 'BAD_APP_ID_PATH'
  | 'MISSING_SIGNATURE'
  | 'BAD_SIGNATURE'
  | 'PLAINTEXT_DISABLED'
  | 'STALE_TIMESTAMP'
  | 'BAD_CIPHERTEXT'
  | 'BAD_PADDING'
  | 'BAD_LENGTH'
  | 'WRONG_APP_ID'
  | 'MALFORMED_XML'
  | 'XML_DTD_FORBIDDEN'
  | 'BODY_TOO_LARGE'
  | 'MISSING_ECHOSTR'
  | 'TENANT_MISCONFIGURED'
  | 'STORE_UNAVAILABLE';

/** For accepted, duplicate and replayed pushes the reason is the push's kind (a closed set). */
export type PushKindLabel = 'component_verify_ticket' | 'authorized' | 'updateauthorized' | 'unauthorized' | 'wxa_live_apply_event' | 'unknown';

export type OutcomeReason = RejectionReason | PushKindLabel | 'URL_VERIFIED';

export type OnOutcome = (outcome: WebhookOutcome, reason: OutcomeReason) => void;

export const REJECTION_STATUS: Readonly<Record<RejectionReason, number>> = {
  UNKNOWN_TENANT: 404,
  BAD_APP_ID_PATH: 404,
  MISSING_SIGNATURE: 401,
  BAD_SIGNATURE: 401,
  PLAINTEXT_DISABLED: 401,
  STALE_TIMESTAMP: 401,
  BAD_CIPHERTEXT: 401,
  BAD_PADDING: 401,
  BAD_LENGTH: 401,
  WRONG_APP_ID: 401,
  MALFORMED_XML: 400,
  XML_DTD_FORBIDDEN: 400,
  BODY_TOO_LARGE: 413,
  MISSING_ECHOSTR: 400,
  TENANT_MISCONFIGURED: 500,
  STORE_UNAVAILABLE: 503,
};

/** A request the receiver refuses; `detail` goes to the log only (never secrets). */
export class WebhookRejection extends Error {
  override readonly name = 'WebhookRejection';
  readonly status: number;
  constructor(
    readonly reason: RejectionReason,
    readonly detail: string = reason,
    options?: ErrorOptions,
  ) {
    super(`${reason}: ${detail}`, options);
    this.status = REJECTION_STATUS[reason];
  }
}

/** A ciphertext that fails any check is as untrusted as a bad signature: all are 401. */
export function cryptRejection(code: MsgCryptErrorCode, detail: string): WebhookRejection {
  switch (code) {
    case 'BAD_SIGNATURE':
    case 'BAD_CIPHERTEXT':
    case 'BAD_PADDING':
    case 'BAD_LENGTH':
    case 'WRONG_APP_ID':
      return new WebhookRejection(code, detail);
    case 'BAD_KEY':
      return new WebhookRejection('TENANT_MISCONFIGURED', detail);
  }
}

export function xmlRejection(code: XmlErrorCode, detail: string): WebhookRejection {
  switch (code) {
    case 'TOO_LARGE':
      return new WebhookRejection('BODY_TOO_LARGE', detail);
    case 'DOCTYPE_FORBIDDEN':
      return new WebhookRejection('XML_DTD_FORBIDDEN', detail);
    case 'MALFORMED':
      return new WebhookRejection('MALFORMED_XML', detail);
  }
}
