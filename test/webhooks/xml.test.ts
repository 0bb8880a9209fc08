import { describe, expect, it } from 'vitest';
import { type AuthPush, buildAuthXml, buildEnvelope, buildLiveApplyEventXml } from '../../src/wechat/wire/push-xml.js';
import { dedupKey, parseEnvelope, parseMessage } from '../../src/webhooks/xml/events.js';
import { DEFAULT_MAX_XML_BYTES, parseWechatXml, textOf, XmlError, type XmlErrorCode } from '../../src/webhooks/xml/parse-xml.js';

function codeOf(fn: () => unknown): XmlErrorCode | 'NO_ERROR' {
  try {
    fn();
  } catch (error) {
    if (error instanceof XmlError) return error.code;
    throw error;
  }
  return 'NO_ERROR';
}

// Verbatim from the official page (see WECHAT.md), typos and broken CDATA included.
const DOC_EXAMPLE = `<xml>
  <ToUserName><![CDATA[toUser]]></ToUserName>
  <FromUserName><![CDATA[fromUser]]></FromUserName>
  <CreateTime>timestamp</CreateTime>
  <MsgType><![CDATA[event]]></MsgType>
  <Event><![CDATA[wxa_live_apply_event]]></Event>
  <ApplyLiveInfoNoitfy>
    <appid>![CDATA[Successfully opened appid]]</appid>
    <open_time>![CDATA[Time for successful opening]]</open_time>
  </ApplyLiveInfoNoitfy>
</xml>`;

const LIVE = {
  toUserName: 'gh_162977ae934c',
  fromUserName: 'o_system_sender',
  createTime: '1768449600',
  appid: 'wx1234567890abcdef',
  openTime: '1768449599',
};

describe('wxa_live_apply_event', () => {
  it('parses the official page example verbatim, Noitfy spelling and bare ![CDATA[...]] values included', () => {
    expect(parseMessage(DOC_EXAMPLE)).toEqual({
      kind: 'wxa_live_apply_event',
      toUserName: 'toUser',
      fromUserName: 'fromUser',
      createTime: 'timestamp',
      appid: 'Successfully opened appid',
      openTime: 'Time for successful opening',
    });
  });

  it('accepts the corrected ApplyLiveInfoNotify spelling with real CDATA', () => {
    const xml = `<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o_2]]></FromUserName>
      <CreateTime>1768449600</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[wxa_live_apply_event]]></Event>
      <ApplyLiveInfoNotify><appid><![CDATA[wx1234567890abcdef]]></appid><open_time>1768449599</open_time></ApplyLiveInfoNotify></xml>`;
    expect(parseMessage(xml)).toEqual({
      kind: 'wxa_live_apply_event',
      toUserName: 'gh_1',
      fromUserName: 'o_2',
      createTime: '1768449600',
      appid: 'wx1234567890abcdef',
      openTime: '1768449599',
    });
  });

  it('round-trips through the builder in every spelling and value style', () => {
    for (const options of [{}, { element: 'ApplyLiveInfoNotify' as const }, { bareCdata: true }]) {
      expect(parseMessage(buildLiveApplyEventXml(LIVE, options))).toEqual({ kind: 'wxa_live_apply_event', ...LIVE });
    }
    expect(buildLiveApplyEventXml(LIVE)).toContain('<ApplyLiveInfoNoitfy><appid><![CDATA[wx1234567890abcdef]]></appid>');
    expect(buildLiveApplyEventXml(LIVE, { bareCdata: true })).toContain('<appid>![CDATA[wx1234567890abcdef]]</appid>');
  });

  it('is MALFORMED when the notify element or a field is missing', () => {
    const withoutNotify = DOC_EXAMPLE.replace(/<ApplyLiveInfoNoitfy>[\s\S]*<\/ApplyLiveInfoNoitfy>/, '');
    expect(codeOf(() => parseMessage(withoutNotify))).toBe('MALFORMED');
    expect(codeOf(() => parseMessage(DOC_EXAMPLE.replace(/<open_time>.*<\/open_time>/, '')))).toBe('MALFORMED');
    expect(codeOf(() => parseMessage(DOC_EXAMPLE.replace('<FromUserName><![CDATA[fromUser]]></FromUserName>', '')))).toBe('MALFORMED');
  });

  it('de-duplicates by FromUserName, CreateTime and Event', () => {
    expect(dedupKey(parseMessage(buildLiveApplyEventXml(LIVE)))).toBe('event:o_system_sender:1768449600:wxa_live_apply_event');
    const later = parseMessage(buildLiveApplyEventXml({ ...LIVE, createTime: '1768449601' }));
    expect(dedupKey(later)).not.toBe(dedupKey(parseMessage(buildLiveApplyEventXml(LIVE))));
  });
});

