import { randomBytes, randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { connect } from 'node:net';
import { and, count, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveApplicationEvents, liveApplications, webhookInbox } from '../../src/db/tables.js';
import { systemContext } from '../../src/services/context.js';
import { MsgCrypt, msgSignature } from '../../src/wechat/wire/msg-crypt.js';
import { buildEnvelope, buildLiveApplyEventXml } from '../../src/wechat/wire/push-xml.js';
import { randomAppId } from '../support/fixtures.js';
import { createTestEnv, type TestEnv } from '../support/test-env.js';
import type { SignedPush, TenantKeys } from '../webhooks/webhook-harness.js';
import { watchProcessErrors } from './support/log-capture.js';
import {
  type Answer,
  authPath,
  eventsPath,
  inboxRowCount,
  postPush,
  type RealApp,
  replayMarkCount,
  startRealApp,
  ticketXml,
  wechatPush,
} from './support/real-app.js';

let env: TestEnv;
let real: RealApp;
let a: Awaited<ReturnType<RealApp['tenant']>>;
let b: Awaited<ReturnType<RealApp['tenant']>>;
const processErrors = watchProcessErrors();

beforeAll(async () => {
  env = await createTestEnv();
  // API role only, WeChat unreachable: nothing here may depend on a worker or on WeChat.
  // Plaintext mode on, so the replay rules that guard it are exercised; the default refuses it (below).
  real = await startRealApp(env, { ROLE: 'api', WECHAT_API_BASE: 'http://127.0.0.1:9', WEBHOOK_ACCEPT_PLAINTEXT: 'true' });
  a = await real.tenant();
  b = await real.tenant();
});

afterAll(async () => {
  processErrors.stop();
  await real?.stop();
  await env?.cleanup();
});

const inboxRows = () => inboxRowCount(env);
const replayMarks = () => replayMarkCount(env);

/** A refused request: its documented status and reason, and nothing stored or marked anywhere. */
async function expectRefused(send: () => Promise<Answer>, status: number | number[], reason: string | RegExp): Promise<void> {
  const [rows, marks] = [await inboxRows(), await replayMarks()];
  const answer = await send();
  expect(typeof status === 'number' ? [status] : status).toContain(answer.status);
  if (typeof reason === 'string') expect(answer.text).toBe(reason);
  else expect(answer.text).toMatch(reason);
  expect(await inboxRows()).toBe(rows);
  expect(await replayMarks()).toBe(marks);
}

function encryptOf(push: SignedPush): string {
  return /<Encrypt><!\[CDATA\[(.*)\]\]><\/Encrypt>/.exec(push.body)?.[1] ?? '';
}

/** Re-signs a query for `encrypt` as someone holding `keys.token` would. */
function resign(push: SignedPush, keys: TenantKeys, encrypt: string): URLSearchParams {
  const query = new URLSearchParams(push.query);
  query.set('msg_signature', msgSignature(keys.token, query.get('timestamp') ?? '', query.get('nonce') ?? '', encrypt));
  return query;
}

const LAUGHS =
  '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">' +
  '<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">' +
  '<!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;"><!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;"><!ENTITY i "&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;">]>';

describe('forged signatures', () => {
  it('refuses a made-up msg_signature, one of another tenant, and one over other parameters (401 BAD_SIGNATURE)', async () => {
    const push = wechatPush(a.keys, ticketXml(a.keys.componentAppId));
    const forged = new URLSearchParams(push.query);
    forged.set('msg_signature', randomBytes(20).toString('hex'));
    await expectRefused(() => postPush(real, authPath(a.id), { query: forged, body: push.body }), 401, 'BAD_SIGNATURE');

    const byB = wechatPush({ ...b.keys, componentAppId: a.keys.componentAppId }, ticketXml(a.keys.componentAppId));
    await expectRefused(() => postPush(real, authPath(a.id), byB), 401, 'BAD_SIGNATURE');

    for (const [name, value] of [
      ['nonce', '1'],
      ['timestamp', String(Number(push.query.get('timestamp')) - 1)],
    ] as const) {
      const moved = new URLSearchParams(push.query);
      moved.set(name, value);
      await expectRefused(() => postPush(real, authPath(a.id), { query: moved, body: push.body }), 401, 'BAD_SIGNATURE');
    }
    for (const signature of ['', 'x', (push.query.get('msg_signature') ?? '').toUpperCase(), `${push.query.get('msg_signature')}0`, 'f'.repeat(8000)]) {
      const odd = new URLSearchParams(push.query);
      odd.set('msg_signature', signature);
      await expectRefused(() => postPush(real, authPath(a.id), { query: odd, body: push.body }), 401, 'BAD_SIGNATURE');
    }
  });

  it('refuses a tampered Encrypt under the original signature (401 BAD_SIGNATURE)', async () => {
    const push = wechatPush(a.keys, ticketXml(a.keys.componentAppId));
    const encrypt = encryptOf(push);
    const tampered = `${encrypt.slice(0, 20)}${encrypt[20] === 'A' ? 'B' : 'A'}${encrypt.slice(21)}`;
    await expectRefused(
      () => postPush(real, authPath(a.id), { query: push.query, body: buildEnvelope({ encrypt: tampered, appId: a.keys.componentAppId }) }),
      401,
      'BAD_SIGNATURE',
    );
  });

  it('refuses ciphertext re-signed by a token holder that does not open: 401 BAD_CIPHERTEXT / BAD_PADDING / BAD_LENGTH', async () => {
    const push = wechatPush(a.keys, ticketXml(a.keys.componentAppId));
    const bytes = Buffer.from(encryptOf(push), 'base64');
    const cases: [string, RegExp][] = [
      ['not base64 !!', /^BAD_CIPHERTEXT$/],
      [bytes.subarray(0, 31).toString('base64'), /^BAD_CIPHERTEXT$/],
      [Buffer.alloc(0).toString('base64'), /^(BAD_CIPHERTEXT|MALFORMED_XML)$/],
      [randomBytes(64).toString('base64'), /^(BAD_PADDING|BAD_LENGTH|WRONG_APP_ID)$/],
      [Buffer.concat([bytes.subarray(0, bytes.length - 32), randomBytes(32)]).toString('base64'), /^(BAD_PADDING|BAD_LENGTH|WRONG_APP_ID)$/],
    ];
    for (const [encrypt, reason] of cases) {
      const body = buildEnvelope({ encrypt, appId: a.keys.componentAppId });
      const status = encrypt === '' ? /^(400|401)$/ : /^401$/;
      const [rows, marks] = [await inboxRows(), await replayMarks()];
      const answer = await postPush(real, authPath(a.id), { query: resign(push, a.keys, encrypt), body });
      expect(String(answer.status)).toMatch(status);
      expect(answer.text).toMatch(reason);
      expect([await inboxRows(), await replayMarks()]).toEqual([rows, marks]);
    }
  });

  it('refuses an envelope with two Encrypt elements (400 MALFORMED_XML)', async () => {
    const push = wechatPush(a.keys, ticketXml(a.keys.componentAppId));
    const body = push.body.replace('</xml>', `<Encrypt><![CDATA[${encryptOf(push)}]]></Encrypt></xml>`);
    await expectRefused(() => postPush(real, authPath(a.id), { query: push.query, body }), 400, 'MALFORMED_XML');
  });
});

describe('replayed pushes', () => {
  async function openedMerchant(): Promise<{ appId: string; push: SignedPush; path: string }> {
    const appId = randomAppId();
    await real.app.services.authorizers.import(systemContext(a.id), [{ appId, refreshToken: `refresh-${appId}`, permissionSets: [52] }]);
    const applied = await real.app.services.lifecycle.apply(systemContext(a.id), { appId });
    expect(applied.application?.status).toBe('QUEUED');
    const xml = buildLiveApplyEventXml({
      toUserName: `gh_${appId.slice(2, 14)}`,
      fromUserName: 'o-wechat',
      createTime: String(Math.floor(Date.now() / 1000)),
      appid: appId,
      openTime: String(Math.floor(Date.now() / 1000)),
    });
    return { appId, push: wechatPush(a.keys, xml, { head: { toUserName: `gh_${appId.slice(2, 14)}` } }), path: eventsPath(a.id, appId) };
  }

  /** How often the open event took effect: each processing records an OPENED transition. */
  async function openedTransitions(appId: string): Promise<number> {
    const [row] = await env.database.db
      .select({ n: count() })
      .from(liveApplicationEvents)
      .innerJoin(liveApplications, eq(liveApplications.id, liveApplicationEvents.applicationId))
      .where(and(eq(liveApplications.tenantId, a.id), eq(liveApplications.appId, appId), eq(liveApplicationEvents.status, 'OPENED')));
    return row?.n ?? 0;
  }

  async function inboxOf(appId: string) {
    return env.database.db
      .select()
      .from(webhookInbox)
      .where(and(eq(webhookInbox.tenantId, a.id), eq(webhookInbox.appId, appId)));
  }

  it('answers a replay success, stores nothing more and processes it zero times', async () => {
    const { appId, push, path } = await openedMerchant();
    expect(await postPush(real, path, push)).toMatchObject({ status: 200, text: 'success' });
    await real.app.webhooks?.drain();
    expect(await openedTransitions(appId)).toBe(1);
    for (let i = 0; i < 3; i++) expect(await postPush(real, path, push)).toMatchObject({ status: 200, text: 'success' });
    await real.app.webhooks?.drain();
    const rows = await inboxOf(appId);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ attempts: 1, lastError: null });
    expect(rows[0]?.processedAt).not.toBeNull();
    expect(await openedTransitions(appId)).toBe(1);
    const replayed = (await real.app.metrics.webhookPushes.get()).values.find((v) => v.labels.outcome === 'replayed');
    expect(replayed?.value).toBeGreaterThanOrEqual(3);
  });

  it('stores and processes 20 simultaneous copies of one push once', async () => {
    const { appId, push, path } = await openedMerchant();
    const answers = await Promise.all(Array.from({ length: 20 }, () => postPush(real, path, push)));
    expect(answers.map((r) => `${r.status} ${r.text}`)).toEqual(Array(20).fill('200 success'));
    await real.app.webhooks?.drain();
    expect(await inboxOf(appId)).toHaveLength(1);
    expect(await openedTransitions(appId)).toBe(1);
  });

  it('keeps a redelivery (same message, new nonce and timestamp) to one row, processed once', async () => {
    const { appId, push, path } = await openedMerchant();
    const plaintext = new MsgCrypt({ token: a.keys.token, encodingAesKey: a.keys.encodingAesKey, appId: a.keys.componentAppId }).decrypt(encryptOf(push));
    expect(await postPush(real, path, push)).toMatchObject({ status: 200, text: 'success' });
    const again = wechatPush(a.keys, plaintext, { head: { toUserName: `gh_${appId.slice(2, 14)}` }, nonce: 'another-nonce' });
    expect(await postPush(real, path, again)).toMatchObject({ status: 200, text: 'success' });
    await real.app.webhooks?.drain();
    expect(await inboxOf(appId)).toHaveLength(1);
    expect(await openedTransitions(appId)).toBe(1);
  });

  it('refuses a captured push replayed after the window (401 STALE_TIMESTAMP)', async () => {
    const stale = String(Math.floor(Date.now() / 1000) - 301);
    await expectRefused(
      () => postPush(real, authPath(a.id), wechatPush(a.keys, ticketXml(a.keys.componentAppId), { timestamp: stale })),
      401,
      'STALE_TIMESTAMP',
    );
  });

  it("does not let a captured encrypted push's query string be downgraded to plaintext mode with another body", async () => {
    const appId = randomAppId();
    await real.app.services.authorizers.import(systemContext(a.id), [{ appId, refreshToken: 'r', permissionSets: [52] }]);
    const genuine = wechatPush(a.keys, ticketXml(a.keys.componentAppId, 'genuine-ticket'));
    expect(await postPush(real, authPath(a.id), genuine)).toMatchObject({ status: 200, text: 'success' });
    await real.app.webhooks?.drain();
    const rows = await inboxRows();
    // WeChat signs every encrypted push twice: msg_signature (over Encrypt) and signature (without it).
    const forgedBody = `<xml><AppId>${a.keys.componentAppId}</AppId><CreateTime>1</CreateTime><InfoType>unauthorized</InfoType><AuthorizerAppid>${appId}</AuthorizerAppid></xml>`;
    for (const mode of [null, 'AES', 'raw']) {
      const query = new URLSearchParams(genuine.query);
      query.delete('msg_signature');
      if (mode === null) query.delete('encrypt_type');
      else query.set('encrypt_type', mode);
      const answer = await real.fetch(`${authPath(a.id)}?${query}`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body: forgedBody });
      expect([answer.status, answer.text]).toEqual([200, 'success']);
      await real.app.webhooks?.drain();
      expect(await inboxRows()).toBe(rows);
    }
    expect((await real.app.services.authorizers.get(systemContext(a.id), appId))?.status).toBe('AUTHORIZED');
    const replayed = (await real.app.metrics.webhookPushes.get()).values.find((v) => v.labels.outcome === 'replayed' && v.labels.reason === 'unauthorized');
    expect(replayed?.value).toBe(3);
  });

  it('does not let a captured plaintext-mode query string carry another body', async () => {
    const t = await real.tenant();
    const timestamp = String(Math.floor(Date.now() / 1000));
    const query = new URLSearchParams({ timestamp, nonce: '424242', signature: '' });
    query.set('signature', (await import('../../src/wechat/wire/msg-crypt.js')).plainSignature(t.keys.token, timestamp, '424242'));
    const genuine = ticketXml(t.keys.componentAppId, 'genuine-ticket');
    expect(await real.fetch(`${authPath(t.id)}?${query}`, { method: 'POST', body: genuine })).toMatchObject({ status: 200, text: 'success' });
    const swapped = ticketXml(t.keys.componentAppId, 'attacker-ticket');
    expect(await real.fetch(`${authPath(t.id)}?${query}`, { method: 'POST', body: swapped })).toMatchObject({ status: 200, text: 'success' });
    await real.app.webhooks?.drain();
    const rows = await env.database.db.select().from(webhookInbox).where(eq(webhookInbox.tenantId, t.id));
    expect(rows.map((r) => r.payload)).toEqual([genuine]);
  });
});

