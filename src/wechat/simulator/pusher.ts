import { randomInt } from 'node:crypto';
import { plainSignature } from '../wire/msg-crypt.js';
import { buildAuthXml, buildEnvelope, buildLiveApplyEventXml, buildTextMessageXml } from '../wire/push-xml.js';
import type { SimAuthorizer, SimComponent, SimState } from './state.js';
import type { PushKind, PushRecord } from './types.js';

/** An admin request the simulator cannot honour; answered with `status` and `{error}`. */
export class SimAdminError extends Error {
  override readonly name = 'SimAdminError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Sends encrypted pushes the way WeChat does: the plaintext XML encrypted with the component's
 * key (receive id = component app id, also for authorizer events), wrapped in an envelope, POSTed
 * with timestamp, nonce, encrypt_type=aes, msg_signature and the plain `signature`. One attempt;
 * the receiver's answer is recorded in the counters.
 */
export class SimPusher {
  private readonly timers = new Set<NodeJS.Timeout>();
  /** WeChat's MsgId of the next text message: unique in this simulator's life. */
  private nextMsgId = Date.now() * 1000;

  constructor(
    private readonly state: SimState,
    private readonly timeoutMs = 5000,
  ) {}

  pushTicket(component: SimComponent): Promise<PushRecord> {
    const xml = buildAuthXml({
      kind: 'component_verify_ticket',
      appId: component.componentAppId,
      createTime: this.nowSeconds(),
      ticket: component.ticket,
    });
    return this.send('component_verify_ticket', requireUrl(component.authUrl, 'authUrl'), component, component.componentAppId, xml, {
      appId: component.componentAppId,
    });
  }

  pushAuthorized(component: SimComponent, appId: string, authorizationCode: string): Promise<PushRecord> {
    const createTime = this.nowSeconds();
    const xml = buildAuthXml({
      kind: 'authorized',
      appId: component.componentAppId,
      createTime,
      authorizerAppId: appId,
      authorizationCode,
      authorizationCodeExpiredTime: String(Number(createTime) + 3600),
    });
    return this.send('authorized', requireUrl(component.authUrl, 'authUrl'), component, component.componentAppId, xml, {
      appId: component.componentAppId,
    });
  }

  pushLiveEvent(component: SimComponent, authorizer: SimAuthorizer, openTime?: string): Promise<PushRecord> {
    const template = requireUrl(component.messageUrlTemplate, 'messageUrlTemplate');
    const createTime = this.nowSeconds();
    const xml = buildLiveApplyEventXml({
      toUserName: authorizer.userName,
      // The admin who accepted; distinct per app so receivers de-duplicating by FromUserName +
      // CreateTime never merge two merchants' events of the same second.
      fromUserName: `o_admin_${authorizer.appId}`,
      createTime,
      appid: authorizer.appId,
      openTime: openTime ?? createTime,
    });
    const url = template.replaceAll('$APPID$', authorizer.appId);
    return this.send('wxa_live_apply_event', url, component, authorizer.appId, xml, { toUserName: authorizer.userName });
  }

  /** A customer (`fromUserName`, an openid) writing `content` to the merchant's Mini Program. */
  pushTextMessage(component: SimComponent, authorizer: SimAuthorizer, content: string, fromUserName: string): Promise<PushRecord> {
    const template = requireUrl(component.messageUrlTemplate, 'messageUrlTemplate');
    const xml = buildTextMessageXml({
      toUserName: authorizer.userName,
      fromUserName,
      createTime: this.nowSeconds(),
      content,
      msgId: String(this.nextMsgId++),
    });
    const url = template.replaceAll('$APPID$', authorizer.appId);
    return this.send('text', url, component, authorizer.appId, xml, { toUserName: authorizer.userName });
  }

  /** The merchant's admin accepting in WeChat, `afterMs` (real time) after an accepted apply. */
  scheduleLiveEvent(component: SimComponent, authorizer: SimAuthorizer, afterMs: number): void {
    if (component.messageUrlTemplate === null) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.pushLiveEvent(component, authorizer);
    }, afterMs);
    this.timers.add(timer);
  }

  cancelScheduled(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private nowSeconds(): string {
    return String(Math.floor(this.state.clock.now() / 1000));
  }

  private async send(
    kind: PushKind,
    url: string,
    component: SimComponent,
    appId: string,
    plaintext: string,
    head: { appId: string } | { toUserName: string },
  ): Promise<PushRecord> {
    const timestamp = this.nowSeconds();
    const nonce = String(randomInt(1_000_000_000, 9_999_999_999));
    const { encrypt, msgSignature } = component.crypt.encryptAndSign(plaintext, timestamp, nonce);
    const query = new URLSearchParams({
      signature: plainSignature(component.token, timestamp, nonce),
      timestamp,
      nonce,
      encrypt_type: 'aes',
      msg_signature: msgSignature,
    });
    const target = `${url}${url.includes('?') ? '&' : '?'}${query.toString()}`;
    const record: PushRecord = { kind, url, appId, status: null, body: null, error: null, atMs: this.state.clock.now() };
    try {
      const response = await fetch(target, {
        method: 'POST',
        headers: { 'content-type': 'text/xml' },
        body: buildEnvelope({ encrypt, ...head }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      record.status = response.status;
      record.body = (await response.text()).slice(0, 200);
    } catch (error) {
      record.error = error instanceof Error ? error.message : String(error);
    }
    this.state.counters.push(record);
    return record;
  }
}

function requireUrl(url: string | null, name: string): string {
  if (url === null) throw new SimAdminError(400, `the component has no ${name}`);
  return url;
}
