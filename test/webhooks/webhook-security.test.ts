import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MsgCrypt, msgSignature, plainSignature } from '../../src/wechat/wire/msg-crypt.js';
import { buildAuthXml, buildEnvelope } from '../../src/wechat/wire/push-xml.js';
import { createTenantWithMerchants, randomAppId } from '../support/fixtures.js';
import { createTestEnv, type TestEnv } from '../support/test-env.js';
import { authUrl, eventsUrl, inboxCount, nowSeconds, post, signedPush, startWebhookServer, type TenantKeys, type WebhookServer } from './webhook-harness.js';

let env: TestEnv;
let server: WebhookServer;
let tenantId: string;
let keys: TenantKeys;
let otherKeys: TenantKeys;

beforeAll(async () => {
  env = await createTestEnv();
  server = await startWebhookServer(env);
  const t = await createTenantWithMerchants(env.database.db, env.box, 0);
  tenantId = t.tenant.id;
  keys = t.input;
  otherKeys = (await createTenantWithMerchants(env.database.db, env.box, 0)).input;
});

afterAll(async () => {
  await server?.close();
  await env?.cleanup();
});

function ticketXml(ticket = `ticket@@@${randomUUID()}`): string {
  return buildAuthXml({ kind: 'component_verify_ticket', appId: keys.componentAppId, createTime: nowSeconds(server.clock), ticket });
}

async function seenKeys(): Promise<string[]> {
  return env.redis.keys(`${env.redisPrefix}:{t:${tenantId}}:webhook:seen:*`);
}

/** A refused request leaves no inbox row, no replay mark, and is counted with its reason. */
async function expectRefused(response: { status: number; text: string }, status: number, reason: string): Promise<void> {
  expect(response).toEqual({ status, text: reason });
  expect(server.outcomes.at(-1)).toEqual([status >= 500 ? 'unavailable' : 'rejected', reason]);
  expect(await inboxCount(env.database, tenantId)).toBe(0);
  expect(await seenKeys()).toEqual([]);
}

describe('webhook signatures and ciphertext', () => {
  it('refuses a forged msg_signature with 401 BAD_SIGNATURE', async () => {
    const push = signedPush(keys, ticketXml(), server.clock);
    push.query.set('msg_signature', 'a'.repeat(40));
    await expectRefused(await post(authUrl(server, tenantId), push), 401, 'BAD_SIGNATURE');
  });

  it('refuses a push signed with another tenant’s token and key', async () => {
    const push = signedPush({ ...otherKeys, componentAppId: keys.componentAppId }, ticketXml(), server.clock);
    await expectRefused(await post(authUrl(server, tenantId), push), 401, 'BAD_SIGNATURE');
  });

  it('refuses a push without msg_signature with 401 MISSING_SIGNATURE, even when `signature` is valid', async () => {
    const push = signedPush(keys, ticketXml(), server.clock);
    push.query.delete('msg_signature');
    await expectRefused(await post(authUrl(server, tenantId), push), 401, 'MISSING_SIGNATURE');
  });

  it('refuses tampered ciphertext: the signature no longer matches', async () => {
    const push = signedPush(keys, ticketXml(), server.clock);
    const encrypt = /<Encrypt><!\[CDATA\[(.*)\]\]><\/Encrypt>/.exec(push.body)?.[1] ?? '';
    const tampered = `${encrypt.slice(0, 10)}${encrypt[10] === 'A' ? 'B' : 'A'}${encrypt.slice(11)}`;
    await expectRefused(
      await post(authUrl(server, tenantId), { query: push.query, body: buildEnvelope({ encrypt: tampered, appId: keys.componentAppId }) }),
      401,
      'BAD_SIGNATURE',
    );
  });

  it('refuses tampered ciphertext re-signed by someone holding the token: bad padding is 401 too', async () => {
    const push = signedPush(keys, ticketXml(), server.clock);
    const encrypt = /<Encrypt><!\[CDATA\[(.*)\]\]><\/Encrypt>/.exec(push.body)?.[1] ?? '';
    const bytes = Buffer.from(encrypt, 'base64');
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
    const tampered = bytes.toString('base64');
    const timestamp = push.query.get('timestamp') ?? '';
    const nonce = push.query.get('nonce') ?? '';
    push.query.set('msg_signature', msgSignature(keys.token, timestamp, nonce, tampered));
    const response = await post(authUrl(server, tenantId), { query: push.query, body: buildEnvelope({ encrypt: tampered, appId: keys.componentAppId }) });
    expect(response.status).toBe(401);
    expect(['BAD_PADDING', 'BAD_LENGTH', 'WRONG_APP_ID']).toContain(response.text);
    expect(await inboxCount(env.database, tenantId)).toBe(0);
  });

  it('refuses a push whose plaintext names another app id with 401 WRONG_APP_ID', async () => {
    const push = signedPush(keys, ticketXml(), server.clock, { receiveId: randomAppId() });
    await expectRefused(await post(authUrl(server, tenantId), push), 401, 'WRONG_APP_ID');
  });
});