describe('plaintext mode by default', () => {
  it('refuses an unencrypted push (401 PLAINTEXT_DISABLED) and stores nothing', async () => {
    const strict = await startRealApp(env, { ROLE: 'api', WECHAT_API_BASE: 'http://127.0.0.1:9' });
    try {
      const t = await strict.tenant();
      const timestamp = String(Math.floor(Date.now() / 1000));
      const { plainSignature } = await import('../../src/wechat/wire/msg-crypt.js');
      const query = new URLSearchParams({ timestamp, nonce: '777', signature: plainSignature(t.keys.token, timestamp, '777') });
      const answer = await strict.fetch(`${authPath(t.id)}?${query}`, { method: 'POST', body: ticketXml(t.keys.componentAppId, 'plain-ticket') });
      expect([answer.status, answer.text]).toEqual([401, 'PLAINTEXT_DISABLED']);
      const rows = await env.database.db.select().from(webhookInbox).where(eq(webhookInbox.tenantId, t.id));
      expect(rows).toEqual([]);
    } finally {
      await strict.stop();
    }
  });
});

describe('wrong tenant and wrong app id', () => {
  it("refuses tenant A's push sent to tenant B's URLs (401 BAD_SIGNATURE), storing nothing for either", async () => {
    const push = wechatPush(a.keys, ticketXml(a.keys.componentAppId));
    await expectRefused(() => postPush(real, authPath(b.id), push), 401, 'BAD_SIGNATURE');
    await expectRefused(() => postPush(real, eventsPath(b.id, randomAppId()), push), 401, 'BAD_SIGNATURE');
    // Even when B's URL is given B's component id in the envelope head.
    const headed = { query: push.query, body: buildEnvelope({ encrypt: encryptOf(push), appId: b.keys.componentAppId }) };
    await expectRefused(() => postPush(real, authPath(b.id), headed), 401, 'BAD_SIGNATURE');
  });

  it('answers 404 UNKNOWN_TENANT for ids of no tenant, whatever the encryption', async () => {
    const push = wechatPush(a.keys, ticketXml(a.keys.componentAppId));
    for (const id of [randomUUID(), a.id.replace(/^./, a.id[0] === '0' ? '1' : '0'), 'not-a-uuid', `${a.id}x`, `${a.id}%00`, "1' or '1'='1"]) {
      await expectRefused(() => postPush(real, authPath(encodeURIComponent(id)), push), 404, 'UNKNOWN_TENANT');
    }
  });

  it('refuses a ciphertext whose receive id is not the tenant’s component app id (401 WRONG_APP_ID)', async () => {
    for (const receiveId of [
      randomAppId(),
      b.keys.componentAppId,
      `${a.keys.componentAppId}x`,
      a.keys.componentAppId.slice(0, -1),
      '',
      a.keys.componentAppId.toUpperCase(),
    ]) {
      await expectRefused(() => postPush(real, authPath(a.id), wechatPush(a.keys, ticketXml(a.keys.componentAppId), { receiveId })), 401, 'WRONG_APP_ID');
    }
  });

  it("applies a live event naming tenant B's merchant to tenant A only", async () => {
    const appId = randomAppId();
    await real.app.services.authorizers.import(systemContext(b.id), [{ appId, refreshToken: 'r', permissionSets: [52] }]);
    const applied = await real.app.services.lifecycle.apply(systemContext(b.id), { appId });
    const xml = buildLiveApplyEventXml({
      toUserName: 'gh_x',
      fromUserName: 'o',
      createTime: String(Math.floor(Date.now() / 1000)),
      appid: appId,
      openTime: '1',
    });
    expect(await postPush(real, eventsPath(a.id, appId), wechatPush(a.keys, xml, { head: { toUserName: 'gh_x' } }))).toMatchObject({ status: 200 });
    await real.app.webhooks?.drain();
    const ofB = await real.app.services.applications.get(systemContext(b.id), applied.application?.id ?? '');
    expect(ofB?.status).toBe('QUEUED');
    expect((await real.app.services.authorizers.get(systemContext(b.id), appId))?.liveOpen).toBe(false);
  });
});

