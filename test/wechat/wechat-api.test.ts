import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PgCredentialStore } from '../../src/services/credential-store.pg.js';
import type { CallInfo } from '../../src/wechat/client/http.js';
import { WechatError } from '../../src/wechat/errors.js';
import { SimulatorAdmin } from '../../src/wechat/simulator/admin-client.js';
import { type RunningSimulator, startSimulator } from '../../src/wechat/simulator/server.js';
import { componentLoginPageUrl, createWechatApi, type WechatApi } from '../../src/wechat/wechat-api.js';
import { createTestEnv, type TestEnv } from '../support/test-env.js';
import { createAuthorizer, createTenant, credentialStore, importAuthorizer, randomAppId, type TenantFixture } from './support/fixtures.js';
import { connectRedis, deleteKeys, testPrefix } from './support/redis.js';

const prefix = testPrefix();
let env: TestEnv;
let store: PgCredentialStore;
const calls: CallInfo[] = [];
let sim: RunningSimulator;
let admin: SimulatorAdmin;
let redis: Redis;
let api: WechatApi;
let tenant: TenantFixture;

beforeAll(async () => {
  env = await createTestEnv();
  store = credentialStore(env);
  sim = await startSimulator({ port: 0 });
  admin = new SimulatorAdmin(sim.url);
  redis = connectRedis();
  api = createWechatApi({ baseUrl: sim.url, timeoutMs: 2000, redis, prefix, store, onCall: (info) => calls.push(info) });
  tenant = await createTenant(admin, env);
});

afterAll(async () => {
  await env?.cleanup();
  await deleteKeys(redis, prefix);
  await redis.quit();
  await sim.stop();
});

async function countOf(endpoint: 'applyliveinfo' | 'api_authorizer_token' | 'api_component_token', appId: string): Promise<number> {
  return (await admin.counters()).calls[endpoint]?.byAppId[appId] ?? 0;
}

async function failure(promise: Promise<unknown>): Promise<WechatError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WechatError);
  return error as WechatError;
}

