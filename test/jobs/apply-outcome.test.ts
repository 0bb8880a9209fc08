import { describe, expect, it } from 'vitest';
import { jitteredBackoff } from '../../src/jobs/apply-live.worker.js';
import { classifyCall } from '../../src/jobs/apply-outcome.js';
import type { WechatEndpoint } from '../../src/wechat/endpoints.js';
import { WechatError, type WechatErrorCode } from '../../src/wechat/errors.js';

function thrown(code: WechatErrorCode, endpoint: WechatEndpoint, errcode: number | null = null) {
  return classifyCall({ ok: false, error: new WechatError({ code, endpoint, errcode, errmsg: 'm', latencyMs: 12 }) }, 99);
}

describe('classifyCall', () => {
  it('maps applyliveinfo results: 0 submitted, 2 ends as NOT_PAID_90_DAYS', () => {
    expect(classifyCall({ ok: true, value: { errcode: 0, errmsg: 'ok', latencyMs: 5 } }, 6)?.outcome).toEqual({
      kind: 'SUBMITTED',
      attempt: { errcode: 0, errmsg: 'ok', latencyMs: 5 },
    });
    expect(classifyCall({ ok: true, value: { errcode: 2, errmsg: 'np', latencyMs: 5 } }, 6)?.outcome).toMatchObject({
      kind: 'END',
      code: 'NOT_PAID_90_DAYS',
    });
  });

  it.each([
    ['WECHAT_ERRCODE', 'applyliveinfo', -1, { kind: 'RETRY' }, false],
    ['WECHAT_ERRCODE', 'applyliveinfo', 45011, { kind: 'RETRY' }, false],
    ['WECHAT_TIMEOUT', 'applyliveinfo', null, { kind: 'RETRY' }, false],
    ['WECHAT_HTTP_5XX', 'applyliveinfo', null, { kind: 'RETRY' }, false],
    ['WECHAT_NETWORK', 'api_authorizer_token', null, { kind: 'RETRY' }, true],
    ['WECHAT_ERRCODE', 'applyliveinfo', 45009, { kind: 'QUOTA' }, false],
    ['WECHAT_ERRCODE', 'applyliveinfo', 61007, { kind: 'END', code: 'PERMISSION_NOT_GRANTED' }, false],
    ['WECHAT_ERRCODE', 'api_authorizer_token', 61003, { kind: 'END', code: 'PERMISSION_NOT_GRANTED' }, true],
    ['WECHAT_ERRCODE', 'api_authorizer_token', 61023, { kind: 'END', code: 'REAUTHORIZE_REQUIRED' }, true],
    ['WECHAT_ERRCODE', 'applyliveinfo', 40001, { kind: 'END', code: 'REAUTHORIZE_REQUIRED' }, false],
    ['AUTHORIZER_UNKNOWN', 'api_authorizer_token', null, { kind: 'END', code: 'REAUTHORIZE_REQUIRED' }, true],
    ['WECHAT_ERRCODE', 'api_component_token', 61006, { kind: 'WAIT' }, true],
    ['COMPONENT_TICKET_MISSING', 'api_component_token', null, { kind: 'WAIT' }, true],
    ['WECHAT_ERRCODE', 'applyliveinfo', 12345, { kind: 'END', code: 'WECHAT_ERROR' }, false],
    ['WECHAT_ERRCODE', 'applyliveinfo', 268489001, { kind: 'PAUSED' }, false],
  ] as const)('%s on %s (errcode %s)', (code, endpoint, errcode, outcome, notSent) => {
    const result = thrown(code, endpoint, errcode);
    expect(result?.outcome).toMatchObject(outcome);
    expect(result?.notSent).toBe(notSent);
    expect(result?.outcome.attempt).toMatchObject({ errcode, latencyMs: 12 });
  });

  it('leaves errors that are not WeChat answers to BullMQ', () => {
    expect(classifyCall({ ok: false, error: new Error('connection terminated') }, 3)).toBeUndefined();
  });
});

describe('jitteredBackoff', () => {
  it('doubles per attempt, keeps half fixed, and stops at the cap', () => {
    const low = jitteredBackoff(1000, 10_000, () => 0);
    const high = jitteredBackoff(1000, 10_000, () => 1);
    expect([1, 2, 3, 4, 5, 6].map((n) => low(n))).toEqual([500, 1000, 2000, 4000, 5000, 5000]);
    expect([1, 2, 3, 4, 5, 6].map((n) => high(n))).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000]);
  });
});
