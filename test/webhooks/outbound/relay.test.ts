import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, createApp } from '../../../src/app/create-app.js';
import { ManualClock } from '../../../src/lib/clock.js';
import { createTenantWithMerchants } from '../../support/fixtures.js';
import { createTestEnv, expectEventually, type TestEnv } from '../../support/test-env.js';
import { signedPush } from '../webhook-harness.js';
import { Receiver } from './support/receiver.js';
import { verifyAndDecrypt } from './support/wechat-verifier.js';

let env: TestEnv;
let app: App;
let receiver: Receiver;
const clock = new ManualClock(Date.now());
let serial = 1000;

async function tenantWithRelays(endpoints: { path: string; events: string[] | null }[]) {
  const t = await createTenantWithMerchants(env.database.db, env.box, 1);
  const ids: string[] = [];
  for (const e of endpoints) {
    const created = await app.services.webhookEndpoints.create(t.ctx, { url: `${receiver.url}${e.path}`, kind: 'RELAY', events: e.events });
    expect(created.userErrors).toEqual([]);
    ids.push(created.endpoint?.id as string);
  }
  return { ...t, endpointIds: ids };
}

function messageXml(appId: string, msgType: string, extra: string): string {
  serial += 1;
  return `<xml><ToUserName><![CDATA[gh_${appId.slice(2, 12)}]]></ToUserName><FromUserName><![CDATA[o_user_${serial}]]></FromUserName><CreateTime>${Math.floor(clock.now() / 1000)}</CreateTime><MsgType><![CDATA[${msgType}]]></MsgType>${extra}<MsgId>${serial}</MsgId></xml>`;
}

async function push(t: Awaited<ReturnType<typeof tenantWithRelays>>, xml: string, { forge = false } = {}) {
  const appId = t.appIds[0] as string;
  const signed = signedPush(t.input, xml, clock, { head: { toUserName: `gh_${appId.slice(2, 12)}` } });
  if (forge) signed.query.set('msg_signature', '0'.repeat(40));
  const target = `/webhooks/wechat/${t.tenant.id}/events/${appId}?${signed.query.toString()}`;
  const res = await fetch(`${app.url}${target}`, { method: 'POST', headers: { 'content-type': 'text/xml;charset=utf-8' }, body: signed.body });
  return { status: res.status, text: await res.text(), query: signed.query.toString(), body: signed.body };
}

