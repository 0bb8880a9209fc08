import { describe, expect, it } from 'vitest';
import { classifyErrcode, ERRCODE_CLASSES, WechatError, type WechatErrorClass, type WechatErrorCode } from '../../src/wechat/errors.js';

describe('classifyErrcode', () => {
  // The whole table, row by row: a change to a class must change this list on purpose.
  const rows: [errcode: number, meaning: string, expected: WechatErrorClass][] = [
    [-1, 'system busy', 'RETRYABLE'],
    [45011, 'call frequency too high', 'RETRYABLE'],
    [45009, 'daily quota reached', 'QUOTA'],
    [40001, 'access token invalid', 'CREDENTIAL'],
    [40014, 'access token not the latest', 'CREDENTIAL'],
    [42001, 'access token expired', 'CREDENTIAL'],
    [61023, 'authorizer refresh token invalid', 'CREDENTIAL'],
    [61005, 'component_verify_ticket expired', 'CREDENTIAL'],
    [61006, 'component_verify_ticket invalid', 'CREDENTIAL'],
    [2, 'not paid in the last 90 days', 'PERMANENT'],
    [61003, 'component not authorized by this appid', 'PERMANENT'],
    [61007, 'permission set 52 not granted', 'PERMANENT'],
    [40013, 'invalid appid (not in the table)', 'PERMANENT'],
    [987654, 'an errcode nobody has seen', 'PERMANENT'],
  ];

  it.each(rows)('classifies %i (%s) as %s', (errcode, _meaning, expected) => {
    expect(classifyErrcode(errcode)).toBe(expected);
  });

  it('has a test row for every entry of the table', () => {
    const tested = new Set(rows.map(([errcode]) => errcode));
    for (const errcode of ERRCODE_CLASSES.keys()) expect(tested, `errcode ${errcode}`).toContain(errcode);
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
