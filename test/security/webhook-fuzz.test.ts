import { createHash, randomBytes } from 'node:crypto';
import { desc } from 'drizzle-orm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webhookInbox } from '../../src/db/tables.js';
import { MsgCrypt, MsgCryptError, msgSignature, plainSignature } from '../../src/wechat/wire/msg-crypt.js';
import { pushIdentity } from '../../src/webhooks/push-verifier.js';
import { buildEnvelope, buildLiveApplyEventXml } from '../../src/wechat/wire/push-xml.js';
import { parseEnvelope, parseMessage } from '../../src/webhooks/xml/events.js';
import { XmlError } from '../../src/webhooks/xml/parse-xml.js';
import { randomAppId, randomEncodingAesKey } from '../support/fixtures.js';
import { createTestEnv, type TestEnv } from '../support/test-env.js';
import type { TenantKeys } from '../webhooks/webhook-harness.js';
import { watchProcessErrors } from './support/log-capture.js';
import { type Answer, authPath, eventsPath, inboxRowCount, type RealApp, replayMarkCount, startRealApp, ticketXml, wechatPush } from './support/real-app.js';

/**
 * Fuzzing of the webhook's parsing and decryption: in-process (MsgCrypt, parseEnvelope,
 * parseMessage throw only their own errors) and over HTTP against the real app (no input crashes
 * the process, none is answered 5xx, and nothing is stored that WeChat did not sign).
 */

const RUNS_IN_PROCESS = 1000;
const RUNS_OVER_HTTP = 300;

const keys: TenantKeys = { token: `token${randomBytes(4).toString('hex')}`, encodingAesKey: randomEncodingAesKey(), componentAppId: randomAppId() };
const crypt = new MsgCrypt({ token: keys.token, encodingAesKey: keys.encodingAesKey, appId: keys.componentAppId });

/** Pieces of WeChat XML and of the classic XML attacks, to be shuffled into documents. */
const XML_PIECES = [
  '<xml>',
  '</xml>',
  '<',
  '>',
  '</',
  '/>',
  '<![CDATA[',
  ']]>',
  '![CDATA[',
  '&amp;',
  '&lt;',
  '&#0;',
  '&#x110000;',
  '&e;',
  '&',
  '<!DOCTYPE xml [',
  '<!ENTITY e "x">',
  ']>',
  '<?xml version="1.0"?>',
  '<!-- c -->',
  '<InfoType>',
  '</InfoType>',
  'component_verify_ticket',
  'authorized',
  'unauthorized',
  '<AppId>',
  '</AppId>',
  '<CreateTime>',
  '</CreateTime>',
  '<MsgType>event</MsgType>',
  '<Event>wxa_live_apply_event</Event>',
  '<ApplyLiveInfoNoitfy>',
  '</ApplyLiveInfoNoitfy>',
  '<appid>wx0123456789abcdef</appid>',
  '<Encrypt>',
  '</Encrypt>',
  '<__proto__>',
  '</__proto__>',
  '<constructor>x</constructor>',
  '<hasOwnProperty>1</hasOwnProperty>',
  ' a="b"',
  '\u0000',
  '\uFEFF',
  '\uD800',
];

const xmlish = fc
  .array(fc.oneof(fc.constantFrom(...XML_PIECES), fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 6 })), { maxLength: 40 })
  .map((parts) => parts.join(''));

/** A tree of elements with WeChat's tag names (and a few hostile ones), as a well-formed document. */
const elementTree: fc.Arbitrary<string> = fc
  .letrec<{ node: string }>((tie) => ({
    node: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.string({ maxLength: 20 }).map((s) => s.replace(/[<&]/g, '')),
      fc.string({ maxLength: 20 }).map((s) => `<![CDATA[${s.replace(/]]>/g, '')}]]>`),
      fc
        .tuple(
          fc.constantFrom(
            'InfoType',
            'AppId',
            'CreateTime',
            'AuthorizerAppid',
            'ApplyLiveInfoNoitfy',
            'appid',
            'open_time',
            'Event',
            'MsgType',
            '__proto__',
            'constructor',
            'x',
          ),
          fc.array(tie('node'), { maxLength: 4 }),
        )
        .map(([tag, children]) => `<${tag}>${children.join('')}</${tag}>`),
    ),
  }))
  .node.map((inner) => `<xml>${inner}</xml>`);

