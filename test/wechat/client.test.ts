import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withLogContext } from '../../src/lib/log-context.js';
import { createLogger, silentLogger } from '../../src/lib/logger.js';
import type { PgCredentialStore } from '../../src/services/credential-store.pg.js';
import type { CallInfo } from '../../src/wechat/client/http.js';
import { createWechatClient } from '../../src/wechat/client/wechat-client.js';
import { WechatError } from '../../src/wechat/errors.js';
import { SimulatorAdmin } from '../../src/wechat/simulator/admin-client.js';
import { type RunningSimulator, startSimulator } from '../../src/wechat/simulator/server.js';
import { createTestEnv, type TestEnv } from '../support/test-env.js';
import { createAuthorizer, createTenant, credentialStore, type TenantFixture } from './support/fixtures.js';

let sim: RunningSimulator;
let admin: SimulatorAdmin;
let tenant: TenantFixture;
let env: TestEnv;
let store: PgCredentialStore;

beforeAll(async () => {
  env = await createTestEnv();
  store = credentialStore(env);
  sim = await startSimulator({ port: 0 });
  admin = new SimulatorAdmin(sim.url);
  tenant = await createTenant(admin, env);
});

afterAll(async () => {
  await env?.cleanup();
  await sim.stop();
});

async function thrown(promise: Promise<unknown>): Promise<WechatError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WechatError);
  return error as WechatError;
}

function componentToken(client: ReturnType<typeof createWechatClient>, ticket = tenant.ticket) {
  return client.componentToken({ componentAppId: tenant.componentAppId, componentAppSecret: tenant.componentAppSecret, ticket });
}

describe('WechatClient', () => {
  it('speaks the component and authorizer endpoints with typed results and latency', async () => {
    const client = createWechatClient({ baseUrl: sim.url, logger: silentLogger });
    const component = await componentToken(client);
    expect(component.expiresIn).toBe(7200);
    expect(component.latencyMs).toBeGreaterThan(0);

    const pre = await client.createPreAuthCode(component.componentAccessToken, tenant.componentAppId);
    expect(pre.preAuthCode).toMatch(/^preauthcode@@@/);
    expect(pre.expiresIn).toBe(600);

    const appId = await createAuthorizer(admin, env, tenant);
    const refreshToken = (await store.getAuthorizerRefreshToken(tenant.tenantId, appId)) ?? '';
    const authorizer = await client.authorizerToken(component.componentAccessToken, {
      componentAppId: tenant.componentAppId,
      authorizerAppId: appId,
      authorizerRefreshToken: refreshToken,
    });
    expect(authorizer.authorizerRefreshToken).toBe(refreshToken);

    const info = await client.getAuthorizerInfo(component.componentAccessToken, tenant.componentAppId, appId);
    expect(info).toMatchObject({ authorizerAppId: appId, permissionSets: [52] });
    expect(info.userName).toMatch(/^gh_/);

    const applied = await client.applyLiveInfo(authorizer.authorizerAccessToken);
    expect(applied).toMatchObject({ outcome: 'SUBMITTED', errcode: 0 });

    const quota = await client.getApiQuota(authorizer.authorizerAccessToken, '/wxa/business/applyliveinfo');
    expect(quota).toMatchObject({ dailyLimit: 100, used: 1, remain: 99 });
  });

  it('returns errcode 2 from applyliveinfo as a business result, not an exception', async () => {
    const client = createWechatClient({ baseUrl: sim.url, logger: silentLogger });
    const appId = await createAuthorizer(admin, env, tenant);
    await admin.setScenario(appId, { kind: 'not_paid' });
    const token = sim.state.issueToken('authorizer', tenant.componentAppId, appId).token;
    const result = await client.applyLiveInfo(token);
    expect(result).toMatchObject({ outcome: 'NOT_PAID', errcode: 2 });
    expect(result.errmsg).not.toBe('');
  });

  it('throws other errcodes as WechatError with the class, errmsg and latency', async () => {
    const client = createWechatClient({ baseUrl: sim.url, logger: silentLogger });
    const error = await thrown(componentToken(client, 'ticket@@@stale'));
    expect(error).toMatchObject({ code: 'WECHAT_ERRCODE', errcode: 61006, errorClass: 'CREDENTIAL', endpoint: 'api_component_token' });
    expect(error.latencyMs).toBeGreaterThan(0);

    const expired = await thrown(client.applyLiveInfo('atk_never_issued'));
    expect(expired).toMatchObject({ errcode: 40001, errorClass: 'PERMANENT', isTokenError: true });
  });

  it('turns HTTP 5xx, timeouts and network failures into RETRYABLE errors', async () => {
    const appId = await createAuthorizer(admin, env, tenant);
    const token = sim.state.issueToken('authorizer', tenant.componentAppId, appId).token;
    const client = createWechatClient({ baseUrl: sim.url, logger: silentLogger, timeoutMs: 100 });

    await admin.setScenario(appId, { kind: 'http500' });
    expect(await thrown(client.applyLiveInfo(token))).toMatchObject({ code: 'WECHAT_HTTP_5XX', httpStatus: 500, errorClass: 'RETRYABLE' });

    await admin.setScenario(appId, { kind: 'slow', delayMs: 400, inner: { kind: 'accept' } });
    const timeout = await thrown(client.applyLiveInfo(token));
    expect(timeout).toMatchObject({ code: 'WECHAT_TIMEOUT', errorClass: 'RETRYABLE', errcode: null });
    expect(timeout.latencyMs).toBeGreaterThanOrEqual(90);

    const closed = await startSimulator({ port: 0 });
    await closed.stop();
    const offline = createWechatClient({ baseUrl: closed.url, logger: silentLogger });
    expect(await thrown(offline.applyLiveInfo(token))).toMatchObject({ code: 'WECHAT_NETWORK', errorClass: 'RETRYABLE' });
  });

  it('reports every call to the onCall hook and logs it without secrets', async () => {
    const calls: CallInfo[] = [];
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const client = createWechatClient({
      baseUrl: sim.url,
      logger: createLogger({ level: 'debug' }, sink),
      onCall: (info) => calls.push(info),
    });
    const { componentAccessToken } = await componentToken(client);
    await thrown(componentToken(client, 'ticket@@@stale'));

    expect(calls).toEqual([
      { endpoint: 'api_component_token', errcode: 0, latencyMs: expect.any(Number), outcome: 'ok' },
      { endpoint: 'api_component_token', errcode: 61006, latencyMs: expect.any(Number), outcome: 'errcode' },
    ]);
    const log = lines.join('');
    expect(log).toContain(tenant.componentAppId);
    for (const secret of [tenant.componentAppSecret, tenant.ticket, componentAccessToken]) expect(log).not.toContain(secret);
  });

  it('names the request or job a call served when its caller set a log context', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const client = createWechatClient({ baseUrl: sim.url, logger: createLogger({ level: 'debug' }, sink) });
    await withLogContext({ requestId: 'req-42', tenantId: 'tenant-7' }, () => componentToken(client));
    await componentToken(client);
    const [inRequest, outside] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(inRequest).toMatchObject({ msg: 'wechat call', requestId: 'req-42', tenantId: 'tenant-7' });
    expect(outside).toMatchObject({ msg: 'wechat call' });
    expect(outside).not.toHaveProperty('requestId');
  });
});
