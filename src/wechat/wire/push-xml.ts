/**
 * The XML of WeChat's pushes as WeChat writes it: what the simulator sends and what tests and
 * benches forge. The receiver's tolerant parser is src/webhooks/xml/events.ts.
 */

/** The outer POST body; the auth event URL sends `<AppId>`, the message URL `<ToUserName>`. */
export interface Envelope {
  encrypt: string;
  toUserName?: string;
  appId?: string;
}

/** Every 10 minutes on the authorization event URL; `appId` is the component's. */
export interface ComponentVerifyTicketPush {
  kind: 'component_verify_ticket';
  appId: string;
  createTime: string;
  ticket: string;
}

export interface AuthorizedPush {
  kind: 'authorized' | 'updateauthorized';
  appId: string;
  createTime: string;
  authorizerAppId: string;
  authorizationCode: string;
  authorizationCodeExpiredTime?: string;
  preAuthCode?: string;
}

export interface UnauthorizedPush {
  kind: 'unauthorized';
  appId: string;
  createTime: string;
  authorizerAppId: string;
}

/** Live broadcasting was opened for `appid`; `openTime` is kept exactly as WeChat wrote it. */
export interface LiveApplyEventPush {
  kind: 'wxa_live_apply_event';
  toUserName: string;
  fromUserName: string;
  createTime: string;
  appid: string;
  openTime: string;
}

/** A customer's text message to the merchant's Mini Program (customer service); `msgId` is WeChat's de-duplication key. */
export interface TextMessagePush {
  toUserName: string;
  fromUserName: string;
  createTime: string;
  content: string;
  msgId: string;
}

export type AuthPush = ComponentVerifyTicketPush | AuthorizedPush | UnauthorizedPush;
export type LiveApplyEventFields = Omit<LiveApplyEventPush, 'kind'>;

export function buildEnvelope(envelope: Envelope): string {
  const { encrypt, toUserName, appId } = envelope;
  const head = (toUserName === undefined ? '' : el('ToUserName', cdata(toUserName))) + (appId === undefined ? '' : el('AppId', cdata(appId)));
  return `<xml>${head}${el('Encrypt', cdata(encrypt))}</xml>`;
}

export function buildAuthXml(push: AuthPush): string {
  let body = el('AppId', cdata(push.appId)) + el('CreateTime', num(push.createTime)) + el('InfoType', cdata(push.kind));
  switch (push.kind) {
    case 'component_verify_ticket':
      body += el('ComponentVerifyTicket', cdata(push.ticket));
      break;
    case 'authorized':
    case 'updateauthorized':
      body += el('AuthorizerAppid', cdata(push.authorizerAppId)) + el('AuthorizationCode', cdata(push.authorizationCode));
      if (push.authorizationCodeExpiredTime !== undefined) {
        body += el('AuthorizationCodeExpiredTime', num(push.authorizationCodeExpiredTime));
      }
      if (push.preAuthCode !== undefined) body += el('PreAuthCode', cdata(push.preAuthCode));
      break;
    case 'unauthorized':
      body += el('AuthorizerAppid', cdata(push.authorizerAppId));
      break;
    default:
      // assertNever's check, inline: the wire format imports nothing of src/services.
      throw new Error(`unexpected auth push: ${String(push satisfies never)}`);
  }
  return `<xml>${body}</xml>`;
}

export interface LiveApplyEventXmlOptions {
  /** Default: the spelling of the official page. */
  element?: 'ApplyLiveInfoNoitfy' | 'ApplyLiveInfoNotify';
  /** Write `![CDATA[...]]` without the `<`, exactly as the official page shows the values. */
  bareCdata?: boolean;
}

export function buildLiveApplyEventXml(event: LiveApplyEventFields, options: LiveApplyEventXmlOptions = {}): string {
  const wrapper = options.element ?? 'ApplyLiveInfoNoitfy';
  const value = options.bareCdata ? (v: string) => `![CDATA[${v}]]` : cdata;
  return (
    '<xml>' +
    el('ToUserName', cdata(event.toUserName)) +
    el('FromUserName', cdata(event.fromUserName)) +
    el('CreateTime', num(event.createTime)) +
    el('MsgType', cdata('event')) +
    el('Event', cdata('wxa_live_apply_event')) +
    el(wrapper, el('appid', value(event.appid)) + el('open_time', value(event.openTime))) +
    '</xml>'
  );
}

export function buildTextMessageXml(message: TextMessagePush): string {
  return (
    '<xml>' +
    el('ToUserName', cdata(message.toUserName)) +
    el('FromUserName', cdata(message.fromUserName)) +
    el('CreateTime', num(message.createTime)) +
    el('MsgType', cdata('text')) +
    el('Content', cdata(message.content)) +
    el('MsgId', num(message.msgId)) +
    '</xml>'
  );
}

function el(name: string, inner: string): string {
  return `<${name}>${inner}</${name}>`;
}

function cdata(value: string): string {
  // `]]>` inside the value would close the section early: split it across two sections.
  return `<![CDATA[${value.replaceAll(']]>', ']]]]><![CDATA[>')}]]>`;
}

function num(value: string): string {
  return /^[0-9]+$/.test(value) ? value : cdata(value);
}
