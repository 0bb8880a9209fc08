import type { ApplicationStatus } from '../../db/tables.js';
import type { ErrorCode } from '../errors.js';

/** The merchant's admin has this long to accept, after WeChat accepted applyliveinfo. */
export const SUBMISSION_TTL_MS = 24 * 3600_000;

/** The history event a transition writes. ATTEMPT records a WeChat call and counts in `attempts`. */
export type HistoryEventType = 'CREATED' | 'ATTEMPT' | 'STATUS' | 'NOTE';

/** Which rows a transition acts on: one application by id, or every matching one of a merchant. */
export type TransitionTarget = 'id' | 'appId';

export interface TransitionRule {
  /** Statuses the row must have for the transition to apply (the guard); empty for `create`. */
  readonly from: readonly ApplicationStatus[];
  readonly to: ApplicationStatus;
  /**
   * The row's `errorCode` afterwards: a fixed code, null (cleared), or a list of the codes a
   * caller may give (the classification of WeChat's answer decides which).
   */
  readonly errorCode: ErrorCode | null | readonly ErrorCode[];
  readonly event: HistoryEventType;
  /** The history message; a caller may give a more specific one. */
  readonly message: string;
  readonly target: TransitionTarget;
  /** Applies only while the row does not already carry this errorCode (a hold is noted once). */
  readonly onlyWhenCodeChanges?: true;
  /** Applies only once `expires_at` has passed. */
  readonly onlyWhenDue?: true;
}

/**
 * Every way an application's status can change. Each transition goes through one statement
 * (transition.statement.ts) that checks `from`, writes `to` and `errorCode`, appends the history
 * event and the change-feed outbox row, all or nothing; a transition whose guard no longer holds
 * (a retried job, a duplicate push, a concurrent cancel) changes nothing and returns no row.
 */
export const TRANSITIONS = {
  create: { from: [], to: 'QUEUED', errorCode: null, event: 'CREATED', message: 'Accepted by the API.', target: 'id' },
  submit: {
    from: ['QUEUED'],
    to: 'SUBMITTED',
    errorCode: null,
    event: 'ATTEMPT',
    message: 'WeChat accepted the application; waiting for the merchant admin (24 h).',
    target: 'id',
  },
  reject: {
    from: ['QUEUED'],
    to: 'REJECTED',
    errorCode: 'NOT_PAID_90_DAYS',
    event: 'ATTEMPT',
    message: 'WeChat: no payment in the last 90 days (errcode 2); not retried.',
    target: 'id',
  },
  fail: {
    from: ['QUEUED'],
    to: 'FAILED',
    errorCode: ['PERMISSION_NOT_GRANTED', 'REAUTHORIZE_REQUIRED', 'WECHAT_ERROR', 'RETRIES_EXHAUSTED', 'LIVE_GRANTS_PAUSED', 'INTERNAL_SERVER_ERROR'],
    event: 'ATTEMPT',
    message: 'WeChat refused the call; not retried.',
    target: 'id',
  },
  /** A transient failure; the job retries with backoff, the row stays QUEUED with the error visible. */
  retry: { from: ['QUEUED'], to: 'QUEUED', errorCode: null, event: 'ATTEMPT', message: 'Transient failure; retrying with backoff.', target: 'id' },
  /** WeChat answered "not now" (45009, a missing ticket): the job waits, the row says why. */
  wait: {
    from: ['QUEUED'],
    to: 'QUEUED',
    errorCode: ['DAILY_QUOTA_REACHED', 'COMPONENT_TICKET_MISSING'],
    event: 'ATTEMPT',
    message: 'Waiting before the next call.',
    target: 'id',
  },
  /** Held without a call while WeChat grants no new live permissions (268489001); noted once per pause. */
  hold: {
    from: ['QUEUED'],
    to: 'QUEUED',
    errorCode: 'LIVE_GRANTS_PAUSED',
    event: 'NOTE',
    message: 'Held: WeChat accepts no new live grants for now (errcode 268489001); the gateway probes again after the pause window.',
    target: 'id',
    onlyWhenCodeChanges: true,
  },
  open: {
    from: ['QUEUED', 'SUBMITTED'],
    to: 'OPENED',
    errorCode: null,
    event: 'STATUS',
    message: 'WeChat reported live broadcasting opened.',
    target: 'appId',
  },
  expire: {
    from: ['SUBMITTED'],
    to: 'EXPIRED',
    errorCode: 'SUBMISSION_EXPIRED',
    event: 'STATUS',
    message: 'No open event within 24 hours; apply again if the merchant still wants live.',
    target: 'id',
    onlyWhenDue: true,
  },
  cancel: { from: ['QUEUED'], to: 'CANCELLED', errorCode: 'CANCELLED_BY_TENANT', event: 'STATUS', message: 'Cancelled by the tenant.', target: 'id' },
  revokeCancel: {
    from: ['QUEUED'],
    to: 'CANCELLED',
    errorCode: 'AUTHORIZER_REVOKED',
    event: 'STATUS',
    message: 'The merchant revoked its authorization.',
    target: 'appId',
  },
} as const satisfies Record<string, TransitionRule>;

export type TransitionName = keyof typeof TRANSITIONS;

/** The error codes a caller may give a transition (none when its code is fixed). */
export type GivenErrorCode<N extends TransitionName> = (typeof TRANSITIONS)[N]['errorCode'] extends readonly (infer C)[] ? C : never;

/** The message of an OPENED record made for a merchant that opened with nothing pending here. */
export const UNSOLICITED_OPEN_MESSAGE = 'WeChat reported live broadcasting opened with no pending application here.';

/** Statuses in which an application still waits on WeChat or the merchant (at most one per merchant). */
export const ACTIVE: readonly ApplicationStatus[] = ['QUEUED', 'SUBMITTED'];