describe('XML entity expansion', () => {
  it('refuses a billion-laughs DTD in the envelope before parsing it (400 XML_DTD_FORBIDDEN)', async () => {
    const push = wechatPush(a.keys, ticketXml(a.keys.componentAppId));
    await expectRefused(
      () => postPush(real, authPath(a.id), { query: push.query, body: `${LAUGHS}${push.body.replace('<xml>', '<xml><Bomb>&i;</Bomb>')}` }),
      400,
      'XML_DTD_FORBIDDEN',
    );
  });

  it('refuses a billion-laughs DTD inside a correctly signed and encrypted message (400 XML_DTD_FORBIDDEN)', async () => {
    const push = wechatPush(a.keys, `${LAUGHS}<xml><InfoType>component_verify_ticket</InfoType><ComponentVerifyTicket>&i;</ComponentVerifyTicket></xml>`);
    await expectRefused(() => postPush(real, authPath(a.id), push), 400, 'XML_DTD_FORBIDDEN');
  });

  it('refuses external entities and DTDs in any spelling, outside and inside the ciphertext', async () => {
    const dtds = [
      '<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
      '<!doctype xml [<!entity xxe SYSTEM "http://127.0.0.1:9/">]>',
      '<!DOCTYPE xml SYSTEM "http://127.0.0.1:9/evil.dtd">',
      '<!DOCTYPE xml [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p.dtd"> %p;]>',
    ];
    for (const dtd of dtds) {
      const push = wechatPush(a.keys, ticketXml(a.keys.componentAppId));
      await expectRefused(() => postPush(real, authPath(a.id), { query: push.query, body: `${dtd}${push.body}` }), 400, 'XML_DTD_FORBIDDEN');
      const inner = wechatPush(a.keys, `${dtd}<xml><InfoType>component_verify_ticket</InfoType><ComponentVerifyTicket>&xxe;</ComponentVerifyTicket></xml>`);
      await expectRefused(() => postPush(real, authPath(a.id), inner), 400, 'XML_DTD_FORBIDDEN');
    }
  });

  // No timing is asserted (the machine's load decides it); an entity expansion or a recursive
  // parse would show as a timeout of the whole test, and the answers say nothing was taken in.
  it('refuses deeply nested and undeclared-entity envelopes, expanding nothing and storing nothing unsigned', async () => {
    const push = wechatPush(a.keys, ticketXml(a.keys.componentAppId));
    const forged = new URLSearchParams(push.query);
    forged.set('msg_signature', '0'.repeat(40));
    const deep = `<xml>${'<a>'.repeat(100_000)}${'</a>'.repeat(100_000)}${push.body.slice(5)}`;
    const unclosed = `<xml>${'<a>'.repeat(200_000)}`;
    const undeclared = push.body.replace('<xml>', '<xml><X>&undeclared;&#0;&#xFFFFFFFF;</X>');
    for (const body of [deep, unclosed, undeclared]) {
      await expectRefused(() => postPush(real, authPath(a.id), { query: forged, body }), [400, 401], /^(MALFORMED_XML|BAD_SIGNATURE)$/);
    }
  });
});