beforeAll(async () => {
  env = await createTestEnv();
  receiver = await new Receiver().start();
  app = await createApp(env.config({ WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true', WECHAT_API_BASE: 'http://127.0.0.1:9' }), { clock });
});

afterAll(async () => {
  // The receiver first: it ends the hanging requests, so the deliveries in flight end at once.
  await receiver?.stop();
  await app?.stop();
  await env?.cleanup();
});

describe('RELAY endpoints', () => {
  it("forwards a verified push verbatim (method, query string, body bytes, content type), so the provider's own WXBizMsgCrypt accepts it", async () => {
    const a = await tenantWithRelays([
      { path: '/a/text', events: ['text'] },
      { path: '/a/audit', events: ['weapp_audit_success'] },
    ]);
    const b = await tenantWithRelays([{ path: '/b/all', events: null }]);
    const xml = messageXml(a.appIds[0] as string, 'text', '<Content><![CDATA[你好, relay]]></Content>');
    const sent = await push(a, xml);
    expect(sent).toMatchObject({ status: 200, text: 'success' });

    const [got] = await expectEventually(() => {
      expect(receiver.at('/a/text')).toHaveLength(1);
      return receiver.at('/a/text');
    });
    expect(got?.method).toBe('POST');
    expect(got?.target).toBe(`/a/text?${sent.query}`);
    expect(got?.body.equals(Buffer.from(sent.body, 'utf8'))).toBe(true);
    expect(got?.headers['content-type']).toBe('text/xml;charset=utf-8');
    expect(got?.headers['webhook-id']).toMatch(/^[0-9a-f-]{36}$/);
    // The receiving side checks WeChat's signature and decrypts, knowing nothing of the gateway.
    const opened = verifyAndDecrypt(a.input, got?.target ?? '', got?.body.toString('utf8') ?? '');
    expect(opened).toEqual({ xml, receiveId: a.input.componentAppId });

    // An event type the first endpoint does not filter for goes to the one that does.
    const audit = messageXml(a.appIds[0] as string, 'event', '<Event><![CDATA[weapp_audit_success]]></Event><SuccTime>1</SuccTime>');
    expect((await push(a, audit)).status).toBe(200);
    await expectEventually(() => expect(receiver.at('/a/audit')).toHaveLength(1));
    expect(verifyAndDecrypt(a.input, receiver.at('/a/audit')[0]?.target ?? '', receiver.at('/a/audit')[0]?.body.toString('utf8') ?? '').xml).toBe(audit);
    expect(receiver.at('/a/text')).toHaveLength(1);

    // B's own push reaches B; nothing of A's ever did.
    expect((await push(b, messageXml(b.appIds[0] as string, 'text', '<Content>b</Content>'))).status).toBe(200);
    await expectEventually(() => expect(receiver.at('/b/all')).toHaveLength(1));
    expect(verifyAndDecrypt(b.input, receiver.at('/b/all')[0]?.target ?? '', receiver.at('/b/all')[0]?.body.toString('utf8') ?? '').receiveId).toBe(
      b.input.componentAppId,
    );
  });

  it('relays only pushes that verified, and a redelivered push once', async () => {
    const a = await tenantWithRelays([{ path: '/only', events: null }]);
    const forged = await push(a, messageXml(a.appIds[0] as string, 'text', '<Content>forged</Content>'), { forge: true });
    expect(forged.status).toBe(401);
    const xml = messageXml(a.appIds[0] as string, 'text', '<Content>real</Content>');
    const real = await push(a, xml);
    expect(real.status).toBe(200);
    // WeChat sending the same message again (same MsgId) is stored once, so relayed once.
    const again = await push(a, xml);
    expect(again.status).toBe(200);
    const sentinel = await push(a, messageXml(a.appIds[0] as string, 'text', '<Content>sentinel</Content>'));
    expect(sentinel.status).toBe(200);
    await expectEventually(() => expect(receiver.at('/only')).toHaveLength(2));
    const texts = receiver.at('/only').map((r) => verifyAndDecrypt(a.input, r.target, r.body.toString('utf8')).xml);
    expect(texts.some((t) => t.includes('forged'))).toBe(false);
    expect(texts.filter((t) => t === xml)).toHaveLength(1);
  });

  it("keeps one tenant's hanging RELAY endpoint from delaying another tenant's relayed pushes (direct delivery in ROLE=all)", async () => {
    const slow = await tenantWithRelays([{ path: '/relay-hang', events: null }]);
    receiver.hang('/relay-hang');
    const fast = await tenantWithRelays([{ path: '/relay-fast', events: null }]);
    for (let n = 0; n < 12; n++) expect((await push(slow, messageXml(slow.appIds[0] as string, 'text', `<Content>slow ${n}</Content>`))).status).toBe(200);
    await expectEventually(() => expect(receiver.at('/relay-hang').length).toBeGreaterThanOrEqual(4));
    expect((await push(fast, messageXml(fast.appIds[0] as string, 'text', '<Content>fast</Content>'))).status).toBe(200);
    await expectEventually(() => expect(receiver.at('/relay-fast')).toHaveLength(1));
    // The hanging endpoint holds its 4 direct slots (and at most the worker's 4, should the sweep
    // have queued its waiting pushes meanwhile); none of them has timed out, so the other tenant's
    // push did not wait for them.
    expect(receiver.at('/relay-hang').length).toBeLessThanOrEqual(8);
  });
});
