import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/lib/logger.js';
import type { PgCredentialStore } from '../../src/services/credential-store.pg.js';
import { MsgCrypt, plainSignature } from '../../src/wechat/wire/msg-crypt.js';
import { parseEnvelope, parseMessage } from '../../src/webhooks/xml/events.js';
import { createWechatClient, type WechatClient } from '../../src/wechat/client/wechat-client.js';
import { WechatError } from '../../src/wechat/errors.js';
import { SimulatorAdmin, SimulatorAdminError } from '../../src/wechat/simulator/admin-client.js';
import { type RunningSimulator, startSimulator } from '../../src/wechat/simulator/server.js';
import { createTestEnv, expectEventually, type TestEnv } from '../support/test-env.js';
import { createAuthorizer, createTenant, credentialStore, type TenantFixture } from './support/fixtures.js';
import { type ReceivedPush, startPushReceiver } from './support/push-receiver.js';

let sim: RunningSimulator;
let admin: SimulatorAdmin;
let client: WechatClient;
let receiver: Awaited<ReturnType<typeof startPushReceiver>>;
let env: TestEnv;
let store: PgCredentialStore;

beforeAll(async () => {
  env = await createTestEnv();
  store = credentialStore(env);
  sim = await startSimulator({ port: 0 });
  admin = new SimulatorAdmin(sim.url);
  client = createWechatClient({ baseUrl: sim.url, logger: silentLogger });
  receiver = await startPushReceiver();
});

beforeEach(async () => {
  await admin.reset();
  receiver.received.length = 0;
});

afterAll(async () => {
  await env?.cleanup();
  await receiver.stop();
  await sim.stop();
});

/** An authorizer access token obtained the way the gateway does, over HTTP. */
async function authorizerToken(tenant: TenantFixture, appId: string): Promise<string> {
  const { componentAccessToken } = await client.componentToken({ ...tenant, ticket: tenant.ticket });
  const refreshToken = (await store.getAuthorizerRefreshToken(tenant.tenantId, appId)) ?? '';
  const result = await client.authorizerToken(componentAccessToken, {
    componentAppId: tenant.componentAppId,
    authorizerAppId: appId,
    authorizerRefreshToken: refreshToken,
  });
  return result.authorizerAccessToken;
}

async function errcodeOf(promise: Promise<unknown>): Promise<number | null> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WechatError);
  return (error as WechatError).errcode;
}

/** Verify a push as the gateway must: both signatures, then decrypt with the component's key. */
function openPush(push: ReceivedPush, tenant: TenantFixture): string {
  const crypt = new MsgCrypt({ token: tenant.token, encodingAesKey: tenant.encodingAesKey, appId: tenant.componentAppId });
  const timestamp = push.query.get('timestamp') ?? '';
  const nonce = push.query.get('nonce') ?? '';
  expect(push.query.get('encrypt_type')).toBe('aes');
  expect(push.query.get('signature')).toBe(plainSignature(tenant.token, timestamp, nonce));
  const envelope = parseEnvelope(push.body);
  return crypt.verifyAndDecrypt({ msgSignature: push.query.get('msg_signature') ?? '', timestamp, nonce, encrypt: envelope.encrypt });
}

