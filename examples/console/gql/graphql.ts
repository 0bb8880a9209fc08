/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
export type ApplyLiveInput = {
  /** The merchant Mini Program app id: "wx" + 16 hex characters. */
  appId: string;
  /** Same key, same application: retrying a timed-out call never applies twice. */
  idempotencyKey?: string | null | undefined;
};

/** Stable codes of expected failures (userErrors, errorCode, and extensions.code of errors). */
export type ErrorCode =
  /** Live broadcasting is already open for this Mini Program; nothing to apply for. */
  | 'ALREADY_OPEN'
  /** This anchor has rooms that have not started (errcode 400005); delete or edit those rooms first. */
  | 'ANCHOR_HAS_ROOMS'
  /** The anchor has not verified their real name in the "小程序直播" Mini Program (errcode 300036/400002); have them scan qrcodeUrl, then try again. */
  | 'ANCHOR_NOT_VERIFIED'
  /** WeChat does not know this WeChat id (errcode 300030/300035/400001); use the WeChat id (微信号) itself, not a nickname. */
  | 'ANCHOR_WECHAT_INVALID'
  /** Today's WeChat quota of this API for this merchant is spent; it resets at 00:00 UTC+8 (see liveApiQuota). */
  | 'API_QUOTA_REACHED'
  /** Import the merchant (importAuthorizers) or have it authorize the provider first. */
  | 'AUTHORIZER_NOT_FOUND'
  /** The merchant revoked its authorization; it must authorize the provider again. */
  | 'AUTHORIZER_REVOKED'
  /** Send at most 1,000 app ids per batch. */
  | 'BATCH_TOO_LARGE'
  /** Cancelled through the API; apply again to start over. */
  | 'CANCELLED_BY_TENANT'
  /** WeChat has not pushed a component_verify_ticket yet; check the authorization event URL and wait up to 10 minutes. */
  | 'COMPONENT_TICKET_MISSING'
  /** WeChat's daily applyliveinfo quota for this merchant is spent; the application waits for 00:00 UTC+8 by itself. */
  | 'DAILY_QUOTA_REACHED'
  /** This API key lacks a scope the operation needs; an operator makes a key with it: wxlive apikey create --tenant ID --scope SCOPE. */
  | 'FORBIDDEN'
  /** This idempotency key was used for another app id. */
  | 'IDEMPOTENCY_CONFLICT'
  /** Something went wrong on our side; the request id is in the logs. */
  | 'INTERNAL_SERVER_ERROR'
  /** An app id is "wx" followed by 16 hexadecimal characters. */
  | 'INVALID_APP_ID'
  /** Check the input and try again. */
  | 'INVALID_INPUT'
  /** Customer service is not configured for this Mini Program (errcode 300038); set closeKf or configure it in the Mini Program admin. */
  | 'KF_NOT_CONFIGURED'
  /** WeChat's content check refused a name or an image; change it and try again (errmsg names it). */
  | 'LIVE_CONTENT_REJECTED'
  /** The good's audit status does not allow this: an auditing good cannot be deleted or edited, an approved one may change only its price, and only a good not submitted or rejected can be submitted. */
  | 'LIVE_GOODS_AUDIT_STATE'
  /** Only goods that passed audit can be added to a room (errcode 300025); wait for APPROVED (liveGoods). */
  | 'LIVE_GOODS_NOT_APPROVED'
  /** WeChat has no such good for this Mini Program (errcode 300024). */
  | 'LIVE_GOODS_NOT_FOUND'
  /** WeChat accepts no new live-broadcast grants for now (errcode 268489001); merchants that have live keep it. The gateway holds further applications and probes WeChat once per pause window; consider Channels (视频号) live meanwhile. */
  | 'LIVE_GRANTS_PAUSED'
  /** The image was refused or its media id is unknown or older than 3 days; upload it again (uploadLiveImage): at most 2 MiB, JPEG, PNG, GIF or BMP. */
  | 'LIVE_MEDIA_INVALID'
  /** Live broadcasting is not open for this Mini Program yet; apply for it (applyLive) and wait for OPENED. */
  | 'LIVE_NOT_OPEN'
  /** This WeChat id has this role already (errcode 400004). */
  | 'LIVE_ROLE_EXISTS'
  /** WeChat allows 10 admins, 500 anchors and 500 operators per Mini Program (errcode 400003); delete one first. */
  | 'LIVE_ROLE_LIMIT_REACHED'
  /** Only QUEUED applications can be cancelled. */
  | 'NOT_CANCELLABLE'
  /** No such object for this tenant. */
  | 'NOT_FOUND'
  /** WeChat rejected it: no payment in the last 90 days (data is T+1). Try again after a payment. */
  | 'NOT_PAID_90_DAYS'
  /** The merchant must grant permission set 52 (live broadcast) to the provider. */
  | 'PERMISSION_NOT_GRANTED'
  /** This API key sent more requests than its tenant's rate limit allows; wait retryAfter seconds (the Retry-After header) and send fewer per second, or ask the operator to raise the limit (wxlive tenant update --rate-limit N --rate-burst N). */
  | 'RATE_LIMITED'
  /** WeChat no longer accepts this merchant's refresh token; the merchant must authorize again. */
  | 'REAUTHORIZE_REQUIRED'
  /** WeChat stayed unavailable through every retry; apply again later. */
  | 'RETRIES_EXHAUSTED'
  /** The room holds the most goods WeChat allows (500); remove some in the console of the Mini Program first. */
  | 'ROOM_GOODS_FULL'
  /** WeChat has no such room for this Mini Program (errcode 300022); list the rooms with liveRooms(refresh: true). */
  | 'ROOM_NOT_FOUND'
  /** The room's status does not allow this (errcode 300023): a room can be edited only before it starts, and not deleted while live. */
  | 'ROOM_STATUS_FORBIDS'
  /** The merchant admin did not accept within 24 hours; apply again if the merchant still wants live. */
  | 'SUBMISSION_EXPIRED'
  /** This subscription fell too far behind and was closed; subscribe again with after: <last cursor received>. */
  | 'SUBSCRIBER_TOO_SLOW'
  /** No such tenant. */
  | 'TENANT_NOT_FOUND'
  /** Send a valid API key as "Authorization: Bearer <key>". */
  | 'UNAUTHENTICATED'
  /** The endpoint is disabled (see its disabledReason); enable it with updateWebhookEndpoint(input: { id, enabled: true }) first. */
  | 'WEBHOOK_ENDPOINT_DISABLED'
  /** Give an https URL whose host resolves to public addresses only; for local development an operator sets WEBHOOK_ALLOW_HTTP or WEBHOOK_ALLOW_PRIVATE_ADDRESSES. */
  | 'WEBHOOK_URL_NOT_ALLOWED'
  /** WeChat refused the call; see errcode and errmsg. */
  | 'WECHAT_ERROR'
  /** WeChat did not answer in time or failed (network, timeout, HTTP 5xx); try again. A create that timed out may still have happened: check the list with refresh: true first. */
  | 'WECHAT_UNAVAILABLE';