describe('createWechatApi', () => {
  it('applies for live and returns errcode 0 with its latency', async () => {
    const appId = await createAuthorizer(admin, env, tenant);
    const result = await api.applyLive(tenant.tenantId, appId);
    expect(result).toMatchObject({ outcome: 'SUBMITTED', errcode: 0, errmsg: 'ok' });
    expect(result.latencyMs).toBeGreaterThan(0);
    expect(calls.some((c) => c.endpoint === 'applyliveinfo' && c.errcode === 0)).toBe(true);
  });

  it('returns errcode 2 (not paid in 90 days) as a result for the caller to classify', async () => {
    const appId = await createAuthorizer(admin, env, tenant);
    await admin.setScenario(appId, { kind: 'not_paid' });
    await expect(api.applyLive(tenant.tenantId, appId)).resolves.toMatchObject({ outcome: 'NOT_PAID', errcode: 2 });
  });

  it('refreshes once and retries once when WeChat answers 40001 for a cached token', async () => {
    const appId = await createAuthorizer(admin, env, tenant);
    await api.applyLive(tenant.tenantId, appId);
    await admin.invalidateTokens({ appId });
    const before = calls.length;

    await expect(api.applyLive(tenant.tenantId, appId)).resolves.toMatchObject({ errcode: 0 });
    expect(calls.slice(before).map((c) => `${c.endpoint} ${c.errcode}`)).toEqual(['applyliveinfo 40001', 'api_authorizer_token 0', 'applyliveinfo 0']);
    // WeChat cannot tell whose token it rejected, so the simulator counts only the first and the retry.
    expect(await countOf('applyliveinfo', appId)).toBe(2);
    expect(await countOf('api_authorizer_token', appId)).toBe(2);
  });

  it('surfaces a second 40001 instead of looping', async () => {
    const appId = await createAuthorizer(admin, env, tenant);
    await admin.setScenario(appId, { kind: 'errcode', errcode: 40001, times: 2 });

    const error = await failure(api.applyLive(tenant.tenantId, appId));
    expect(error).toMatchObject({ code: 'WECHAT_ERRCODE', errcode: 40001, errorClass: 'PERMANENT', reason: 'REAUTHORIZE_REQUIRED', endpoint: 'applyliveinfo' });
    expect(error.latencyMs).toBeGreaterThan(0);
    expect(await countOf('applyliveinfo', appId)).toBe(2);
    expect(await countOf('api_authorizer_token', appId)).toBe(2);
    // The scenario is spent: the next call goes through on the token refreshed last time.
    await expect(api.applyLive(tenant.tenantId, appId)).resolves.toMatchObject({ errcode: 0 });
  });

  it.each([
    [{ kind: 'busy', times: 'forever' } as const, -1, 'RETRYABLE'],
    [{ kind: 'errcode', errcode: 45011 } as const, 45011, 'RETRYABLE'],
    [{ kind: 'no_permission' } as const, 61007, 'PERMANENT'],
    [{ kind: 'errcode', errcode: 61003 } as const, 61003, 'PERMANENT'],
    [{ kind: 'errcode', errcode: 99999, errmsg: 'brand new' } as const, 99999, 'PERMANENT'],
  ])('throws scenario %o as errcode %i of class %s', async (scenario, errcode, errorClass) => {
    const appId = await createAuthorizer(admin, env, tenant);
    await admin.setScenario(appId, scenario);
    expect(await failure(api.applyLive(tenant.tenantId, appId))).toMatchObject({ errcode, errorClass });
  });

  it('answers 61007 for an authorizer without permission set 52', async () => {
    const appId = await createAuthorizer(admin, env, tenant, { funcInfo: [1, 17] });
    expect(await failure(api.applyLive(tenant.tenantId, appId))).toMatchObject({ errcode: 61007, errorClass: 'PERMANENT' });
  });

  it('classifies the 45009 after the daily quota as QUOTA and reports the quota', async () => {
    const appId = await createAuthorizer(admin, env, tenant);
    await admin.updateSettings({ applyLiveDailyLimit: 2 });
    try {
      await api.applyLive(tenant.tenantId, appId);
      await api.applyLive(tenant.tenantId, appId);
      expect(await failure(api.applyLive(tenant.tenantId, appId))).toMatchObject({ errcode: 45009, errorClass: 'QUOTA' });
      await expect(api.getApplyLiveQuota(tenant.tenantId, appId)).resolves.toMatchObject({ dailyLimit: 2, used: 2, remain: 0 });
    } finally {
      await admin.updateSettings({ applyLiveDailyLimit: 100 });
    }
  });

  it('runs the authorization flow: pre-auth code, login page, code exchange, authorizer info', async () => {
    const pre = await api.createPreAuthCode(tenant.tenantId);
    expect(pre.componentAppId).toBe(tenant.componentAppId);
    const url = new URL(api.componentLoginPageUrl(pre.componentAppId, pre.preAuthCode, 'https://console.example/cb?x=1'));
    expect(url.searchParams.get('pre_auth_code')).toBe(pre.preAuthCode);
    expect(url.searchParams.get('redirect_uri')).toBe('https://console.example/cb?x=1');

    const appId = randomAppId();
    const { authorizationCode } = await admin.createAuthCode({ componentAppId: tenant.componentAppId, appId, funcInfo: [52, 3] });
    const info = await api.queryAuth(tenant.tenantId, authorizationCode);
    expect(info).toMatchObject({ authorizerAppId: appId, permissionSets: [52, 3], expiresIn: 7200 });
    // PgCredentialStore.saveAuthorizerRefreshToken only updates an existing authorizer row, so queryAuth
    // stores nothing for an app id seen for the first time (in the app, the webhook processor's
    // AuthorizersService.upsertAuthorized creates the row from this result afterwards).
    expect(await store.getAuthorizerRefreshToken(tenant.tenantId, appId)).toBeNull();

    // The access token that came with the authorization is used; no api_authorizer_token needed.
    await expect(api.applyLive(tenant.tenantId, appId)).resolves.toMatchObject({ errcode: 0 });
    expect(await countOf('api_authorizer_token', appId)).toBe(0);

    await expect(api.getAuthorizerInfo(tenant.tenantId, appId)).resolves.toMatchObject({ authorizerAppId: appId, permissionSets: [52, 3] });
    expect(await failure(api.queryAuth(tenant.tenantId, authorizationCode))).toMatchObject({ errcode: 61010, errorClass: 'PERMANENT' });
  });

  it('keeps the tokens of one Mini Program authorized to two tenants apart', async () => {
    const other = await createTenant(admin, env);
    const appId = randomAppId();
    for (const t of [tenant, other]) {
      const { refreshToken } = await admin.addAuthorizer({ componentAppId: t.componentAppId, appId });
      await importAuthorizer(env, t.tenantId, appId, refreshToken);
    }
    await api.applyLive(tenant.tenantId, appId);
    await api.applyLive(other.tenantId, appId);
    const tokenOwners = [...sim.state.tokens.values()].filter((t) => t.appId === appId).map((t) => t.componentAppId);
    expect(tokenOwners.sort()).toEqual([tenant.componentAppId, other.componentAppId].sort());
  });
});

describe('componentLoginPageUrl', () => {
  it('builds the Mini-Program-only login page URL, URL-encoded', () => {
    expect(componentLoginPageUrl('wx1234567890abcdef', 'preauthcode@@@a b', 'https://x.example/cb?t=1&u=2')).toBe(
      'https://mp.weixin.qq.com/cgi-bin/componentloginpage?component_appid=wx1234567890abcdef' +
        '&pre_auth_code=preauthcode%40%40%40a%20b&redirect_uri=https%3A%2F%2Fx.example%2Fcb%3Ft%3D1%26u%3D2&auth_type=2',
    );
  });
});