describe('authorization pushes', () => {
  const pushes: AuthPush[] = [
    { kind: 'component_verify_ticket', appId: 'wxcomponent00000001', createTime: '1768449600', ticket: 'ticket@@@abc-DEF_123' },
    {
      kind: 'authorized',
      appId: 'wxcomponent00000001',
      createTime: '1768449600',
      authorizerAppId: 'wxauthorizer0000001',
      authorizationCode: 'queryauthcode@@@xyz',
      authorizationCodeExpiredTime: '1768453200',
      preAuthCode: 'preauthcode@@@pqr',
    },
    {
      kind: 'updateauthorized',
      appId: 'wxcomponent00000001',
      createTime: '1768449601',
      authorizerAppId: 'wxauthorizer0000001',
      authorizationCode: 'queryauthcode@@@uvw',
    },
    { kind: 'unauthorized', appId: 'wxcomponent00000001', createTime: '1768449602', authorizerAppId: 'wxauthorizer0000001' },
  ];

  it.each(pushes.map((p) => [p.kind, p] as const))('parses %s', (_kind, push) => {
    const parsed = parseMessage(buildAuthXml(push));
    expect(parsed).toStrictEqual(push);
  });

  it('parses a hand-written push with optional fields absent and whitespace between tags', () => {
    const xml = `<xml>
      <AppId><![CDATA[wxcomponent00000001]]></AppId>
      <CreateTime>1413192760</CreateTime>
      <InfoType><![CDATA[authorized]]></InfoType>
      <AuthorizerAppid><![CDATA[wxauthorizer0000001]]></AuthorizerAppid>
      <AuthorizationCode><![CDATA[queryauthcode@@@abc]]></AuthorizationCode>
    </xml>`;
    expect(parseMessage(xml)).toStrictEqual({
      kind: 'authorized',
      appId: 'wxcomponent00000001',
      createTime: '1413192760',
      authorizerAppId: 'wxauthorizer0000001',
      authorizationCode: 'queryauthcode@@@abc',
    });
  });

  it('de-duplicates by InfoType, CreateTime, AppId and the authorizer when there is one', () => {
    expect(pushes.map((p) => dedupKey(p))).toEqual([
      'auth:component_verify_ticket:1768449600:wxcomponent00000001',
      'auth:authorized:1768449600:wxcomponent00000001:wxauthorizer0000001',
      'auth:updateauthorized:1768449601:wxcomponent00000001:wxauthorizer0000001',
      'auth:unauthorized:1768449602:wxcomponent00000001:wxauthorizer0000001',
    ]);
  });

  it('is MALFORMED when a known InfoType lacks a field it needs', () => {
    const noCode = buildAuthXml({ kind: 'unauthorized', appId: 'wx1', createTime: '1', authorizerAppId: 'wx2' }).replace(
      '<![CDATA[unauthorized]]>',
      '<![CDATA[authorized]]>',
    );
    expect(codeOf(() => parseMessage(noCode))).toBe('MALFORMED');
    expect(codeOf(() => parseMessage('<xml><InfoType>component_verify_ticket</InfoType><AppId>wx1</AppId><CreateTime>1</CreateTime></xml>'))).toBe('MALFORMED');
    expect(
      codeOf(() => parseMessage('<xml><InfoType>component_verify_ticket</InfoType><AppId>wx1</AppId><CreateTime>1</CreateTime><ComponentVerifyTicket/></xml>')),
    ).toBe('MALFORMED');
  });
});