describe('simulator quota', () => {
  it('answers 45009 on the 101st applyliveinfo of an app id and resets at 00:00 UTC+8', async () => {
    // 23:58 in China: two minutes before the quota day turns.
    await admin.setClock({ nowMs: Date.UTC(2026, 0, 15, 15, 58, 0) });
    const tenant = await createTenant(admin, env);
    const appId = await createAuthorizer(admin, env, tenant);
    const otherAppId = await createAuthorizer(admin, env, tenant);
    const token = await authorizerToken(tenant, appId);

    for (let i = 1; i <= 100; i++) expect((await client.applyLiveInfo(token)).errcode).toBe(0);
    expect(await errcodeOf(client.applyLiveInfo(token))).toBe(45009);
    expect(await errcodeOf(client.applyLiveInfo(token))).toBe(45009);
    await expect(client.getApiQuota(token, '/wxa/business/applyliveinfo')).resolves.toMatchObject({ dailyLimit: 100, used: 100, remain: 0 });
    // The quota is per app id.
    expect((await client.applyLiveInfo(await authorizerToken(tenant, otherAppId))).errcode).toBe(0);

    const moved = await admin.advanceClock(2 * 60_000);
    expect(moved.quotaDay).toBe('20260116');
    expect((await client.applyLiveInfo(token)).errcode).toBe(0);
    await expect(client.getApiQuota(token, '/wxa/business/applyliveinfo')).resolves.toMatchObject({ used: 1, remain: 99 });
    expect((await admin.counters()).calls.applyliveinfo?.byAppId[appId]).toBe(103);
  });

  it('counts busy answers against the quota and accepts after N of them', async () => {
    const tenant = await createTenant(admin, env);
    const appId = await createAuthorizer(admin, env, tenant);
    await admin.setScenario(appId, { kind: 'busy', times: 2 });
    const token = await authorizerToken(tenant, appId);
    expect(await errcodeOf(client.applyLiveInfo(token))).toBe(-1);
    expect(await errcodeOf(client.applyLiveInfo(token))).toBe(-1);
    expect((await client.applyLiveInfo(token)).errcode).toBe(0);
    await expect(client.getApiQuota(token, '/wxa/business/applyliveinfo')).resolves.toMatchObject({ used: 3 });
  });

  it('lets benchmarks raise the daily limit, and enforces the raised one', async () => {
    await admin.updateSettings({ applyLiveDailyLimit: 102 });
    await expect(admin.getSettings()).resolves.toMatchObject({ applyLiveDailyLimit: 102, tokenTtlSeconds: 7200 });
    const tenant = await createTenant(admin, env);
    const appId = await createAuthorizer(admin, env, tenant);
    const token = await authorizerToken(tenant, appId);

    // Past WeChat's own 100, up to the raised limit, and not one call further.
    for (let i = 1; i <= 102; i++) expect((await client.applyLiveInfo(token)).errcode).toBe(0);
    expect(await errcodeOf(client.applyLiveInfo(token))).toBe(45009);
    await expect(client.getApiQuota(token, '/wxa/business/applyliveinfo')).resolves.toMatchObject({ dailyLimit: 102, used: 102, remain: 0 });
  });
});