function genuineMessages(): fc.Arbitrary<string> {
  const seconds = String(Math.floor(Date.now() / 1000));
  return fc.oneof(
    fc.constant(ticketXml(keys.componentAppId)),
    fc.constant(buildLiveApplyEventXml({ toUserName: 'gh_1', fromUserName: 'o', createTime: seconds, appid: 'wx0123456789abcdef', openTime: seconds })),
    elementTree,
    xmlish,
  );
}

/** Runs `fn`; an error must be one of `allowed` (never a TypeError, RangeError or anything else). */
function onlyThrows(fn: () => unknown, ...allowed: (abstract new (...args: never[]) => Error)[]): void {
  try {
    fn();
  } catch (err) {
    if (!allowed.some((type) => err instanceof type)) throw new Error(`threw ${String(err)}`, { cause: err });
  }
}

describe('in process', () => {
  it('MsgCrypt.decrypt throws only MsgCryptError, for any text, any bytes and any mutated ciphertext', () => {
    const valid = crypt.encrypt('<xml><InfoType>x</InfoType></xml>');
    const validBytes = Buffer.from(valid, 'base64');
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.string({ unit: 'binary', maxLength: 100 }),
          fc.uint8Array({ maxLength: 256 }).map((b) => Buffer.from(b).toString('base64')),
          fc
            .integer({ min: 1, max: 8 })
            .chain((blocks) => fc.uint8Array({ minLength: blocks * 32, maxLength: blocks * 32 }).map((b) => Buffer.from(b).toString('base64'))),
          fc.tuple(fc.nat(validBytes.length - 1), fc.integer({ min: 1, max: 255 })).map(([at, xor]) => {
            const bytes = Buffer.from(validBytes);
            bytes[at] = (bytes[at] ?? 0) ^ xor;
            return bytes.toString('base64');
          }),
          fc.tuple(fc.nat(valid.length), fc.string({ maxLength: 4 })).map(([at, text]) => `${valid.slice(0, at)}${text}${valid.slice(at + text.length)}`),
        ),
        (encrypt) => {
          onlyThrows(() => crypt.decrypt(encrypt), MsgCryptError);
          onlyThrows(
            () => crypt.verifyAndDecrypt({ msgSignature: msgSignature(keys.token, '1', '2', encrypt), timestamp: '1', nonce: '2', encrypt }),
            MsgCryptError,
          );
          expect(() => crypt.verifyAndDecrypt({ msgSignature: 'f'.repeat(40), timestamp: '1', nonce: '2', encrypt })).toThrow(MsgCryptError);
        },
      ),
      { numRuns: RUNS_IN_PROCESS },
    );
  });

  it('new MsgCrypt throws only MsgCryptError (BAD_KEY) for any EncodingAESKey and receive id', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 60 }), fc.base64String({ minLength: 40, maxLength: 48 })),
        fc.string({ maxLength: 40 }),
        (encodingAesKey, appId) => {
          onlyThrows(() => new MsgCrypt({ token: 't', encodingAesKey, appId }), MsgCryptError);
        },
      ),
      { numRuns: RUNS_IN_PROCESS },
    );
  });

  it('parseEnvelope and parseMessage throw only XmlError, and what they parse has an identity', () => {
    fc.assert(
      fc.property(fc.oneof(xmlish, elementTree, fc.string({ maxLength: 300 }), genuineMessages()), (xml) => {
        onlyThrows(() => parseEnvelope(xml), XmlError);
        onlyThrows(() => {
          const push = parseMessage(xml);
          const identity = pushIdentity(push, xml, undefined);
          expect(identity.dedupKey.length).toBeGreaterThan(0);
        }, XmlError);
      }),
      { numRuns: RUNS_IN_PROCESS },
    );
  });
});

