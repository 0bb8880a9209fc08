import type { AttemptRecord } from '../services/application-transitions.service.js';
import { assertNever, type ErrorCode } from '../services/errors.js';
import { isWechatError } from '../wechat/errors.js';

/** What the worker needs from the WeChat layer: applyliveinfo for one merchant, tokens handled. */
export type ApplyLiveCaller = (tenantId: string, appId: string) => Promise<ApplyCallResult>;

/** errcode 0 or 2; every other answer is thrown as a WechatError (see src/wechat/errors.ts). */
export interface ApplyCallResult {
  errcode: number;
  errmsg: string;
  latencyMs: number;
}

/** What one call's result means for the application. */
export type ApplyOutcome =
  | { kind: 'SUBMITTED'; attempt: AttemptRecord }
  | { kind: 'FINAL'; status: 'REJECTED' | 'FAILED'; errorCode: ErrorCode; attempt: AttemptRecord; message: string }
  | { kind: 'RETRY'; attempt: AttemptRecord; message: string }
  /** 45009: WeChat's count says the appid is spent today. */
  | { kind: 'QUOTA'; attempt: AttemptRecord; message: string }
  /** A tenant-wide credential that heals by itself (the next ticket push): wait, do not fail. */
  | { kind: 'WAIT'; attempt: AttemptRecord; message: string };

export interface ClassifiedCall {
  outcome: ApplyOutcome;
  /** True when applyliveinfo was provably never sent (the token step failed): give the quota back. */
  notSent: boolean;
}

const PERMISSION_ERRCODES: readonly number[] = [61003, 61007];
/** Errcodes of tickets and component tokens: the whole tenant waits for WeChat's next ticket push. */
const TICKET_ERRCODES: readonly number[] = [61005, 61006];

/**
 * Maps a call's result or thrown error to an outcome. Anything that is not a WechatError (a bug,
 * the database) is rethrown by the caller and retried by BullMQ as an ordinary attempt.
 */
export function classifyCall(result: { ok: true; value: ApplyCallResult } | { ok: false; error: unknown }, elapsedMs: number): ClassifiedCall | undefined {
  if (result.ok) {
    const { errcode, errmsg, latencyMs } = result.value;
    const attempt = { errcode, errmsg, latencyMs };
    if (errcode === 0) return { outcome: { kind: 'SUBMITTED', attempt }, notSent: false };
    const message = 'WeChat: no payment in the last 90 days (errcode 2); not retried.';
    return { outcome: { kind: 'FINAL', status: 'REJECTED', errorCode: 'NOT_PAID_90_DAYS', attempt, message }, notSent: false };
  }
  const error = result.error;
  if (!isWechatError(error)) return undefined;
  const attempt: AttemptRecord = { errcode: error.errcode, errmsg: error.errmsg || error.code, latencyMs: error.latencyMs ?? elapsedMs };
  const notSent = error.endpoint !== 'applyliveinfo';
  const what = `${error.endpoint} ${error.errcode === null ? error.code : `errcode ${error.errcode}`}`;
  switch (error.errorClass) {
    case 'RETRYABLE':
      return { outcome: { kind: 'RETRY', attempt, message: `${what}: transient, retrying with backoff.` }, notSent };
    case 'QUOTA':
      return { outcome: { kind: 'QUOTA', attempt, message: `${what}: daily quota reached; waiting for 00:00 UTC+8.` }, notSent };
    case 'CREDENTIAL':
      if (error.code === 'COMPONENT_TICKET_MISSING' || (error.errcode !== null && TICKET_ERRCODES.includes(error.errcode))) {
        return { outcome: { kind: 'WAIT', attempt, message: `${what}: waiting for WeChat's next component_verify_ticket.` }, notSent };
      }
      // 61023, or a token still refused after the single refresh-and-retry: authorize again.
      return {
        outcome: { kind: 'FINAL', status: 'FAILED', errorCode: 'REAUTHORIZE_REQUIRED', attempt, message: `${what}: the merchant must authorize again.` },
        notSent,
      };
    case 'PERMANENT': {
      const errorCode: ErrorCode =
        error.errcode !== null && PERMISSION_ERRCODES.includes(error.errcode)
          ? 'PERMISSION_NOT_GRANTED'
          : error.code === 'AUTHORIZER_UNKNOWN'
            ? 'REAUTHORIZE_REQUIRED'
            : 'WECHAT_ERROR';
      return { outcome: { kind: 'FINAL', status: 'FAILED', errorCode, attempt, message: `${what}: permanent; not retried.` }, notSent };
    }
    default:
      return assertNever(error.errorClass);
  }
}