/** applyliveinfo over plain HTTP: WeChat's exact answer, whatever the typed client makes of it. */
async function applyLiveRaw(token: string): Promise<{ errcode: number; errmsg: string }> {
  const res = await fetch(`${sim.url}/wxa/business/applyliveinfo?access_token=${encodeURIComponent(token)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ action: 'apply' }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as { errcode: number; errmsg: string };
}

describe('simulator live grants', () => {
  it('answers 268489001 to every merchant while grants are paused, counted and spending quota, and accepts again once resumed', async () => {
    const tenant = await createTenant(admin, env);
    const [first, second] = [await createAuthorizer(admin, env, tenant), await createAuthorizer(admin, env, tenant)];
    // A merchant outcome of the business step is replaced by the pause, and keeps its count.
    await admin.setScenario(second, { kind: 'busy', times: 1 });
    const [firstToken, secondToken] = [await authorizerToken(tenant, first), await authorizerToken(tenant, second)];

    const paused = await admin.setLiveGrantsPaused(true);
    expect(paused).toEqual({ paused: true, errmsg: expect.stringMatching(/\S/) });
    await expect(admin.getLiveGrants()).resolves.toEqual(paused);
    for (const token of [firstToken, secondToken, firstToken]) expect(await applyLiveRaw(token)).toEqual({ errcode: 268489001, errmsg: paused.errmsg });
    await expect(admin.setLiveGrantsPaused(true, 'under maintenance')).resolves.toEqual({ paused: true, errmsg: 'under maintenance' });
    expect(await applyLiveRaw(secondToken)).toEqual({ errcode: 268489001, errmsg: 'under maintenance' });
    expect((await admin.counters()).calls.applyliveinfo?.byAppId).toEqual({ [first]: 2, [second]: 2 });
    await expect(client.getApiQuota(firstToken, '/wxa/business/applyliveinfo')).resolves.toMatchObject({ used: 2, remain: 98 });

    await expect(admin.setLiveGrantsPaused(false)).resolves.toMatchObject({ paused: false });
    expect(await applyLiveRaw(firstToken)).toEqual({ errcode: 0, errmsg: 'ok', action: 'apply' });
    expect(await applyLiveRaw(secondToken)).toMatchObject({ errcode: -1 });
    expect(await applyLiveRaw(secondToken)).toMatchObject({ errcode: 0 });
    expect((await admin.counters()).calls.applyliveinfo?.byAppId).toEqual({ [first]: 3, [second]: 4 });
    await expect(client.getApiQuota(secondToken, '/wxa/business/applyliveinfo')).resolves.toMatchObject({ used: 4 });
  });

  it('answers 45009 once the quota is spent and lets earlier-step scenarios answer first while paused', async () => {
    await admin.updateSettings({ applyLiveDailyLimit: 2 });
    const tenant = await createTenant(admin, env);
    const [spent, unpermitted] = [await createAuthorizer(admin, env, tenant), await createAuthorizer(admin, env, tenant, { funcInfo: [1] })];
    await admin.setLiveGrantsPaused(true);
    const token = await authorizerToken(tenant, spent);
    expect((await applyLiveRaw(token)).errcode).toBe(268489001);
    expect((await applyLiveRaw(token)).errcode).toBe(268489001);
    expect((await applyLiveRaw(token)).errcode).toBe(45009);
    expect((await applyLiveRaw(await authorizerToken(tenant, unpermitted))).errcode).toBe(61007);
  });

  it('resumes grants on reset', async () => {
    await admin.setLiveGrantsPaused(true, 'under maintenance');
    await admin.reset();
    await expect(admin.getLiveGrants()).resolves.toMatchObject({ paused: false });
  });

  it('rejects a live-grants call without paused with 400', async () => {
    const error = await admin.setLiveGrantsPaused(undefined as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SimulatorAdminError);
    expect(error).toMatchObject({ status: 400 });
  });
});

describe('simulator tokens', () => {
  it('rejects unknown tokens with 40001 and expired ones with 42001, by its own clock', async () => {
    const tenant = await createTenant(admin, env);
    const appId = await createAuthorizer(admin, env, tenant);
    const token = await authorizerToken(tenant, appId);
    expect(await errcodeOf(client.applyLiveInfo('atk_made_up'))).toBe(40001);

    await admin.advanceClock(7200 * 1000);
    expect(await errcodeOf(client.applyLiveInfo(token))).toBe(42001);
  });

  it('invalidates tokens on request, so their next use answers 40001', async () => {
    const tenant = await createTenant(admin, env);
    const appId = await createAuthorizer(admin, env, tenant);
    const token = await authorizerToken(tenant, appId);
    await expect(admin.invalidateTokens({ kind: 'authorizer', appId })).resolves.toEqual({ invalidated: 1 });
    expect(await errcodeOf(client.applyLiveInfo(token))).toBe(40001);
  });

  it('validates the verify ticket (61006) and the refresh token (61023)', async () => {
    const tenant = await createTenant(admin, env);
    const appId = await createAuthorizer(admin, env, tenant);
    expect(await errcodeOf(client.componentToken({ ...tenant, ticket: 'ticket@@@old' }))).toBe(61006);
    const { componentAccessToken } = await client.componentToken(tenant);
    const input = { componentAppId: tenant.componentAppId, authorizerAppId: appId, authorizerRefreshToken: 'refreshtoken@@@bad' };
    expect(await errcodeOf(client.authorizerToken(componentAccessToken, input))).toBe(61023);
  });
});

describe('simulator pushes', () => {
  async function pushingTenant(): Promise<TenantFixture> {
    return createTenant(admin, env, { authUrl: `${receiver.url}/auth`, messageUrlTemplate: `${receiver.url}/events/$APPID$` });
  }

  it('pushes an encrypted component_verify_ticket that verifies and decrypts with MsgCrypt', async () => {
    const tenant = await pushingTenant();
    const { ticket, push } = await admin.issueTicket({ componentAppId: tenant.componentAppId });
    expect(push).toMatchObject({ kind: 'component_verify_ticket', status: 200, body: 'success' });

    const [received] = receiver.received;
    expect(received?.path).toBe('/auth');
    expect(parseEnvelope(received?.body ?? '').appId).toBe(tenant.componentAppId);
    const message = parseMessage(openPush(received as ReceivedPush, tenant));
    expect(message).toMatchObject({ kind: 'component_verify_ticket', appId: tenant.componentAppId, ticket });
    // The new ticket is the one api_component_token accepts now.
    expect(await errcodeOf(client.componentToken(tenant))).toBe(61006);
    await expect(client.componentToken({ ...tenant, ticket })).resolves.toMatchObject({ expiresIn: 7200 });
  });

  it('pushes authorized with the authorization code it created', async () => {
    const tenant = await pushingTenant();
    const { authorizationCode } = await admin.createAuthCode({ componentAppId: tenant.componentAppId, appId: 'wx00000000000000aa', push: true });
    const message = parseMessage(openPush(receiver.received[0] as ReceivedPush, tenant));
    expect(message).toMatchObject({ kind: 'authorized', authorizerAppId: 'wx00000000000000aa', authorizationCode });
  });

  it('pushes wxa_live_apply_event to the app’s message URL openAfterMs after an accepted apply', async () => {
    const tenant = await pushingTenant();
    const appId = await createAuthorizer(admin, env, tenant);
    const silentAppId = await createAuthorizer(admin, env, tenant);
    await admin.setBehaviour({ appId, openAfterMs: 30 });
    await client.applyLiveInfo(await authorizerToken(tenant, silentAppId)); // openAfterMs null: stays SUBMITTED
    await client.applyLiveInfo(await authorizerToken(tenant, appId));

    const received = await expectEventually(() => {
      expect(receiver.received).toHaveLength(1);
      return receiver.received[0] as ReceivedPush;
    });
    expect(received.path).toBe(`/events/${appId}`);
    const envelope = parseEnvelope(received.body);
    const message = parseMessage(openPush(received, tenant));
    expect(message).toMatchObject({ kind: 'wxa_live_apply_event', appid: appId, toUserName: envelope.toUserName });
    const counters = await admin.counters();
    expect(counters.pushes).toMatchObject({ sent: 1, failed: 0, byStatus: { 200: 1 } });
  });

  it('pushes a customer text message to the app’s message URL, each with its own MsgId', async () => {
    const tenant = await pushingTenant();
    const appId = await createAuthorizer(admin, env, tenant);
    const first = await admin.pushMessage({ appId, content: '你好 ]]> <b>', fromUserName: 'o_customer_1' });
    await admin.pushMessage({ appId });
    expect(first).toMatchObject({ kind: 'text', appId, status: 200 });

    const [a, b] = receiver.received.map((r) => {
      expect(r.path).toBe(`/events/${appId}`);
      return parseMessage(openPush(r, tenant));
    });
    expect(a).toMatchObject({
      kind: 'unknown',
      msgType: 'text',
      fromUserName: 'o_customer_1',
      toUserName: parseEnvelope(receiver.received[0]?.body ?? '').toUserName,
    });
    expect(b).toMatchObject({ msgType: 'text', fromUserName: 'o_customer_sim' });
    expect(a?.kind === 'unknown' && b?.kind === 'unknown' && a.msgId !== undefined && a.msgId !== b.msgId).toBe(true);
    await expect(admin.pushMessage({ appId: 'wx0000000000000404' })).rejects.toMatchObject({ status: 404 });
  });

  it('records pushes that fail to reach the receiver', async () => {
    const tenant = await createTenant(admin, env, { authUrl: 'http://127.0.0.1:9/auth' });
    const { push } = await admin.issueTicket({ componentAppId: tenant.componentAppId });
    expect(push).toMatchObject({ status: null, error: expect.any(String) });
    expect((await admin.counters()).pushes).toMatchObject({ sent: 1, failed: 1 });
  });
});

describe('simulator admin', () => {
  it('rejects an invalid scenario with 400', async () => {
    const error = await admin.setBehaviour({ appId: 'wx1', scenario: { kind: 'busy' } as never }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SimulatorAdminError);
    expect(error).toMatchObject({ status: 400 });
  });

  it('counts calls per endpoint and app id, and resets the counters', async () => {
    const tenant = await createTenant(admin, env);
    await client.componentToken(tenant);
    expect((await admin.counters()).calls.api_component_token).toEqual({ total: 1, byAppId: { [tenant.componentAppId]: 1 }, abandonedByAppId: {} });
    await admin.resetCounters();
    expect((await admin.counters()).calls).toEqual({});
  });
});