/** POSTs `bytes` of body in chunks without a Content-Length; resolves with the status the server answered. */
function postChunked(path: string, query: URLSearchParams, bytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${real.url}${path}?${query}`, { method: 'POST', headers: { 'content-type': 'text/xml', 'transfer-encoding': 'chunked' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    // The server answers and closes mid-upload: the write errors that follow are expected.
    req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let sent = 0;
    const pump = () => {
      while (sent < bytes) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

describe('oversized bodies', () => {
  it('answers 413 BODY_TOO_LARGE to a declared length over 1 MiB and stores nothing', async () => {
    const push = wechatPush(a.keys, ticketXml(a.keys.componentAppId));
    await expectRefused(
      () => postPush(real, authPath(a.id), { query: push.query, body: push.body.replace('</xml>', `<Pad>${'x'.repeat(1024 * 1024)}</Pad></xml>`) }),
      413,
      'BODY_TOO_LARGE',
    );
  });

  it('answers 413 to a chunked body that grows past 1 MiB, and keeps answering', async () => {
    const push = wechatPush(a.keys, ticketXml(a.keys.componentAppId));
    const [rows, marks] = [await inboxRows(), await replayMarks()];
    expect(await postChunked(authPath(a.id), push.query, 4 * 1024 * 1024)).toBe(413);
    expect([await inboxRows(), await replayMarks()]).toEqual([rows, marks]);
    expect((await real.fetch('/healthz')).status).toBe(200);
  });
});

/** Sends one raw request line (and nothing else of HTTP's politeness); resolves with the status line. */
function rawRequest(line: string, body = ''): Promise<string> {
  const { port, hostname } = new URL(real.url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname, () =>
      socket.write(`${line}\r\nHost: x\r\nConnection: close\r\nContent-Type: text/xml\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`),
    );
    let out = '';
    socket.on('data', (d) => (out += String(d)));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(out.split('\r\n')[0] ?? ''));
    setTimeout(() => socket.destroy(), 3000);
  });
}

describe('garbage query strings and URLs', () => {
  it('refuses garbage query strings with a documented 4xx and stores nothing', async () => {
    const push = wechatPush(a.keys, ticketXml(a.keys.componentAppId));
    const valid = push.query.toString();
    const documented = /^(MISSING_SIGNATURE|BAD_SIGNATURE|STALE_TIMESTAMP|PLAINTEXT_DISABLED|MALFORMED_XML)$/;
    const queries = [
      '',
      'encrypt_type=aes',
      '%zz=%zz&timestamp=%&nonce=%%&msg_signature=%g0&encrypt_type=aes',
      'timestamp[]=1&nonce[]=2&msg_signature[]=3&encrypt_type[]=aes',
      `msg_signature=${'0'.repeat(40)}&${valid}`,
      `${valid.replace(/msg_signature=\w+/, `msg_signature=${'f'.repeat(40)}`)}&${'x'.repeat(8000)}=1`,
      `${valid.replace(/timestamp=\d+/, 'timestamp=')}`,
      `${valid.replace(/nonce=\d+/, 'nonce=%00%0d%0a')}`,
      '__proto__[x]=1&constructor=1&prototype=1',
      'timestamp=%F0%9F%92%A9&nonce=%E2%80%AE&msg_signature=%C0%AE&encrypt_type=aes',
      '&&&==&=&',
      `${'a=1&'.repeat(2000)}`,
    ];
    for (const query of queries) {
      const [rows, marks] = [await inboxRows(), await replayMarks()];
      const answer = await real.fetch(`${authPath(a.id)}?${query}`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body: push.body });
      expect({ query: query.slice(0, 60), status: answer.status >= 400 && answer.status < 500, text: documented.test(answer.text) }).toEqual({
        query: query.slice(0, 60),
        status: true,
        text: true,
      });
      expect([await inboxRows(), await replayMarks()]).toEqual([rows, marks]);
    }
  });

  it('refuses signed garbage timestamps as stale (401 STALE_TIMESTAMP)', async () => {
    for (const timestamp of ['NaN', '1e99', '-1', '0x10', ` ${Math.floor(Date.now() / 1000)}`, '9'.repeat(40), '']) {
      const push = wechatPush(a.keys, ticketXml(a.keys.componentAppId), { timestamp });
      await expectRefused(() => postPush(real, authPath(a.id), push), 401, timestamp === '' ? /^(STALE_TIMESTAMP|MISSING_SIGNATURE)$/ : 'STALE_TIMESTAMP');
    }
  });

  it('answers URLs it cannot decode without crashing, and keeps answering', async () => {
    // This test's own: the whole file's are checked once, at its end.
    const errorsBefore = processErrors.errors.length;
    const push = wechatPush(a.keys, ticketXml(a.keys.componentAppId));
    await expectRefused(() => postPush(real, '/webhooks/wechat/%E0%A4%A/auth', push), 404, 'UNKNOWN_TENANT');
    await expectRefused(() => postPush(real, `/webhooks/wechat/${a.id}/events/%ZZ%`, push), 404, 'BAD_APP_ID_PATH');
    for (const line of ['POST http://[ HTTP/1.1', 'POST http://a:b:c/webhooks HTTP/1.1', 'GET http://x:99999/healthz HTTP/1.1']) {
      expect(await rawRequest(line, push.body)).toMatch(/^HTTP\/1\.1 4\d\d /);
    }
    expect((await real.fetch('/healthz')).status).toBe(200);
    expect(processErrors.errors.slice(errorsBefore)).toEqual([]);
  });
});

describe('the process', () => {
  it('saw no unhandled rejection or uncaught exception during any of this', () => {
    expect(processErrors.errors).toEqual([]);
  });
});
