import { assertNever, type ErrorCode } from '../services/errors.js';
import { type AttemptRecord, type EndCode, TRANSITIONS } from '../services/live-application/index.js';
import { type ErrcodeRule, isWechatError, ruleOfErrcode, type WechatReason } from '../wechat/errors.js';

/** What the worker needs from the WeChat layer: applyliveinfo for one merchant, tokens handled. */
export type ApplyLiveCaller = (tenantId: string, appId: string) => Promise<ApplyCallResult>;

/** errcode 0 or 2; every other answer is thrown as a WechatError (see src/wechat/errors.ts). */
export interface ApplyCallResult {
  errcode: number;
  errmsg: string;
  latencyMs: number;
}

/** What one call's result means for the application: the action the worker takes. */
export type ApplyOutcome =
  | { kind: 'SUBMITTED'; attempt: AttemptRecord }
  /** PERMANENT: the application ends (REJECTED for NOT_PAID_90_DAYS, FAILED otherwise). */
  | { kind: 'END'; code: EndCode; attempt: AttemptRecord; message: string }
  /** PAUSED (268489001): this application ends with LIVE_GRANTS_PAUSED, and the gate closes for everyone. */
  | { kind: 'PAUSED'; attempt: AttemptRecord; message: string }
  | { kind: 'RETRY'; attempt: AttemptRecord; message: string }
  /** QUOTA (45009): WeChat's count says the appid is spent today. */
  | { kind: 'QUOTA'; attempt: AttemptRecord; message: string }
  /** CREDENTIAL: a tenant-wide credential that heals by itself (the next ticket push): wait, do not fail. */
  | { kind: 'WAIT'; attempt: AttemptRecord; message: string };

export interface ClassifiedCall {
  outcome: ApplyOutcome;
  /** True when applyliveinfo was provably never sent (the token step failed): give the quota back. */
  notSent: boolean;
}

// The WeChat layer's reasons are names of the closed vocabulary (this fails to compile otherwise);
// the ones a PERMANENT rule carries are codes an application can end with.
const asErrorCode = (reason: WechatReason): ErrorCode => reason;
const END_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['NOT_PAID_90_DAYS', ...TRANSITIONS.fail.errorCode]);
const endCode = (reason: WechatReason): EndCode => (END_CODES.has(asErrorCode(reason)) ? (reason as EndCode) : 'WECHAT_ERROR');

/**
 * Maps a call's result or thrown error to an outcome by the class the errcode table
 * (src/wechat/errors.ts) gives it; nothing here looks at an errcode. Anything that is not a
 * WechatError (a bug, the database) returns undefined: the caller lets BullMQ retry it.
 */
export function classifyCall(result: { ok: true; value: ApplyCallResult } | { ok: false; error: unknown }, elapsedMs: number): ClassifiedCall | undefined {
  if (result.ok) {
    const { errcode, errmsg, latencyMs } = result.value;
    const attempt = { errcode, errmsg, latencyMs };
    if (errcode === 0) return { outcome: { kind: 'SUBMITTED', attempt }, notSent: false };
    return { outcome: outcomeOf(ruleOfErrcode(errcode), attempt, `applyliveinfo errcode ${errcode}`), notSent: false };
  }
  const error = result.error;
  if (!isWechatError(error)) return undefined;
  const attempt: AttemptRecord = { errcode: error.errcode, errmsg: error.errmsg || error.code, latencyMs: error.latencyMs ?? elapsedMs };
  const what = `${error.endpoint} ${error.errcode === null ? error.code : `errcode ${error.errcode}`}`;
  return { outcome: outcomeOf(error, attempt, what), notSent: error.endpoint !== 'applyliveinfo' };
}

function outcomeOf(rule: ErrcodeRule, attempt: AttemptRecord, what: string): ApplyOutcome {
  switch (rule.errorClass) {
    case 'RETRYABLE':
      return { kind: 'RETRY', attempt, message: `${what}: transient, retrying with backoff.` };
    case 'QUOTA':
      return { kind: 'QUOTA', attempt, message: `${what}: daily quota reached; waiting for 00:00 UTC+8.` };
    case 'CREDENTIAL':
      return { kind: 'WAIT', attempt, message: `${what}: waiting for WeChat's next component_verify_ticket.` };
    case 'PAUSED':
      return { kind: 'PAUSED', attempt, message: `${what}: WeChat accepts no new live grants for now; not retried, further applications are held.` };
    case 'PERMANENT':
      return { kind: 'END', code: endCode(rule.reason), attempt, message: `${what}: ${permanentNote(rule.reason)}` };
    default:
      return assertNever(rule.errorClass);
  }
}

function permanentNote(reason: WechatReason): string {
  if (reason === 'NOT_PAID_90_DAYS') return 'no payment in the last 90 days; not retried.';
  if (reason === 'REAUTHORIZE_REQUIRED') return 'the merchant must authorize again.';
  return 'permanent; not retried.';
}