describe('over HTTP against the real app', () => {
  let env: TestEnv;
  let real: RealApp;
  let tenantId: string;
  /** Every message this test encrypted and signed as WeChat: the only payloads that may be stored. */
  const signedPlaintexts = new Set<string>();
  const processErrors = watchProcessErrors();

  beforeAll(async () => {
    env = await createTestEnv();
    real = await startRealApp(env, { ROLE: 'api', WECHAT_API_BASE: 'http://127.0.0.1:9', LOG_LEVEL: 'warn' });
    tenantId = (await real.tenant(keys)).id;
  });

  afterAll(async () => {
    processErrors.stop();
    await real?.stop();
    await env?.cleanup();
  });

  const inboxRows = () => inboxRowCount(env);
  const replayMarks = () => replayMarkCount(env);

  function send(path: string, query: string, body: string): Promise<Answer> {
    // A request the server never answers fails the property in seconds, not at the test's timeout.
    return real.fetch(`${path}?${query}`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body, signal: AbortSignal.timeout(5000) });
  }

  /**
   * One fuzzed request. Every answer is a documented 2xx/4xx (never 5xx, the server never stops
   * answering); a new inbox row appears only with `success`, and holds a message this test signed.
   * `unsigned` inputs (no valid signature by construction) store nothing and leave no replay mark.
   */
  async function check(path: string, query: string, body: string, unsigned: boolean): Promise<void> {
    const [rows, marks] = [await inboxRows(), await replayMarks()];
    const answer = await send(path, query, body);
    expect([200, 400, 401, 404, 405, 413]).toContain(answer.status);
    const added = (await inboxRows()) - rows;
    if (unsigned) {
      expect(answer.status).not.toBe(200);
      expect(added).toBe(0);
      expect(await replayMarks()).toBe(marks);
    }
    if (added > 0) {
      expect([answer.status, answer.text]).toEqual([200, 'success']);
      const [latest] = await env.database.db
        .select({ payload: webhookInbox.payload, rawBody: webhookInbox.rawBody })
        .from(webhookInbox)
        .orderBy(desc(webhookInbox.id))
        .limit(1);
      // The body as it went over the wire: fetch sends a string as UTF-8, a lone surrogate (which
      // fast-check generates) as U+FFFD.
      const sent = Buffer.from(body, 'utf8').toString('utf8');
      // A push of a type the gateway does not act on keeps only the envelope as it came (issue 18).
      if (latest?.payload === null) expect(latest.rawBody?.toString('utf8')).toBe(sent);
      else expect(signedPlaintexts.has(latest?.payload ?? '') || plaintextModeSigned(query, sent, latest?.payload)).toBe(true);
    }
  }

  /**
   * Plaintext mode (docs/webhooks.md): `signature` covers token, timestamp and nonce, not the body,
   * so a request whose query lost `encrypt_type=aes` (a `#` cuts it short) but kept a valid
   * `signature` is WeChat's by that mode's rule, and its body is stored as sent.
   */
  function plaintextModeSigned(query: string, body: string, payload: string | undefined): boolean {
    const params = new URLSearchParams(query.split('#')[0]);
    const [timestamp, nonce, signature] = [params.get('timestamp'), params.get('nonce'), params.get('signature')];
    if (params.get('encrypt_type') === 'aes' || timestamp === null || nonce === null) return false;
    return signature === plainSignature(keys.token, timestamp, nonce) && payload === body;
  }

  function signed(message: string) {
    signedPlaintexts.add(message);
    return wechatPush(keys, message);
  }

  const mutation = fc.record({
    at: fc.nat(),
    op: fc.constantFrom('replace', 'delete', 'insert', 'duplicate'),
    text: fc.oneof(fc.string({ minLength: 1, maxLength: 4 }), fc.constantFrom(...XML_PIECES)),
  });

  function mutate(text: string, m: { at: number; op: string; text: string }): string {
    const at = text.length === 0 ? 0 : m.at % text.length;
    switch (m.op) {
      case 'replace':
        return `${text.slice(0, at)}${m.text}${text.slice(at + m.text.length)}`;
      case 'delete':
        return `${text.slice(0, at)}${text.slice(at + m.text.length)}`;
      case 'insert':
        return `${text.slice(0, at)}${m.text}${text.slice(at)}`;
      default:
        return `${text.slice(0, at)}${text.slice(at, at + 8).repeat(3)}${text.slice(at + 8)}`;
    }
  }

  it('answers mutated genuine envelopes and query strings safely, storing only what was signed', async () => {
    await fc.assert(
      fc.asyncProperty(genuineMessages(), fc.array(mutation, { minLength: 1, maxLength: 3 }), fc.boolean(), async (message, mutations, inQuery) => {
        const push = signed(message);
        let body = push.body;
        let query = push.query.toString();
        for (const m of mutations) {
          if (inQuery) query = mutate(query, m);
          else body = mutate(body, m);
        }
        await check(authPath(tenantId), query, body, false);
      }),
      { numRuns: RUNS_OVER_HTTP },
    );
  });

  it('answers random bytes in Encrypt, signed by the token holder or not, without storing anything', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('base64')),
          fc.integer({ min: 1, max: 10 }).chain((n) => fc.uint8Array({ minLength: n * 32, maxLength: n * 32 }).map((b) => Buffer.from(b).toString('base64'))),
          fc.string({ maxLength: 100 }).map((s) => s.replace(/]]>/g, '')),
        ),
        fc.boolean(),
        async (encrypt, signedByToken) => {
          const timestamp = String(Math.floor(Date.now() / 1000));
          const nonce = String(randomBytes(4).readUInt32BE());
          const signature = signedByToken ? msgSignature(keys.token, timestamp, nonce, encrypt) : createHash('sha1').update(encrypt).digest('hex');
          const query = new URLSearchParams({
            timestamp,
            nonce,
            encrypt_type: 'aes',
            msg_signature: signature,
            signature: plainSignature(keys.token, timestamp, nonce),
          });
          await check(authPath(tenantId), query.toString(), buildEnvelope({ encrypt, appId: keys.componentAppId }), true);
        },
      ),
      { numRuns: RUNS_OVER_HTTP },
    );
  });

  /** A path segment: any text percent-encoded, or percent-encoding that does not decode. */
  const segment = fc.oneof(
    fc.string({ minLength: 1, maxLength: 70 }).map((text) => encodeURIComponent(text)),
    fc.constantFrom('%', '%zz', '%E0%A4%A', '%C0%AE', '%FF', '%00', 'wx0123456789abcdef'),
  );

  it('answers random query strings and paths without storing anything', async () => {
    const names = fc.constantFrom('timestamp', 'nonce', 'encrypt_type', 'msg_signature', 'signature', 'echostr', 'openid', '__proto__', '');
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.oneof(names, fc.string({ maxLength: 8 })), fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('aes', '0', '-1', 'NaN'))), {
          maxLength: 8,
        }),
        fc.oneof(fc.string({ maxLength: 300 }), fc.constantFrom('%', '%zz', '&&&', '==', '%E0%A4%A')),
        fc.oneof(fc.constant('auth'), segment),
        fc.oneof(fc.constant('own'), segment),
        async (pairs, raw, appIdSegment, tenantSegment) => {
          const query = `${new URLSearchParams(pairs).toString()}&${raw}`;
          // Never signed: the signatures in it are random; the body is a genuine-looking envelope.
          const body = buildEnvelope({ encrypt: crypt.encrypt(ticketXml(keys.componentAppId)), appId: keys.componentAppId });
          const tenant = tenantSegment === 'own' ? tenantId : tenantSegment;
          const path = appIdSegment === 'auth' ? authPath(tenant) : eventsPath(tenant, appIdSegment);
          await check(path, query, body, true);
        },
      ),
      { numRuns: RUNS_OVER_HTTP },
    );
  });

  it('answers random XML bodies under a forged signature without storing anything', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(xmlish, elementTree), fc.boolean(), async (xml, encrypted) => {
        const timestamp = String(Math.floor(Date.now() / 1000));
        const nonce = String(randomBytes(4).readUInt32BE());
        const query = new URLSearchParams({
          timestamp,
          nonce,
          signature: 'e'.repeat(40),
          ...(encrypted ? { encrypt_type: 'aes', msg_signature: 'e'.repeat(40) } : {}),
        });
        await check(authPath(tenantId), query.toString(), xml, true);
      }),
      { numRuns: RUNS_OVER_HTTP },
    );
  });

  it('kept answering, with no unhandled rejection or uncaught exception', async () => {
    expect((await real.fetch('/healthz')).status).toBe(200);
    const fresh = signed(ticketXml(keys.componentAppId));
    expect(await send(authPath(tenantId), fresh.query.toString(), fresh.body)).toMatchObject({ status: 200, text: 'success' });
    expect(processErrors.errors).toEqual([]);
  });
});