describe('webhook replay protection', () => {
  it('refuses a timestamp outside the window with 401 STALE_TIMESTAMP', async () => {
    const stale = String(Math.floor(server.clock.now() / 1000) - 301);
    await expectRefused(await post(authUrl(server, tenantId), signedPush(keys, ticketXml(), server.clock, { timestamp: stale })), 401, 'STALE_TIMESTAMP');
    const future = String(Math.floor(server.clock.now() / 1000) + 301);
    await expectRefused(await post(authUrl(server, tenantId), signedPush(keys, ticketXml(), server.clock, { timestamp: future })), 401, 'STALE_TIMESTAMP');
  });

  it('answers a replayed request success without storing or processing it again', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 0);
    const xml = buildAuthXml({ kind: 'component_verify_ticket', appId: t.input.componentAppId, createTime: nowSeconds(server.clock), ticket: 'first' });
    const push = signedPush(t.input, xml, server.clock);
    expect(await post(authUrl(server, t.tenant.id), push)).toEqual({ status: 200, text: 'success' });
    expect(await post(authUrl(server, t.tenant.id), push)).toEqual({ status: 200, text: 'success' });
    expect(server.outcomes.at(-2)).toEqual(['accepted', 'component_verify_ticket']);
    expect(server.outcomes.at(-1)).toEqual(['replayed', 'component_verify_ticket']);
    expect(await inboxCount(env.database, t.tenant.id)).toBe(1);
    // Two marks: the msg_signature tuple, and the `signature` tuple a plaintext-mode replay would use.
    const keysOfTenant = await env.redis.keys(`${env.redisPrefix}:{t:${t.tenant.id}}:webhook:seen:*`);
    expect(keysOfTenant).toHaveLength(2);
    for (const key of keysOfTenant) {
      expect(await env.redis.get(key)).toBe('stored');
      const ttl = await env.redis.pttl(key);
      expect(ttl).toBeGreaterThan(290_000);
      expect(ttl).toBeLessThanOrEqual(300_000);
    }
  });
});

describe('webhook input limits', () => {
  it('refuses a body over 1 MiB with 413', async () => {
    const push = signedPush(keys, ticketXml(), server.clock);
    const response = await post(authUrl(server, tenantId), { query: push.query, body: `${push.body}${' '.repeat(1024 * 1024)}` });
    await expectRefused(response, 413, 'BODY_TOO_LARGE');
  });

  it('refuses a malformed envelope with 400 MALFORMED_XML', async () => {
    const push = signedPush(keys, ticketXml(), server.clock);
    await expectRefused(await post(authUrl(server, tenantId), { query: push.query, body: push.body.replace('</xml>', '') }), 400, 'MALFORMED_XML');
  });

  it('refuses an authentic ciphertext whose message is not well-formed with 400 MALFORMED_XML', async () => {
    const push = signedPush(keys, '<xml><InfoType>component_verify_ticket</InfoType>', server.clock);
    await expectRefused(await post(authUrl(server, tenantId), push), 400, 'MALFORMED_XML');
  });

  it('refuses an entity-expansion attempt before any parsing, in the envelope or inside the ciphertext', async () => {
    const laughs = `<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>`;
    const push = signedPush(keys, ticketXml(), server.clock);
    await expectRefused(
      await post(authUrl(server, tenantId), { query: push.query, body: `${laughs}${push.body.replace('<xml>', '<xml><X>&c;</X>')}` }),
      400,
      'XML_DTD_FORBIDDEN',
    );
    const inner = signedPush(keys, `${laughs}<xml><InfoType>&c;</InfoType></xml>`, server.clock);
    await expectRefused(await post(authUrl(server, tenantId), inner), 400, 'XML_DTD_FORBIDDEN');
  });
});