/** QUEUED → SUBMITTED → OPENED | EXPIRED; or REJECTED, FAILED, CANCELLED. */
export type LiveApplicationStatus =
  /** By the tenant, or because the merchant revoked the authorization. */
  | 'CANCELLED'
  /** No open event within 24 hours of SUBMITTED. */
  | 'EXPIRED'
  /** A permanent error, or retries used up; see errcode and errmsg. */
  | 'FAILED'
  /** Live broadcasting is open for the Mini Program. */
  | 'OPENED'
  /** Waiting for its applyliveinfo call (possibly for quota). */
  | 'QUEUED'
  /** errcode 2: no payment in the last 90 days. */
  | 'REJECTED'
  /** WeChat accepted it; the merchant's admin has 24 hours to accept the terms. */
  | 'SUBMITTED';

export type ApplyLiveMutationVariables = Exact<{
  input: ApplyLiveInput;
}>;


export type ApplyLiveMutation = { applyLive: { application: { id: string, appId: string, status: LiveApplicationStatus } | null, userErrors: Array<{ code: ErrorCode, message: string }> } };

export type ApplicationsQueryVariables = Exact<{
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type ApplicationsQuery = { liveApplications: { totalCount: number, edges: Array<{ node: { id: string, appId: string, status: LiveApplicationStatus, errorCode: ErrorCode | null, updatedAt: string } }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } };

export type ApplicationUpdatedSubscriptionVariables = Exact<{
  id?: string | number | null | undefined;
}>;


export type ApplicationUpdatedSubscription = { liveApplicationUpdated: { id: string, status: LiveApplicationStatus, errorCode: ErrorCode | null, errmsg: string | null, cursor: string | null } };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}

export const ApplyLiveDocument = new TypedDocumentString(`
    mutation ApplyLive($input: ApplyLiveInput!) {
  applyLive(input: $input) {
    application {
      id
      appId
      status
    }
    userErrors {
      code
      message
    }
  }
}
    `) as unknown as TypedDocumentString<ApplyLiveMutation, ApplyLiveMutationVariables>;
export const ApplicationsDocument = new TypedDocumentString(`
    query Applications($first: Int, $after: String) {
  liveApplications(first: $first, after: $after) {
    totalCount
    edges {
      node {
        id
        appId
        status
        errorCode
        updatedAt
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
    `) as unknown as TypedDocumentString<ApplicationsQuery, ApplicationsQueryVariables>;
export const ApplicationUpdatedDocument = new TypedDocumentString(`
    subscription ApplicationUpdated($id: ID) {
  liveApplicationUpdated(id: $id) {
    id
    status
    errorCode
    errmsg
    cursor
  }
}
    `) as unknown as TypedDocumentString<ApplicationUpdatedSubscription, ApplicationUpdatedSubscriptionVariables>;