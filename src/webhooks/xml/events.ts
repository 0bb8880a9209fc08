import { utcDay } from '../../lib/clock.js';
import { assertNever } from '../../services/errors.js';
import type { AuthPush, Envelope, LiveApplyEventPush } from '../../wechat/wire/push-xml.js';
import { childOf, parseWechatXml, textOf, type XmlElement, XmlError, type XmlLimits } from './parse-xml.js';

/** Any other push: not an error, kept with the fields needed to log and de-duplicate it. */
export interface UnknownPush {
  kind: 'unknown';
  infoType?: string;
  event?: string;
  msgType?: string;
  appId?: string;
  authorizerAppId?: string;
  toUserName?: string;
  fromUserName?: string;
  createTime?: string;
  msgId?: string;
}

export type KnownPush = AuthPush | LiveApplyEventPush;
export type WechatPush = KnownPush | UnknownPush;

export function parseEnvelope(xml: string, limits?: XmlLimits): Envelope {
  const root = parseWechatXml(xml, limits);
  return {
    encrypt: required(root, 'Encrypt'),
    ...present({ toUserName: field(root, 'ToUserName'), appId: field(root, 'AppId') }),
  };
}

/** The decrypted push. A known kind missing a field it needs is MALFORMED; an unknown kind is not an error. */
export function parseMessage(xml: string, limits?: XmlLimits): WechatPush {
  const root = parseWechatXml(xml, limits);
  const infoType = field(root, 'InfoType');
  if (infoType !== undefined) return authPush(root, infoType);
  if (field(root, 'MsgType') === 'event' && field(root, 'Event') === 'wxa_live_apply_event') {
    return liveApplyEvent(root);
  }
  return unknownPush(root);
}

/**
 * The identity of a push across WeChat's retries; callers scope it by tenant. Undefined when an
 * unknown push carries nothing to tell it apart.
 */
export function dedupKey(push: KnownPush): string;
export function dedupKey(push: WechatPush): string | undefined;
export function dedupKey(push: WechatPush): string | undefined {
  switch (push.kind) {
    case 'component_verify_ticket':
      return authKey(push.kind, push.createTime, push.appId, undefined);
    case 'authorized':
    case 'updateauthorized':
    case 'unauthorized':
      return authKey(push.kind, push.createTime, push.appId, push.authorizerAppId);
    case 'wxa_live_apply_event':
      return eventKey(push.fromUserName, push.createTime, push.kind);
    case 'unknown':
      if (push.infoType !== undefined && push.createTime !== undefined && push.appId !== undefined) {
        return authKey(push.infoType, push.createTime, push.appId, push.authorizerAppId);
      }
      if (push.msgType === 'event' && push.event !== undefined && push.fromUserName !== undefined && push.createTime !== undefined) {
        return eventKey(push.fromUserName, push.createTime, push.event);
      }
      return push.msgId === undefined ? undefined : `msg:${push.msgId}`;
    default:
      return assertNever(push);
  }
}

/**
 * The UTC day (YYYY-MM-DD) of the push's CreateTime, which each of WeChat's redeliveries repeats:
 * the inbox's partition key, and so part of its de-duplication key. A push without a usable
 * CreateTime gets the day of `receivedMs` (its redeliveries across midnight are then not joined).
 */
export function pushedOn(push: WechatPush, receivedMs: number): string {
  const seconds = push.createTime === undefined ? Number.NaN : Number(push.createTime);
  const ms = Number.isSafeInteger(seconds) && seconds > 0 && seconds < 1e11 ? seconds * 1000 : receivedMs;
  return utcDay(ms);
}

function authPush(root: XmlElement, infoType: string): WechatPush {
  switch (infoType) {
    case 'component_verify_ticket':
      return {
        kind: infoType,
        appId: required(root, 'AppId'),
        createTime: required(root, 'CreateTime'),
        ticket: required(root, 'ComponentVerifyTicket'),
      };
    case 'authorized':
    case 'updateauthorized':
      return {
        kind: infoType,
        appId: required(root, 'AppId'),
        createTime: required(root, 'CreateTime'),
        authorizerAppId: required(root, 'AuthorizerAppid'),
        authorizationCode: required(root, 'AuthorizationCode'),
        ...present({
          authorizationCodeExpiredTime: field(root, 'AuthorizationCodeExpiredTime'),
          preAuthCode: field(root, 'PreAuthCode'),
        }),
      };
    case 'unauthorized':
      return {
        kind: infoType,
        appId: required(root, 'AppId'),
        createTime: required(root, 'CreateTime'),
        authorizerAppId: required(root, 'AuthorizerAppid'),
      };
    default:
      return unknownPush(root);
  }
}

function liveApplyEvent(root: XmlElement): LiveApplyEventPush {
  // The official page spells the wrapper `ApplyLiveInfoNoitfy`; accept it and the corrected spelling.
  const notify = childOf(root, 'ApplyLiveInfoNotify') ?? childOf(root, 'ApplyLiveInfoNoitfy');
  if (notify === undefined) throw new XmlError('MALFORMED', '<ApplyLiveInfoNotify> missing');
  return {
    kind: 'wxa_live_apply_event',
    toUserName: required(root, 'ToUserName'),
    fromUserName: required(root, 'FromUserName'),
    createTime: required(root, 'CreateTime'),
    appid: required(notify, 'appid'),
    openTime: required(notify, 'open_time'),
  };
}

function unknownPush(root: XmlElement): UnknownPush {
  return {
    kind: 'unknown',
    ...present({
      infoType: field(root, 'InfoType'),
      event: field(root, 'Event'),
      msgType: field(root, 'MsgType'),
      appId: field(root, 'AppId'),
      authorizerAppId: field(root, 'AuthorizerAppid'),
      toUserName: field(root, 'ToUserName'),
      fromUserName: field(root, 'FromUserName'),
      createTime: field(root, 'CreateTime'),
      msgId: field(root, 'MsgId'),
    }),
  };
}

// The official page renders CDATA without its `<` (`![CDATA[x]]`), so that text means x.
const BARE_CDATA = /^!\[CDATA\[([\s\S]*)\]\]$/;

function field(element: XmlElement, name: string): string | undefined {
  const text = textOf(element, name);
  if (text === undefined) return undefined;
  const bare = BARE_CDATA.exec(text);
  return bare ? (bare[1] ?? '') : text;
}

function required(element: XmlElement, name: string): string {
  const text = field(element, name);
  if (text === undefined || text === '') throw new XmlError('MALFORMED', `<${name}> missing or empty`);
  return text;
}

function present<K extends string>(fields: Record<K, string | undefined>): Partial<Record<K, string>> {
  const out: Partial<Record<K, string>> = {};
  for (const key of Object.keys(fields) as K[]) {
    const value: string | undefined = fields[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}

function authKey(infoType: string, createTime: string, appId: string, authorizerAppId: string | undefined): string {
  const key = `auth:${infoType}:${createTime}:${appId}`;
  return authorizerAppId === undefined ? key : `${key}:${authorizerAppId}`;
}

function eventKey(fromUserName: string, createTime: string, event: string): string {
  return `event:${fromUserName}:${createTime}:${event}`;
}