describe('unknown pushes', () => {
  it('keeps an unknown InfoType as a value, not an error', () => {
    const xml =
      '<xml><AppId><![CDATA[wxcomponent00000001]]></AppId><CreateTime>1768449600</CreateTime><InfoType><![CDATA[notify_third_fasteregister]]></InfoType><AuthorizerAppid><![CDATA[wxnew]]></AuthorizerAppid><status>0</status></xml>';
    const push = parseMessage(xml);
    expect(push).toStrictEqual({
      kind: 'unknown',
      infoType: 'notify_third_fasteregister',
      appId: 'wxcomponent00000001',
      authorizerAppId: 'wxnew',
      createTime: '1768449600',
    });
    expect(dedupKey(push)).toBe('auth:notify_third_fasteregister:1768449600:wxcomponent00000001:wxnew');
  });

  it('keeps an unknown event', () => {
    const xml =
      '<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o_2]]></FromUserName><CreateTime>1768449600</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[weapp_audit_success]]></Event><SuccTime>1768449600</SuccTime></xml>';
    const push = parseMessage(xml);
    expect(push).toStrictEqual({
      kind: 'unknown',
      event: 'weapp_audit_success',
      msgType: 'event',
      toUserName: 'gh_1',
      fromUserName: 'o_2',
      createTime: '1768449600',
    });
    expect(dedupKey(push)).toBe('event:o_2:1768449600:weapp_audit_success');
  });

  it('keeps a MsgId beyond 2^53 exactly and de-duplicates messages by it', () => {
    const xml =
      '<xml><ToUserName><![CDATA[gh_162977ae934c]]></ToUserName>\n<FromUserName><![CDATA[o_user]]></FromUserName>\n<CreateTime>1568082714</CreateTime>\n<MsgType><![CDATA[voice]]></MsgType>\n<MsgId>22449548215715819</MsgId>\n<Recognition><![CDATA[]]></Recognition>\n</xml>';
    const push = parseMessage(xml);
    expect(push).toMatchObject({ kind: 'unknown', msgType: 'voice', msgId: '22449548215715819', createTime: '1568082714' });
    expect(dedupKey(push)).toBe('msg:22449548215715819');
    expect(textOf(parseWechatXml(xml), 'Recognition')).toBe('');
  });

  it('has no dedup key when nothing tells the push apart', () => {
    expect(dedupKey(parseMessage('<xml><Foo>bar</Foo></xml>'))).toBeUndefined();
    expect(parseMessage('<xml></xml>')).toStrictEqual({ kind: 'unknown' });
  });
});

describe('envelope', () => {
  it('reads the message URL form with ToUserName', () => {
    expect(parseEnvelope('<xml><ToUserName><![CDATA[gh_1]]></ToUserName><Encrypt><![CDATA[abc+/=]]></Encrypt></xml>')).toStrictEqual({
      encrypt: 'abc+/=',
      toUserName: 'gh_1',
    });
  });

  it('reads the authorization event URL form with AppId', () => {
    expect(parseEnvelope('<xml>\n<AppId><![CDATA[wxcomponent]]></AppId>\n<Encrypt><![CDATA[abc]]></Encrypt>\n</xml>')).toStrictEqual({
      encrypt: 'abc',
      appId: 'wxcomponent',
    });
  });

  it('round-trips through buildEnvelope', () => {
    for (const envelope of [{ encrypt: 'x/y+z==' }, { encrypt: 'e', toUserName: 'gh_1' }, { encrypt: 'e', appId: 'wx1' }]) {
      expect(parseEnvelope(buildEnvelope(envelope))).toStrictEqual(envelope);
    }
  });

  it('is MALFORMED without an Encrypt, with an empty one, or with two', () => {
    expect(codeOf(() => parseEnvelope('<xml><ToUserName><![CDATA[gh_1]]></ToUserName></xml>'))).toBe('MALFORMED');
    expect(codeOf(() => parseEnvelope('<xml><Encrypt><![CDATA[]]></Encrypt></xml>'))).toBe('MALFORMED');
    expect(codeOf(() => parseEnvelope('<xml><Encrypt>a</Encrypt><Encrypt>b</Encrypt></xml>'))).toBe('MALFORMED');
  });
});

