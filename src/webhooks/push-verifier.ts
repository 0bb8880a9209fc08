import { createHash } from 'node:crypto';
import { MsgCryptError } from '../wechat/wire/msg-crypt.js';
import type { PushCrypt } from './rotating-crypt.js';
import type { SignedTuple } from './replay-guard.js';
import { cryptRejection, WebhookRejection, xmlRejection } from './webhook-outcome.js';
import { dedupKey, parseEnvelope, parseMessage, type WechatPush } from './xml/events.js';
import { XmlError } from './xml/parse-xml.js';

/** The query string as WeChat sends it; any of it may be missing from a forged request. */
export interface WebhookQuery {
  timestamp: string | undefined;
  nonce: string | undefined;
  encryptType: string | undefined;
  msgSignature: string | undefined;
  signature: string | undefined;
  echostr: string | undefined;
}

export function readQuery(params: URLSearchParams): WebhookQuery {
  const get = (name: string) => params.get(name) ?? undefined;
  return {
    timestamp: get('timestamp'),
    nonce: get('nonce'),
    encryptType: get('encrypt_type'),
    msgSignature: get('msg_signature'),
    signature: get('signature'),
    echostr: get('echostr'),
  };
}

export interface VerifyOptions {
  /** Accept pushes without encrypt_type=aes, checked by the plain `signature` (see docs/webhooks.md). */
  acceptPlaintext: boolean;
  isFresh(timestamp: string): boolean;
}

export interface VerifiedPush {
  mode: 'aes' | 'plain';
  /** The decrypted (or plaintext-mode) message XML. */
  plaintext: string;
  push: WechatPush;
  tuple: SignedTuple;
  /**
   * aes mode: the query's `signature` tuple, when it verifies. It does not cover the body, so the
   * same query without `encrypt_type` would pass plaintext mode with any body: it is marked seen too.
   */
  plainTuple?: SignedTuple;
}

/**
 * Everything that decides whether a POST is WeChat's, without I/O: signature, then freshness,
 * then decryption (receive id included), then the message. Throws WebhookRejection.
 */
export function verifyPush(crypt: PushCrypt, query: WebhookQuery, body: string, options: VerifyOptions): VerifiedPush {
  const { timestamp, nonce } = query;
  if (query.encryptType === 'aes') {
    if (timestamp === undefined || nonce === undefined || query.msgSignature === undefined) {
      throw new WebhookRejection('MISSING_SIGNATURE', 'encrypted push without timestamp, nonce and msg_signature');
    }
    const envelope = guardXml(() => parseEnvelope(body));
    const tuple = { timestamp, nonce, signature: query.msgSignature };
    const plaintext = guardCrypt(() => crypt.verifyAndDecrypt({ msgSignature: tuple.signature, timestamp, nonce, encrypt: envelope.encrypt }));
    assertFresh(timestamp, options);
    const push = guardXml(() => parseMessage(plaintext));
    const signature = query.signature;
    if (signature === undefined || !crypt.verifyPlainSignature(signature, timestamp, nonce)) return { mode: 'aes', plaintext, push, tuple };
    return { mode: 'aes', plaintext, push, tuple, plainTuple: { timestamp, nonce, signature } };
  }
  if (!options.acceptPlaintext) throw new WebhookRejection('PLAINTEXT_DISABLED', `encrypt_type=${query.encryptType ?? '(absent)'}`);
  if (timestamp === undefined || nonce === undefined || query.signature === undefined) {
    throw new WebhookRejection('MISSING_SIGNATURE', 'plaintext push without timestamp, nonce and signature');
  }
  if (!crypt.verifyPlainSignature(query.signature, timestamp, nonce)) throw new WebhookRejection('BAD_SIGNATURE', 'signature does not match');
  assertFresh(timestamp, options);
  return { mode: 'plain', plaintext: body, push: guardXml(() => parseMessage(body)), tuple: { timestamp, nonce, signature: query.signature } };
}

/**
 * The GET URL check: the encrypted echostr (msg_signature) is answered decrypted; the plaintext
 * form (signature only) is answered as sent. Nothing is echoed before its signature verifies.
 */
export function verifyEchostr(crypt: PushCrypt, query: WebhookQuery, options: VerifyOptions): string {
  const { timestamp, nonce, echostr } = query;
  if (timestamp === undefined || nonce === undefined || (query.msgSignature === undefined && query.signature === undefined)) {
    throw new WebhookRejection('MISSING_SIGNATURE', 'URL check without timestamp, nonce and a signature');
  }
  if (echostr === undefined || echostr === '') throw new WebhookRejection('MISSING_ECHOSTR', 'URL check without echostr');
  if (query.msgSignature !== undefined) {
    const msgSignature = query.msgSignature;
    const plain = guardCrypt(() => crypt.verifyEchostr({ msgSignature, timestamp, nonce, echostr }));
    assertFresh(timestamp, options);
    return plain;
  }
  if (!options.acceptPlaintext) throw new WebhookRejection('PLAINTEXT_DISABLED', 'URL check without msg_signature');
  if (!crypt.verifyPlainSignature(query.signature ?? '', timestamp, nonce)) throw new WebhookRejection('BAD_SIGNATURE', 'signature does not match');
  assertFresh(timestamp, options);
  return echostr;
}

/** What the inbox records about a push: its event type, merchant and de-duplication key. */
export interface PushIdentity {
  eventType: string;
  appId: string | null;
  dedupKey: string;
}

/**
 * `pathAppId` is the `$APPID$` of the message URL: not signed, so only used where the push itself
 * names no merchant. Authorizer events are keyed per merchant too: FromUserName + CreateTime alone
 * could join two merchants' system events of the same second.
 */
export function pushIdentity(push: WechatPush, plaintext: string, pathAppId: string | undefined): PushIdentity {
  switch (push.kind) {
    case 'component_verify_ticket':
      return { eventType: push.kind, appId: null, dedupKey: dedupKey(push) };
    case 'authorized':
    case 'updateauthorized':
    case 'unauthorized':
      return { eventType: push.kind, appId: push.authorizerAppId, dedupKey: dedupKey(push) };
    case 'wxa_live_apply_event':
      return { eventType: push.kind, appId: push.appid, dedupKey: `${dedupKey(push)}:${push.appid}` };
    case 'unknown': {
      const eventType = (push.infoType ?? push.event ?? push.msgType ?? 'unknown').slice(0, 64);
      const base = dedupKey(push);
      const key =
        base === undefined
          ? `sha256:${createHash('sha256').update(plaintext).digest('hex')}`
          : push.infoType === undefined && push.toUserName !== undefined
            ? `${base}:${push.toUserName}`
            : base;
      return { eventType, appId: push.authorizerAppId ?? pathAppId ?? null, dedupKey: key };
    }
  }
}

function assertFresh(timestamp: string, options: VerifyOptions): void {
  if (!options.isFresh(timestamp)) throw new WebhookRejection('STALE_TIMESTAMP', `timestamp ${timestamp.slice(0, 20)} is outside the replay window`);
}

function guardCrypt<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof MsgCryptError) throw cryptRejection(err.code, err.message);
    throw err;
  }
}

function guardXml<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof XmlError) throw xmlRejection(err.code, err.message);
    throw err;
  }
}
