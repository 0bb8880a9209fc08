import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/services/errors.js';
import {
  classifyErrcode,
  ERRCODE_RULES,
  ruleOfErrcode,
  WechatError,
  type WechatErrorClass,
  type WechatErrorCode,
  type WechatReason,
} from '../../src/wechat/errors.js';

describe('the errcode table', () => {
  // The whole table, row by row: a change to a class or reason must change this list on purpose.
  const rows: [errcode: number, meaning: string, expected: WechatErrorClass, reason: WechatReason][] = [
    [-1, 'system busy', 'RETRYABLE', 'RETRIES_EXHAUSTED'],
    [45011, 'call frequency too high', 'RETRYABLE', 'RETRIES_EXHAUSTED'],
    [45009, 'daily quota reached', 'QUOTA', 'DAILY_QUOTA_REACHED'],
    [40001, 'access token invalid (after the refresh-and-retry)', 'PERMANENT', 'REAUTHORIZE_REQUIRED'],
    [40014, 'access token not the latest (after the refresh-and-retry)', 'PERMANENT', 'REAUTHORIZE_REQUIRED'],
    [42001, 'access token expired (after the refresh-and-retry)', 'PERMANENT', 'REAUTHORIZE_REQUIRED'],
    [61023, 'authorizer refresh token invalid', 'PERMANENT', 'REAUTHORIZE_REQUIRED'],
    [61005, 'component_verify_ticket expired', 'CREDENTIAL', 'COMPONENT_TICKET_MISSING'],
    [61006, 'component_verify_ticket invalid', 'CREDENTIAL', 'COMPONENT_TICKET_MISSING'],
    [2, 'not paid in the last 90 days', 'PERMANENT', 'NOT_PAID_90_DAYS'],
    [61003, 'component not authorized by this appid', 'PERMANENT', 'PERMISSION_NOT_GRANTED'],
    [61007, 'permission set 52 not granted', 'PERMANENT', 'PERMISSION_NOT_GRANTED'],
    [268489001, 'no new live grants for now (WeChat-wide)', 'PAUSED', 'LIVE_GRANTS_PAUSED'],
    [40013, 'invalid appid (not in the table)', 'PERMANENT', 'WECHAT_ERROR'],
    [987654, 'an errcode nobody has seen', 'PERMANENT', 'WECHAT_ERROR'],
  ];

  it.each(rows)('classifies %i (%s) as %s, recorded as %s', (errcode, _meaning, expected, reason) => {
    expect(classifyErrcode(errcode)).toBe(expected);
    expect(ruleOfErrcode(errcode)).toEqual({ errorClass: expected, reason });
    expect(new WechatError({ code: 'WECHAT_ERRCODE', endpoint: 'applyliveinfo', errcode })).toMatchObject({ errorClass: expected, reason });
  });

  it('has a test row for every entry of the table', () => {
    const tested = new Set(rows.map(([errcode]) => errcode));
    for (const errcode of ERRCODE_RULES.keys()) expect(tested, `errcode ${errcode}`).toContain(errcode);
  });

  it('names every reason with a code of the closed vocabulary', () => {
    for (const [, , , reason] of rows) expect(Object.keys(ERROR_CODES)).toContain(reason);
  });
});

describe('WechatError', () => {
  const kinds: [code: WechatErrorCode, extra: { httpStatus?: number }, expected: WechatErrorClass][] = [
    ['WECHAT_NETWORK', {}, 'RETRYABLE'],
    ['WECHAT_TIMEOUT', {}, 'RETRYABLE'],
    ['WECHAT_HTTP_5XX', { httpStatus: 502 }, 'RETRYABLE'],
    ['WECHAT_HTTP_STATUS', { httpStatus: 429 }, 'RETRYABLE'],
    ['WECHAT_HTTP_STATUS', { httpStatus: 404 }, 'PERMANENT'],
    ['WECHAT_BAD_RESPONSE', {}, 'RETRYABLE'],
    ['COMPONENT_TICKET_MISSING', {}, 'CREDENTIAL'],
    ['AUTHORIZER_UNKNOWN', {}, 'PERMANENT'],
    ['TOKEN_REFRESH_TIMEOUT', {}, 'RETRYABLE'],
  ];

  it.each(kinds)('classifies %s %o as %s', (code, extra, expected) => {
    const error = new WechatError({ code, endpoint: 'applyliveinfo', ...extra });
    expect(error.errorClass).toBe(expected);
    expect(error.errcode).toBeNull();
  });

  it('keeps an unknown errcode and its errmsg verbatim and counts it as PERMANENT', () => {
    const error = new WechatError({ code: 'WECHAT_ERRCODE', endpoint: 'applyliveinfo', errcode: 123456, errmsg: 'something new hint: [abc]', latencyMs: 12 });
    expect(error).toMatchObject({
      code: 'WECHAT_ERRCODE',
      errcode: 123456,
      errmsg: 'something new hint: [abc]',
      errorClass: 'PERMANENT',
      endpoint: 'applyliveinfo',
      latencyMs: 12,
      isTokenError: false,
    });
    expect(error).toBeInstanceOf(Error);
  });

  it('marks the token errcodes for refresh-and-retry', () => {
    for (const errcode of [40001, 40014, 42001]) {
      expect(new WechatError({ code: 'WECHAT_ERRCODE', endpoint: 'applyliveinfo', errcode }).isTokenError).toBe(true);
    }
    expect(new WechatError({ code: 'WECHAT_ERRCODE', endpoint: 'applyliveinfo', errcode: 61023 }).isTokenError).toBe(false);
  });
});