describe('CDATA and entities', () => {
  it('keeps CDATA content exactly, markup characters and inner whitespace included', () => {
    const root = parseWechatXml('<xml><A><![CDATA[ <b>&amp; "x" ]]></A><B><![CDATA[中文]]></B></xml>');
    expect(textOf(root, 'A')).toBe(' <b>&amp; "x" ');
    expect(textOf(root, 'B')).toBe('中文');
  });

  it('builds values containing ]]> safely', () => {
    const ticket = 'a]]>b<c>&d';
    const push = parseMessage(buildAuthXml({ kind: 'component_verify_ticket', appId: 'wx1', createTime: '1', ticket }));
    expect(push).toMatchObject({ ticket });
  });

  it('does not expand predefined or numeric entities', () => {
    expect(textOf(parseWechatXml('<xml><A>&amp;&lt;&#x41;&#65;</A></xml>'), 'A')).toBe('&amp;&lt;&#x41;&#65;');
  });

  it.each([
    ['internal entity', '<!DOCTYPE x [<!ENTITY a "aaaa">]><xml><Encrypt>&a;</Encrypt></xml>'],
    [
      'billion laughs',
      '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><xml><Encrypt>&lol2;</Encrypt></xml>',
    ],
    ['external entity', '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><Encrypt>&xxe;</Encrypt></xml>'],
    ['external DTD', '<!DOCTYPE xml SYSTEM "http://attacker.example/x.dtd"><xml><Encrypt>abc</Encrypt></xml>'],
    ['lowercase doctype', '<!doctype xml><xml><Encrypt>abc</Encrypt></xml>'],
    ['entity declaration without doctype', '<xml><!ENTITY a "b"><Encrypt>abc</Encrypt></xml>'],
  ])('rejects a DTD outright: %s', (_name, xml) => {
    expect(codeOf(() => parseEnvelope(xml))).toBe('DOCTYPE_FORBIDDEN');
    expect(codeOf(() => parseMessage(xml))).toBe('DOCTYPE_FORBIDDEN');
  });
});

describe('limits and malformed input', () => {
  it('rejects input over 1 MiB by default, counting UTF-8 bytes', () => {
    const wrap = (content: string) => `<xml><Encrypt><![CDATA[${content}]]></Encrypt></xml>`;
    const overhead = wrap('').length;
    expect(parseEnvelope(wrap('a'.repeat(DEFAULT_MAX_XML_BYTES - overhead))).encrypt).toHaveLength(DEFAULT_MAX_XML_BYTES - overhead);
    expect(codeOf(() => parseEnvelope(wrap('a'.repeat(DEFAULT_MAX_XML_BYTES - overhead + 1))))).toBe('TOO_LARGE');
    // fewer characters than the limit, more bytes
    expect(codeOf(() => parseMessage(wrap('中'.repeat(DEFAULT_MAX_XML_BYTES / 2))))).toBe('TOO_LARGE');
  });

  it('honours a smaller limit', () => {
    const xml = '<xml><Encrypt>abc</Encrypt></xml>';
    expect(parseEnvelope(xml, { maxBytes: xml.length }).encrypt).toBe('abc');
    expect(codeOf(() => parseEnvelope(xml, { maxBytes: xml.length - 1 }))).toBe('TOO_LARGE');
  });

  it.each([
    ['empty input', ''],
    ['not XML', 'encrypt=abc'],
    ['an unclosed tag', '<xml><Encrypt>abc</Encrypt>'],
    ['mismatched tags', '<xml><Encrypt>abc</ToUserName></xml>'],
    ['a second root', '<xml><Encrypt>abc</Encrypt></xml><xml><Encrypt>def</Encrypt></xml>'],
    ['another root name', '<root><Encrypt>abc</Encrypt></root>'],
    ['a prototype-polluting tag', '<xml><__proto__><Encrypt>abc</Encrypt></__proto__><Encrypt>abc</Encrypt></xml>'],
    ['nesting deeper than any push', `<xml>${'<a>'.repeat(64)}x${'</a>'.repeat(64)}<Encrypt>abc</Encrypt></xml>`],
  ])('is MALFORMED given %s', (_name, xml) => {
    expect(codeOf(() => parseEnvelope(xml))).toBe('MALFORMED');
    expect(codeOf(() => parseMessage(xml))).toBe('MALFORMED');
  });

  it('reports XmlError with a stable code', () => {
    try {
      parseMessage('<xml>');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(XmlError);
      expect((error as XmlError).name).toBe('XmlError');
      expect((error as XmlError).code).toBe('MALFORMED');
    }
  });
});