describe('webhook tenants and URLs', () => {
  it('answers 404 for a tenant that does not exist and for a tenant id that is not a UUID', async () => {
    const push = signedPush(keys, ticketXml(), server.clock);
    expect(await post(authUrl(server, randomUUID()), push)).toEqual({ status: 404, text: 'UNKNOWN_TENANT' });
    expect(await post(authUrl(server, 'not-a-tenant'), push)).toEqual({ status: 404, text: 'UNKNOWN_TENANT' });
    expect(await post(authUrl(server, "1'; drop table tenants; --"), push)).toEqual({ status: 404, text: 'UNKNOWN_TENANT' });
    expect(server.outcomes.at(-1)).toEqual(['rejected', 'UNKNOWN_TENANT']);
  });

  it('answers 404 for an events URL whose app id segment is not an app id', async () => {
    const push = signedPush(keys, ticketXml(), server.clock);
    expect(await post(eventsUrl(server, tenantId, 'x'.repeat(65)), push)).toEqual({ status: 404, text: 'BAD_APP_ID_PATH' });
  });

  it('answers 405 for other methods', async () => {
    const response = await fetch(authUrl(server, tenantId), { method: 'PUT' });
    expect(response.status).toBe(405);
  });
});

describe('URL verification (GET echostr)', () => {
  function echoQuery(echostr: string, signer: { token: string }, encrypted: boolean): URLSearchParams {
    const timestamp = nowSeconds(server.clock);
    const nonce = '1234567';
    const query = new URLSearchParams({ timestamp, nonce, echostr, signature: plainSignature(signer.token, timestamp, nonce) });
    if (encrypted) query.set('msg_signature', msgSignature(signer.token, timestamp, nonce, echostr));
    return query;
  }

  it('answers the decrypted echostr once msg_signature verifies, on both URLs', async () => {
    const crypt = new MsgCrypt({ token: keys.token, encodingAesKey: keys.encodingAesKey, appId: keys.componentAppId });
    const echostr = crypt.encrypt('echo-4711');
    for (const url of [authUrl(server, tenantId), eventsUrl(server, tenantId, randomAppId())]) {
      const response = await fetch(`${url}?${echoQuery(echostr, keys, true).toString()}`);
      expect({ status: response.status, text: await response.text() }).toEqual({ status: 200, text: 'echo-4711' });
    }
    expect(server.outcomes.at(-1)).toEqual(['verified', 'URL_VERIFIED']);
  });

  it('answers a plaintext-mode echostr as sent once `signature` verifies', async () => {
    const response = await fetch(`${authUrl(server, tenantId)}?${echoQuery('plain-echo', keys, false).toString()}`);
    expect({ status: response.status, text: await response.text() }).toEqual({ status: 200, text: 'plain-echo' });
  });

  it('never echoes an echostr whose signature does not verify', async () => {
    const forged = await fetch(`${authUrl(server, tenantId)}?${echoQuery('attacker-text', otherKeys, false).toString()}`);
    expect({ status: forged.status, text: await forged.text() }).toEqual({ status: 401, text: 'BAD_SIGNATURE' });
    const crypt = new MsgCrypt({ token: keys.token, encodingAesKey: keys.encodingAesKey, appId: keys.componentAppId });
    const forgedAes = await fetch(`${authUrl(server, tenantId)}?${echoQuery(crypt.encrypt('x'), otherKeys, true).toString()}`);
    expect({ status: forgedAes.status, text: await forgedAes.text() }).toEqual({ status: 401, text: 'BAD_SIGNATURE' });
    const missing = await fetch(`${authUrl(server, tenantId)}?echostr=abc`);
    expect({ status: missing.status, text: await missing.text() }).toEqual({ status: 401, text: 'MISSING_SIGNATURE' });
  });
});

describe('plaintext mode (no encrypt_type)', () => {
  it('accepts a push whose `signature` verifies and refuses one whose does not', async () => {
    const t = await createTenantWithMerchants(env.database.db, env.box, 0);
    const timestamp = nowSeconds(server.clock);
    const nonce = '99887766';
    const body = buildAuthXml({ kind: 'component_verify_ticket', appId: t.input.componentAppId, createTime: timestamp, ticket: 'plain-ticket' });
    const good = new URLSearchParams({ timestamp, nonce, signature: plainSignature(t.input.token, timestamp, nonce) });
    expect(await post(authUrl(server, t.tenant.id), { query: good, body })).toEqual({ status: 200, text: 'success' });
    const bad = new URLSearchParams({ timestamp, nonce: '1', signature: plainSignature('wrong-token', timestamp, '1') });
    expect(await post(authUrl(server, t.tenant.id), { query: bad, body })).toEqual({ status: 401, text: 'BAD_SIGNATURE' });
    expect(await inboxCount(env.database, t.tenant.id)).toBe(1);
  });
});
